/**
 * One running upload or download: the abort/deadline signal every step listens to, the progress
 * reporter, and the list of temporary files to remove when the job fails. Both transports share it.
 */
import { setMaxListeners } from 'events';
import { TransferError, isTransferError, meaningOfErrno, systemError } from '../../errors';
import type { ChannelProvider } from '../../ssh/types';
import { JobTemporaries } from '../leftovers/journal';
import type { ProgressEvent, TransferContext, TransferResult, TransferredFile, TransportUsed } from '../types';
import type { LinkState } from '../link/link-state';

/** 'bytes' progress events are emitted at most once per this many bytes or milliseconds per file. */
const PROGRESS_BYTES_STEP = 64 * 1024;
const PROGRESS_INTERVAL_MS = 100;
/**
 * How long removing temporaries after a failure may take. Fixed, not the idle timeout: after a timeout the
 * server may be frozen, and waiting the idle time again would double the time until the user hears of it.
 * Short enough that a closing node's clean-up fits Node-RED's 15 s close limit together with the pool's close.
 */
export const CLEANUP_TIMEOUT_MS = 4_000;

export class Job {
  readonly channels: ChannelProvider;
  readonly host: string;
  readonly idleTimeoutMs: number;
  /** aborted by the caller's signal or by the deadline; `failure()` says which */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly started = Date.now();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private deadlinePassed = false;
  private readonly detachCallerSignal: () => void;
  private readonly onProgress: ((event: ProgressEvent) => void) | undefined;

  /** temporary remote names recorded in the leftover journal */
  readonly temporaries: JobTemporaries;
  readonly files: TransferredFile[] = [];
  readonly directories: string[] = [];
  bytes = 0;
  totalSize: number | undefined;
  /** bandwidth limit, verify and resume of this job (src/transfer/link/), when any is on */
  link: LinkState | undefined;
  private fileIndex = 0;
  private dropDotSlash = false;
  private current: { path: string; size: number; bytes: number; lastBytes: number; lastTime: number } | undefined;

  constructor(readonly ctx: TransferContext) {
    this.channels = ctx.channels;
    this.host = ctx.channels.label;
    this.idleTimeoutMs = ctx.idleTimeoutMs > 0 ? ctx.idleTimeoutMs : 30_000;
    this.onProgress = ctx.onProgress;
    this.temporaries = new JobTemporaries(ctx.leftovers);
    this.signal = this.controller.signal;
    // Every pending request of a busy job listens to this signal (SFTP keeps 16 in flight per file).
    setMaxListeners(0, this.signal);
    const callerSignal = ctx.signal;
    const onCallerAbort = (): void => this.controller.abort(this.abortedError());
    if (callerSignal) {
      if (callerSignal.aborted) onCallerAbort();
      else callerSignal.addEventListener('abort', onCallerAbort, { once: true });
    }
    this.detachCallerSignal = () => callerSignal?.removeEventListener('abort', onCallerAbort);
    if (ctx.deadlineMs !== undefined && ctx.deadlineMs > 0) {
      this.deadlineTimer = setTimeout(() => {
        this.deadlinePassed = true;
        this.controller.abort(this.deadlineError());
      }, ctx.deadlineMs);
      this.deadlineTimer.unref?.();
    }
  }

  /** Stops the deadline timer and unhooks the caller's signal; call once when the job ends. */
  dispose(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.detachCallerSignal();
    this.temporaries.release();
  }

  /** Throws the abort/deadline error when the job must stop now. */
  checkActive(path?: string): void {
    if (this.signal.aborted) throw this.stopError(path);
  }

  /** The error a stopped job fails with: ETIMEDOUT after the deadline, EABORTED otherwise. */
  stopError(path?: string): TransferError {
    return (this.deadlinePassed ? this.deadlineError() : this.abortedError()).withContext({ path });
  }

