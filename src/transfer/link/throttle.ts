/**
 * The bandwidth limit (`limitKiBps`): a token bucket that holds at most a twentieth of a second of bytes,
 * so a transfer moves in small, evenly spaced pieces and never in a burst of the whole second. Bytes taken
 * beyond what is there become a debt paid by waiting, which keeps the long-run rate exact. One bucket per
 * job: every file of the job shares the limit, as `scp -l` limits the whole command.
 */
import type { Job } from '../job/job';

/** The bucket's size: this fraction of a second of bytes (and the largest piece handed out at once). */
const BUCKET_SECONDS = 1 / 20;
/** Pieces never get smaller than this, whatever the limit (a packet's worth of payload). */
const MIN_PIECE_BYTES = 1024;
/** Reads ahead never get smaller than this (a few requests' worth). */
const MIN_AHEAD_BYTES = 64 * 1024;

export class TokenBucket {
  /** the largest number of bytes to move before asking again */
  readonly piece: number;
  /**
   * how much a download may ask for ahead of the pace: a quarter of a second, so that the link never carries
   * a burst of a whole read window, yet a high round-trip time still leaves requests enough in flight
   */
  readonly ahead: number;
  private tokens: number;
  private last = performance.now();

  constructor(readonly bytesPerSecond: number) {
    this.piece = Math.max(MIN_PIECE_BYTES, Math.floor(bytesPerSecond * BUCKET_SECONDS));
    this.tokens = this.piece;
    this.ahead = Math.max(MIN_AHEAD_BYTES, Math.floor(bytesPerSecond / 4));
  }

  /** Resolves once `n` bytes (at most `piece`) may go; rejects with the job's error when it stops. */
  take(n: number, job: Job): Promise<void> {
    const now = performance.now();
    this.tokens = Math.min(this.piece, this.tokens + ((now - this.last) * this.bytesPerSecond) / 1000);
    this.last = now;
    this.tokens -= n;
    if (this.tokens >= 0) return Promise.resolve();
    const waitMs = (-this.tokens * 1000) / this.bytesPerSecond;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(job.stopError());
      };
      const timer = setTimeout(() => {
        job.signal.removeEventListener('abort', onAbort);
        resolve();
      }, Math.ceil(waitMs));
      if (job.signal.aborted) onAbort();
      else job.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** The bucket for a limit in KiB/s, or undefined when there is none (the data path then stays as it is). */
export function bucketFor(limitKiBps: number | undefined): TokenBucket | undefined {
  return limitKiBps !== undefined && limitKiBps > 0 ? new TokenBucket(limitKiBps * 1024) : undefined;
}
