/**
 * SFTP as promises with our error codes: a thin layer over ssh2's SFTPWrapper. Paths are strings (the
 * SFTP protocol carries UTF-8 paths in ssh2). Reads and writes keep several requests in flight (like
 * OpenSSH's sftp client) but deliver data in order and wait for the consumer: memory stays bounded.
 */
import type { Attributes, FileEntry, InputAttributes, SFTPWrapper, Stats } from 'ssh2';
import { TransferError, systemError, type TransferErrorCode } from '../errors';
import { SFTP_STATUS, meaningOfSftpStatus } from './sftp-status';
import { cleanText } from '../text';
import { sftpExtensions, sftpMaxReadLen, sftpMaxWriteLen } from '../ssh/ssh2-internals';

const STATUS = SFTP_STATUS;

/**
 * Bytes per read/write request: the largest the server accepts (ssh2 learns it from OpenSSH's
 * limits@openssh.com, up to 256 KiB; 32 KiB otherwise), and as many in flight as fit in ~2 MiB (at
 * most 16): big requests mean fewer round trips and far fewer objects per gigabyte.
 */
const MAX_REQUEST_BYTES = 256 * 1024;
const FALLBACK_REQUEST_BYTES = 32 * 1024;
const BYTES_IN_FLIGHT = 2 * 1024 * 1024;
const MAX_WINDOW = 16;

function requestShape(limit: unknown): { bytes: number; window: number } {
  const bytes = typeof limit === 'number' && limit >= 4096 ? Math.min(limit, MAX_REQUEST_BYTES) : FALLBACK_REQUEST_BYTES;
  return { bytes, window: Math.max(4, Math.min(MAX_WINDOW, Math.floor(BYTES_IN_FLIGHT / bytes))) };
}

export interface SftpContext {
  host: string;
  idleTimeoutMs: number;
  signal: AbortSignal;
  /** the error to fail with once `signal` aborted */
  stopError(path?: string): TransferError;
  /**
   * The channel is a session other jobs use too (the connection's kept one): no listeners of this job are
   * put on it (its loss reaches the job through `fail()`, from the lease), and the job's handles are closed
   * even when it stops, since the session stays open for the others.
   */
  shared?: boolean;
}

export type SftpStats = Stats;

export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Maps an ssh2 SFTP error to a TransferError naming host and path (the status table is in src/errors.ts). */
export function sftpError(error: unknown, host: string, path: string, summary: string, failureCode: TransferErrorCode = 'EPROTO'): TransferError {
  if (error instanceof TransferError) return error.withContext({ host, path });
  const status = statusOf(error);
  const text = error instanceof Error ? error.message : '';
  const detail = error instanceof Error ? cleanText(error.message) : undefined;
  if (status === undefined) return new TransferError('ECONNRESET', summary, { host, path, detail, cause: error });
  return systemError(meaningOfSftpStatus(status, text, path, failureCode), summary, { host, path, detail, cause: error });
}

export class SftpSession {
  /** requests waiting for an answer; failed at once when the session closes under them */
  private readonly pending = new Set<(error: unknown) => unknown>();
  private closed = false;
  private closedError: Error | undefined;
  /** a request went unanswered for the idle timeout: the server (or this session) is stuck */
  unanswered = false;

  constructor(
    readonly sftp: SFTPWrapper,
    private readonly ctx: SftpContext,
  ) {
    if (ctx.shared) return;
    // ssh2 leaves requests unanswered when the connection dies (it cleans up only on a clean EOF):
    // without this a lost server would look like an idle timeout.
    const onClose = (): void => this.fail(new TransferError('ECONNRESET', 'the SFTP session closed', { host: ctx.host }));
    sftp.once('close', onClose);
    sftp.once('end', onClose);
  }

  /** Fails every waiting request and every later one with `error` (the connection under it is gone). */
  fail(error: Error): void {
    this.closed = true;
    this.closedError = error;
    for (const fail of [...this.pending]) fail(error);
  }

  /**
   * Runs one SFTP request with the idle timeout and the abort signal. `done` returns false for an answer
   * that came after the call had ended (stopped, timed out): what it brought is nobody's.
   */
  private call<T>(path: string, summary: string, start: (done: (error: unknown, value?: T) => boolean) => void, failureCode?: TransferErrorCode): Promise<T> {
    const { ctx } = this;
    return new Promise<T>((resolve, reject) => {
      if (ctx.signal.aborted) return reject(ctx.stopError(path));
      if (this.closed) return reject(sftpError(this.closedError, ctx.host, path, 'the SFTP session closed'));
      let settled = false;
      const finish = (error: unknown, value?: T): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(finish);
        ctx.signal.removeEventListener('abort', onAbort);
        if (error) reject(sftpError(error, ctx.host, path, summary, failureCode));
        else resolve(value as T);
        return true;
      };
      const timer = setTimeout(() => {
        this.unanswered = true;
        finish(new TransferError('ETIMEDOUT', `the SFTP server did not answer within ${ctx.idleTimeoutMs} ms`, { host: ctx.host, path }));
      }, ctx.idleTimeoutMs);
      const onAbort = (): void => {
        finish(ctx.stopError(path));
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      this.pending.add(finish);
      try {
        start(finish);
      } catch (error) {
        finish(error);
      }
    });
  }

