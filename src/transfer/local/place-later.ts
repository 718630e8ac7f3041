/**
 * The local work of placing small downloaded files (create the temporary, write, mode, rename into place)
 * done one file after another behind the wire, in the order the files arrived, while the next records are
 * already read: the file system's latency then overlaps the transfer instead of adding to every file.
 * What is queued is bounded (files and bytes). The first failure stops every placement queued after it
 * (those files never appear, as if the job had stopped there) and is the job's error.
 */
export class PlaceLater {
  private tail: Promise<void> = Promise.resolve();
  /** queued placements, oldest first; each removes itself when it ends (they end in order) */
  private readonly queued: { bytes: number; done: Promise<void> }[] = [];
  private queuedBytes = 0;
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly maxFiles: number,
    private readonly maxBytes: number,
  ) {}

  /** Throws the failure of a placement done so far, if one failed. */
  check(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }

  /** Queues `place` after the placements before it; waits while too much is queued. */
  async add(bytes: number, place: () => Promise<void>): Promise<void> {
    this.check();
    const done = this.tail.then(async () => {
      try {
        if (this.failure === undefined) await place();
      } catch (error) {
        this.failure = { error };
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

  /** Waits until every queued placement has ended; throws the first failure. */
  async drain(): Promise<void> {
    await this.tail;
    this.check();
  }

  /** Waits until every queued placement has ended; returns the first failure instead of throwing it. */
  async settle(): Promise<{ error: unknown } | undefined> {
    await this.tail;
    return this.failure;
  }
}
