import type { Job } from '../job/job';

/**
 * The local work of small downloaded files done behind the wire while the next records are read: each
 * file is written to its temporary (a few at a time: the file system's latency overlaps instead of adding
 * up), then placed and reported strictly in the order the files arrived. What is queued is bounded (files
 * and bytes). The first failure in that order is the job's error: no file after it is placed (their
 * temporaries stay with the caller's PlacementSet, which removes them), as if the job had stopped there.
 * Once the job is stopped (abort, deadline) nothing more is placed.
 */
export class PlaceLater {
  /** the placement of the newest queued file (each waits for the one before it) */
  private tail: Promise<void> = Promise.resolve();
  /** queued files, oldest first; each leaves when it was placed (or given up) */
  private readonly queued: { bytes: number; done: Promise<void> }[] = [];
  private queuedBytes = 0;
  /** the writes of the newest files, at most `concurrency` */
  private readonly writing: Promise<unknown>[] = [];
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly job: Pick<Job, 'signal' | 'stopError'>,
    private readonly concurrency: number,
    private readonly maxFiles: number,
    private readonly maxBytes: number,
  ) {}

  /** Throws the failure of a file queued so far, if one failed. */
  check(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }

  /**
   * Queues a file: `write` starts once fewer than `concurrency` writes run and resolves with what places
   * it, which runs after the files queued before it were placed. Waits while too much is queued.
   */
  async add(bytes: number, write: () => Promise<() => Promise<void>>): Promise<void> {
    this.check();
    const turn = this.writing.length < this.concurrency ? Promise.resolve() : this.writing[this.writing.length - this.concurrency];
    const written = turn.then(async () => (this.goesOn() ? { place: await write() } : undefined)).catch((error: unknown) => ({ error }));
    this.writing.push(written);
    if (this.writing.length > this.concurrency) this.writing.shift();
    const done = Promise.all([this.tail, written]).then(async ([, outcome]) => {
      try {
        if (!this.goesOn() || outcome === undefined) return;
        if ('error' in outcome) throw outcome.error;
        await outcome.place();
      } catch (error) {
        this.failure ??= { error };
      } finally {
        this.queuedBytes -= this.queued.shift()?.bytes ?? 0;
      }
    });
    this.tail = done;
    this.queued.push({ bytes, done });
    this.queuedBytes += bytes;
    while (this.queued.length > this.maxFiles || this.queuedBytes > this.maxBytes) await this.queued[0].done;
    this.check();
  }

  /** False after a failure, and once the job was stopped (which is then the failure). */
  private goesOn(): boolean {
    if (this.failure === undefined && this.job.signal.aborted) this.failure = { error: this.job.stopError() };
    return this.failure === undefined;
  }

  /** Waits until every queued file was placed (or given up); throws the first failure. */
  async drain(): Promise<void> {
    await this.tail;
    this.check();
  }

  /** Waits until every queued file was placed (or given up) and every write ended; returns the first failure. */
  async settle(): Promise<{ error: unknown } | undefined> {
    await this.tail;
    return this.failure;
  }
}
