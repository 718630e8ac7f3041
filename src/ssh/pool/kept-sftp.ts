/**
 * The SFTP session a pooled connection keeps for small jobs: opened by the first job that asks for a shared
 * session, then lent to that job and to every later one (ssh2 pipelines their requests on the one channel),
 * so a small file costs requests on an open session instead of a channel open, a subsystem start (a process
 * the server forks) and the session's handshake. It holds one channel slot of its connection's budget for
 * as long as it lives.
 *
 * - At most `maxJobs` jobs use it at once; the others wait in the pool's queue.
 * - A job's `release()` only ends that job's use. Unused, the session idles out with its connection (or
 *   earlier, when another request needs its slot).
 * - When it fails (its channel closed or errored, the connection lost), every job using it hears of it
 *   through its lease's `onLost`, and the next job opens a new one. `discard()` (a request went unanswered)
 *   closes it at once: its jobs fail, later jobs get a fresh session.
 */
import type { SFTPWrapper } from 'ssh2';
import type { SftpLease } from '../types';
import type { ChannelSlot } from './channel-slot';

export interface KeptSftpOwner {
  /** a use ended: a waiting job may take its place, and an unused session may idle out */
  used(session: KeptSftp): void;
}

export class KeptSftp {
  /** jobs holding a lease on it now */
  jobs = 0;
  /** no new job may use it: it failed, is closing, or was discarded */
  private ended = false;

  constructor(
    readonly sftp: SFTPWrapper,
    private readonly slot: ChannelSlot,
    private readonly maxJobs: number,
    private readonly owner: KeptSftpOwner,
  ) {}

  /** Usable by one more job now. */
  get hasRoom(): boolean {
    return !this.ended && this.slot.connectionError() === undefined && this.jobs < this.maxJobs;
  }

  /** Open, and no job is using it. */
  get unused(): boolean {
    return !this.ended && this.jobs === 0;
  }

  /** A lease for one job; its release ends that job's use only (once, however often it is called). */
  lend(): SftpLease {
    this.jobs += 1;
    let released = false;
    const endUse = (): boolean => {
      if (released) return false;
      released = true;
      this.jobs -= 1;
      return true;
    };
    return {
      sftp: this.sftp,
      shared: true,
      connectionError: () => this.slot.connectionError(),
      onLost: (listener) => this.slot.onLost(listener),
      release: () => {
        if (endUse()) this.owner.used(this);
      },
      discard: () => {
        if (!endUse()) return;
        this.close();
        this.owner.used(this);
      },
    };
  }

  /** The channel closed, or it is being closed: no new job takes it. */
  end(): void {
    this.ended = true;
  }

  /** Ends the channel (its slot frees when the server confirms); jobs still using it learn it through onLost. */
  close(): void {
    this.ended = true;
    try {
      this.sftp.end();
    } catch {
      // already closed
    }
  }
}
