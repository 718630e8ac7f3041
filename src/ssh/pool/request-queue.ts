/**
 * The requests waiting for a channel, first come first served. A request leaves the queue and fails with
 * EABORTED as soon as its signal fires, wherever it is waiting; it is settled exactly once.
 */
import type { TransferError } from '../../errors';
import type { ExecLease, SftpLease } from '../types';

export type RequestKind = 'exec' | 'sftp';

/** One caller's wait for an exec channel or an SFTP session. */
export class ChannelRequest {
  /** settled (granted, failed or aborted): a channel opened for it now is closed again */
  done = false;
  /** how often it went back to the queue because its channel could not open (nothing ran, so that is safe) */
  openRetries = 0;
  private detach: () => void = () => undefined;

  constructor(
    readonly kind: RequestKind,
    readonly command: string | Buffer | undefined,
    /** an SFTP request for the connection's kept session (kept-sftp.ts) */
    readonly shared: boolean,
    private readonly resolve: (lease: ExecLease | SftpLease) => void,
    private readonly reject: (error: TransferError) => void,
  ) {}

  /** Fails the request when `signal` fires (the queue's `onAbort` runs first). */
  watch(signal: AbortSignal, onAbort: () => void): void {
    signal.addEventListener('abort', onAbort, { once: true });
    this.detach = () => signal.removeEventListener('abort', onAbort);
  }

  fail(error: TransferError): void {
    if (this.done) return;
    this.done = true;
    this.detach();
    this.reject(error);
  }

  grant(lease: ExecLease | SftpLease): void {
    this.done = true;
    this.detach();
    this.resolve(lease);
  }
}

export class RequestQueue {
  private readonly waiting: ChannelRequest[] = [];

  /** `aborted` makes the error an aborted request fails with. */
  constructor(private readonly aborted: () => TransferError) {}

  get length(): number {
    return this.waiting.length;
  }

  /**
   * A new request at the end of the queue; `queued` runs once it is there (not for a signal that already
   * fired: that request fails at once). The promise settles with the request.
   */
  add(
    kind: RequestKind,
    command: string | Buffer | undefined,
    signal: AbortSignal | undefined,
    queued: () => void,
    shared = false,
  ): Promise<ExecLease | SftpLease> {
    return new Promise((resolve, reject) => {
      const request = new ChannelRequest(kind, command, shared, resolve, reject);
      if (signal?.aborted) return request.fail(this.aborted());
      // A request whose channel is already opening is marked done here; its channel is closed on arrival.
      if (signal) request.watch(signal, () => this.abort(request));
      this.waiting.push(request);
      queued();
    });
  }

  /** The next request in line, taken out of the queue. */
  take(): ChannelRequest | undefined {
    return this.waiting.shift();
  }

  /** A taken request whose channel could not open goes back to the head of the line. */
  putBack(request: ChannelRequest): void {
    this.waiting.unshift(request);
  }

  /** Empties the queue, failing every request with its own error. */
  failAll(error: () => TransferError): void {
    for (const request of this.waiting.splice(0)) request.fail(error());
  }

  private abort(request: ChannelRequest): void {
    if (request.done) return;
    const index = this.waiting.indexOf(request);
    if (index >= 0) this.waiting.splice(index, 1);
    request.fail(this.aborted());
  }
}