  /**
   * Normalises anything thrown during the job: a stop (abort/deadline) wins over whatever error the
   * torn-down streams produced; foreign errors become TransferErrors naming host and path.
   */
  normalise(error: unknown, path?: string, fallbackCode: TransferError['code'] = 'EPROTO'): TransferError {
    if (this.signal.aborted) return this.stopError(path);
    if (isTransferError(error)) return error.withContext({ host: this.host, path });
    const message = error instanceof Error ? error.message : String(error);
    // A system error that reached here unwrapped (a local stream's) still gets the code of its situation.
    const meaning = meaningOfErrno(error) ?? { code: fallbackCode };
    return systemError(meaning, 'transfer failed', { host: this.host, path, detail: message, cause: error });
  }

  private abortedError(): TransferError {
    return new TransferError('EABORTED', 'transfer aborted', { host: this.host });
  }

  private deadlineError(): TransferError {
    const limit = this.ctx.deadlineMs ?? 0;
    const shown = limit % 1000 === 0 ? `${limit / 1000} s` : `${limit} ms`;
    return new TransferError('ETIMEDOUT', `the transfer did not finish within ${shown}, its time limit`, { host: this.host });
  }

  // ------------------------------------------------------------------------------------------ progress

  /**
   * Takes note of how the request named its remote path: a bare name (`big.bin`) is joined onto the "."
   * it implies, and the "./" that adds is not shown in progress and results, as the user never wrote it.
   */
  remotePathGiven(remote: Buffer): void {
    const dotted = remote[0] === 0x2e && (remote.length === 1 || remote[1] === 0x2f);
    this.dropDotSlash = !dotted;
  }

  private asGiven(path: string): string {
    return this.dropDotSlash && path.startsWith('./') ? path.slice(2) : path;
  }

  fileStart(remotePath: string, size: number): void {
    const path = this.asGiven(remotePath);
    this.current = { path, size, bytes: 0, lastBytes: 0, lastTime: Date.now() };
    this.emit({ type: 'fileStart', path, size, index: this.fileIndex, ...(this.totalSize !== undefined ? { totalSize: this.totalSize } : {}) });
  }

  /** Counts `n` payload bytes of the current file; emits a throttled 'bytes' event. */
  addBytes(n: number): void {
    this.bytes += n;
    const file = this.current;
    if (!file) return;
    file.bytes += n;
    const now = Date.now();
    if (file.bytes - file.lastBytes >= PROGRESS_BYTES_STEP || now - file.lastTime >= PROGRESS_INTERVAL_MS) {
      this.emitBytes(file, now);
    }
  }

  private emitBytes(file: NonNullable<Job['current']>, now: number): void {
    file.lastBytes = file.bytes;
    file.lastTime = now;
    this.emit({
      type: 'bytes',
      path: file.path,
      fileBytes: file.bytes,
      fileSize: file.size,
      totalBytes: this.bytes,
      ...(this.totalSize !== undefined ? { totalSize: this.totalSize } : {}),
    });
  }

  /** Records a finished (or skipped) file and emits 'fileEnd' (preceded by a last 'bytes' if one is due). */
  fileEnd(file: TransferredFile, remotePath: string): void {
    const progressPath = this.asGiven(remotePath);
    const current = this.current;
    if (current && current.path === progressPath && current.bytes !== current.lastBytes) this.emitBytes(current, Date.now());
    this.current = undefined;
    const sha256 = this.link?.checksumOf(file.remotePath);
    if (sha256 !== undefined) file = { ...file, sha256 };
    const shown = this.asGiven(file.remotePath);
    this.files.push(shown === file.remotePath ? file : { ...file, remotePath: shown });
    this.emit({ type: 'fileEnd', path: progressPath, size: file.size, index: this.fileIndex, transferred: file.transferred });
    this.fileIndex += 1;
  }

  private emit(event: ProgressEvent): void {
    if (!this.onProgress) return;
    try {
      this.onProgress(event);
    } catch {
      // A failing progress listener must not break the transfer it observes.
    }
  }

  result(transport: TransportUsed): TransferResult {
    const durationMs = Math.max(0, Date.now() - this.started);
    return {
      transport,
      files: this.files,
      directories: this.directories,
      bytes: this.bytes,
      durationMs,
      rate: durationMs > 0 ? Math.round((this.bytes * 1000) / durationMs) : this.bytes,
      ...(this.link?.resumedFrom !== undefined ? { resumedFrom: this.link.resumedFrom } : {}),
    };
  }
}