  /** The server's canonical absolute form of `path` (`.` is where its relative paths start). */
  realpath(path: string): Promise<string> {
    return this.call<string>(path, 'cannot resolve the remote path', (done) => this.sftp.realpath(path, (error, absolute) => done(error, absolute)));
  }

  /** stat following symlinks; undefined when nothing is there. */
  stat(path: string): Promise<Stats | undefined> {
    return this.statOrMissing(path, 'stat');
  }

  lstat(path: string): Promise<Stats | undefined> {
    return this.statOrMissing(path, 'lstat');
  }

  /** A missing path is an answer, not an error: no error is built for it (the usual case of an upload's probe). */
  private async statOrMissing(path: string, how: 'stat' | 'lstat'): Promise<Stats | undefined> {
    try {
      return await this.call<Stats | undefined>(path, 'cannot stat the remote path', (done) =>
        this.sftp[how](path, (error, stats) => (statusOf(error) === STATUS.NO_SUCH_FILE ? done(undefined, undefined) : done(error, stats))),
      );
    } catch (error) {
      if ((error as TransferError).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  mkdir(path: string, mode: number): Promise<void> {
    return this.call<void>(path, 'cannot create the remote directory', (done) => this.sftp.mkdir(path, { mode }, (e) => done(e)), 'EEXIST');
  }

  /** Removes an empty directory; OpenSSH answers a non-empty one with a bare FAILURE: EEXIST, as rmdir(2) may say. */
  rmdir(path: string): Promise<void> {
    return this.call<void>(path, 'cannot remove the remote directory', (done) => this.sftp.rmdir(path, (e) => done(e)), 'EEXIST');
  }

  setstat(path: string, attrs: InputAttributes): Promise<void> {
    return this.call<void>(path, 'cannot set the remote mode or times', (done) => this.sftp.setstat(path, attrs, (e) => done(e)), 'EACCES');
  }

  unlink(path: string): Promise<void> {
    return this.call<void>(path, 'cannot remove the remote file', (done) => this.sftp.unlink(path, (e) => done(e)), 'EACCES');
  }

  /**
   * Directory listing (names unvalidated: the caller checks them, they are hostile), read piece by piece
   * on an opened handle: each piece is one request under the idle timer, and a listing that goes on past
   * `maxEntries` fails (ETOOBIG) instead of growing without end. An empty piece counts as one entry, so
   * a server answering with empty pieces forever is stopped too.
   */
  async readdir(path: string, maxEntries: number): Promise<FileEntry[]> {
    const handle = await this.call<Buffer>(path, 'cannot list the remote directory', (done) => this.sftp.opendir(path, this.keepHandle(done)), 'ENOTDIR');
    let listed = false;
    try {
      const entries: FileEntry[] = [];
      let counted = 0;
      for (;;) {
        const piece = await this.call<FileEntry[] | undefined>(path, 'cannot list the remote directory', (done) =>
          this.sftp.readdir(handle, (error: unknown, list?: FileEntry[]) => {
            if (error && statusOf(error) === STATUS.EOF) return done(undefined, undefined);
            done(error, list);
          }),
        );
        if (piece === undefined) {
          listed = true;
          return entries;
        }
        counted += Math.max(1, piece.length);
        if (counted > maxEntries) {
          throw new TransferError('ETOOBIG', `the remote directory lists more than ${maxEntries} entries`, { host: this.ctx.host, path });
        }
        entries.push(...piece);
      }
    } finally {
      // After a failure (a stalled server) the close is sent but not awaited: it must not add a second timeout.
      const closing = this.close(handle, path).catch(() => undefined);
      if (listed) await closing;
    }
  }

  /**
   * Moves `from` onto `to`. With `replace` an existing `to` is replaced atomically (posix-rename@openssh.com
   * when the server has it). Without, the plain SFTP rename refuses an existing target (OpenSSH links
   * then unlinks): EEXIST.
   */
  async rename(from: string, to: string, replace: boolean): Promise<void> {
    const extensions = sftpExtensions(this.sftp);
    if (replace && extensions['posix-rename@openssh.com'] !== undefined) {
      return this.call<void>(to, 'cannot move the uploaded file into place', (done) => this.sftp.ext_openssh_rename(from, to, (e) => done(e)), 'EACCES');
    }
    try {
      await this.call<void>(to, 'cannot move the uploaded file into place', (done) => this.sftp.rename(from, to, (e) => done(e)), 'EEXIST');
    } catch (error) {
      if (!replace || (error as TransferError).code !== 'EEXIST') throw error;
      // A server without posix-rename: replace in two steps (not atomic, the best SFTPv3 offers).
      await this.unlink(to);
      await this.call<void>(to, 'cannot move the uploaded file into place', (done) => this.sftp.rename(from, to, (e) => done(e)), 'EACCES');
    }
  }

  /** `failureCode`: what a generic SFTP FAILURE means here (EISDIR for reads, EEXIST for exclusive creates). */
  async open(path: string, flags: string, mode?: number, failureCode?: TransferErrorCode): Promise<Buffer> {
    return this.call<Buffer>(
      path,
      flags.startsWith('r') ? 'cannot open the remote file' : 'cannot create the remote file',
      (done) => this.sftp.open(path, flags as 'r', (mode === undefined ? {} : { mode }) as Attributes, this.keepHandle(done)),
      failureCode ?? (flags.startsWith('r') ? 'EISDIR' : 'EACCES'),
    );
  }

  /**
   * Closes a handle. Sent even after the job stopped (then not waited for): a session shared with other
   * jobs stays open, and must not keep the handles of a job that is over.
   */
  async close(handle: Buffer, path: string): Promise<void> {
    if (this.ctx.signal.aborted) {
      this.closeUnwaited(handle);
      throw this.ctx.stopError(path);
    }
    await this.call<void>(path, 'cannot close the remote file', (done) => this.sftp.close(handle, (e) => done(e)), 'EIO');
  }

  /** The callback of a request that opens a handle: a handle that arrives after the call ended is closed. */
  private keepHandle(done: (error: unknown, handle?: Buffer) => boolean): (error: unknown, handle?: Buffer) => void {
    return (error, handle) => {
      if (!done(error, handle) && !error && handle) this.closeUnwaited(handle);
    };
  }

  private closeUnwaited(handle: Buffer): void {
    if (this.closed) return;
    try {
      this.sftp.close(handle, () => undefined);
    } catch {
      // the channel is gone, and the handle with it
    }
  }

  async fstat(handle: Buffer, path: string): Promise<Stats> {
    return this.call<Stats>(path, 'cannot stat the remote file', (done) => this.sftp.fstat(handle, done));
  }

  async fsetstat(handle: Buffer, path: string, attrs: InputAttributes): Promise<void> {
    await this.call<void>(path, 'cannot set the remote mode or times', (done) => this.sftp.fsetstat(handle, attrs, (e) => done(e)), 'EACCES');
  }

  /**
   * Writes a stream of chunks at increasing offsets, with up to WINDOW requests in flight; `next`
   * yields the chunks (awaited, so the source is read only as fast as the server takes it). `from`: the
   * offset of the first byte (a resumed upload); resolves with the offset after the last.
   */
  async writeAll(handle: Buffer, path: string, chunks: AsyncIterable<Buffer>, onBytes: (n: number) => void, from = 0): Promise<number> {
    const { bytes: REQUEST_BYTES, window: WINDOW } = requestShape(sftpMaxWriteLen(this.sftp));
    let offset = from;
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    const send = (piece: Buffer, position: number): void => {
      const request = this.call<void>(path, 'cannot write the remote file', (done) =>
        this.sftp.write(handle, piece, 0, piece.length, position, (e) => done(e)), 'EIO',
      ).then(
        () => {
          inFlight.delete(request);
          onBytes(piece.length);
        },
        (error: unknown) => {
          inFlight.delete(request);
          failure ??= error;
        },
      );
      inFlight.add(request);
    };
    // A failed write ends the loop; it is thrown (explained) once the requests still in flight are answered.
    chunks: for await (const chunk of chunks) {
      for (let at = 0; at < chunk.length; at += REQUEST_BYTES) {
        if (failure) break chunks;
        while (inFlight.size >= WINDOW) await Promise.race(inFlight);
        if (failure) break chunks;
        const piece = chunk.subarray(at, Math.min(chunk.length, at + REQUEST_BYTES));
        send(piece, offset);
        offset += piece.length;
      }
    }
    await Promise.all(inFlight);
    if (failure) throw await this.explainWriteFailure(failure, handle, path, REQUEST_BYTES);
    return offset;
  }

  /**
   * OpenSSH's sftp-server answers a write on a full disk with a bare FAILURE ("Failure"), as it does an I/O
   * error: the free space of the file's file system (fstatvfs@openssh.com) tells the two apart, so a full
   * disk is ENOSPC over SFTP as it is over SCP. Without the extension the failure stays as it was.
   */
  private async explainWriteFailure(failure: unknown, handle: Buffer, path: string, requestBytes: number): Promise<unknown> {
    if (!(failure instanceof TransferError) || statusOf(failure.cause) !== STATUS.FAILURE) return failure;
    let freeBytes: number;
    try {
      const info = await this.call<{ f_frsize: number | bigint; f_bavail: number | bigint }>(path, 'cannot read the remote free space', (done) =>
        this.sftp.ext_openssh_fstatvfs(handle, done),
      );
      freeBytes = Number(info.f_frsize) * Number(info.f_bavail);
    } catch {
      return failure;
    }
    if (!(freeBytes < requestBytes)) return failure;
    return new TransferError('ENOSPC', failure.summary, {
      host: this.ctx.host,
      path,
      // The words SCP's server prints for the same situation (the free space proved it; the status said "Failure").
      detail: 'No space left on device',
      cause: failure.cause,
    });
  }

  /**
   * Reads exactly `size` bytes with several requests in flight, handing them to `write` in order and
   * waiting for it. `write` must copy what it keeps: the buffers are a small ring reused for every
   * request (fresh 256 KiB buffers per request would pile up as garbage that only a full collection
   * frees, tens of MiB of resident memory). A file that ends early fails (EPROTO). `from`: read the bytes
   * from this offset to `size` only (a resumed download, the tail of a kept part). `aheadBytes`: at most
   * this much requested ahead of `write` (a bandwidth limit: the link then never carries a burst of the window).
   */
  async readAll(handle: Buffer, path: string, size: number, write: (chunk: Buffer) => void | Promise<void>, from = 0, aheadBytes?: number): Promise<void> {
    const shape = requestShape(sftpMaxReadLen(this.sftp));
    const REQUEST_BYTES = aheadBytes === undefined ? shape.bytes : Math.max(4096, Math.min(shape.bytes, aheadBytes));
    const WINDOW = aheadBytes === undefined ? shape.window : Math.max(1, Math.min(shape.window, Math.floor(aheadBytes / REQUEST_BYTES)));
    const free: Buffer[] = [];
    for (let i = 0; i < Math.min(WINDOW, Math.ceil((size - from) / REQUEST_BYTES)); i += 1) free.push(Buffer.allocUnsafe(REQUEST_BYTES));
    let nextOffset = from;
    let delivered = 0;
    const pending: { offset: number; buffer: Buffer; promise: Promise<Buffer> }[] = [];
    const request = (buffer: Buffer, at: number, offset: number, length: number): Promise<Buffer> =>
      this.call<Buffer>(path, 'cannot read the remote file', (done) => {
        this.sftp.read(handle, buffer, at, length, offset, (error: unknown, bytesRead?: number) => {
          if (error && statusOf(error) === STATUS.EOF) return done(undefined, buffer.subarray(at, at));
          if (error) return done(error);
          done(undefined, buffer.subarray(at, at + (bytesRead ?? 0)));
        });
      });
    const fill = (): void => {
      while (free.length > 0 && nextOffset < size) {
        const buffer = free.pop() as Buffer;
        const length = Math.min(REQUEST_BYTES, size - nextOffset);
        const promise = request(buffer, 0, nextOffset, length);
        promise.catch(() => undefined);
        pending.push({ offset: nextOffset, buffer, promise });
        nextOffset += length;
      }
    };
    fill();
    while (pending.length > 0) {
      const head = pending.shift() as { offset: number; buffer: Buffer; promise: Promise<Buffer> };
      let got = (await head.promise).length;
      const wanted = Math.min(REQUEST_BYTES, size - head.offset);
      // A short read (a server may cap its replies) is completed in place before delivery.
      while (got < wanted) {
        const more = await request(head.buffer, got, head.offset + got, wanted - got);
        if (more.length === 0) {
          throw new TransferError('EPROTO', `the remote file ended after ${head.offset + got} of ${size} bytes (it changed while being read)`, {
            host: this.ctx.host,
            path,
          });
        }
        got += more.length;
      }
      delivered += got;
      await write(head.buffer.subarray(0, got));
      free.push(head.buffer);
      fill();
    }
    if (delivered !== size - from) {
      throw new TransferError('EPROTO', `read ${delivered} of ${size - from} bytes`, { host: this.ctx.host, path });
    }
  }
}
