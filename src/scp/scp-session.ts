// Over 400 lines: one class, the base of ScpSource and ScpSink, whose reader, waits, writes and exit share the channel state its private fields hold.
/**
 * What the SCP source and sink share: a reader over the channel's stdout, bounded waits (idle timeout,
 * abort), a capped stderr tail, the exit status, and writes that respect back-pressure. Every delivery is
 * copied at once into the session's inbox (a reused ring, see inbox.ts) and the channel is paused while
 * the inbox is full: then the stream's buffer fills and ssh2 stops widening the channel window, so a
 * flooding server can not make us buffer without bound, and no packet buffer outlives its delivery.
 */
import type { Readable, Writable } from 'stream';
import { TransferError, isTransferError, meaningOfErrno, systemError, type TransferErrorCode } from '../errors';
import { cleanText } from '../text';
import { ByteInbox } from './inbox';
import { codeForServerMessage } from './records';
import type { ScpFinish, ScpSessionOptions, ScpStreams } from './types';

const DEFAULT_MAX_STDERR_BYTES = 8 * 1024;
/** after we end our side, a server still talking past this many bytes is cut off */
const MAX_DRAIN_BYTES = 1024 * 1024;
/** how much of a server's unexpected text (banner, trailing output) ends up in a message */
const SHOWN_TEXT_BYTES = 512;
/** how much of the stderr tail (cleaned characters) ends up in messages and results */
const SHOWN_STDERR_CHARS = 1024;
/**
 * The inbox starts small (a session of small files never needs more) and grows while bulk data arrives
 * faster than it is written, up to a channel window's worth (ssh2 grants 2 MiB): a file write then
 * rarely has to pause the channel.
 */
const INBOX_FIRST_BYTES = 64 * 1024;
const INBOX_MAX_BYTES = 2 * 1024 * 1024;

type Waker = () => void;

/** Maps a local failure (fs error codes, or anything a caller's writer threw) onto a TransferError. */
export function localFailure(error: unknown, summary: string, host: string, path: string): TransferError {
  if (isTransferError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  // Without an errno it is no system error: a caller's writer that broke its contract.
  const meaning = meaningOfErrno(error) ?? { code: 'EPROTO' as const };
  return systemError(meaning, summary, { host, path, detail: cleanText(message, 200), cause: error });
}

/** A rejection hook that the session fires for every pending wait when it is destroyed or aborted. */
type Canceller = (error: Error) => void;

export class ScpSession {
  protected readonly host: string;
  protected readonly path: string;
  private readonly stdout: Readable;
  private readonly stdin: Writable;
  private readonly stderr: Readable | undefined;
  private readonly idleTimeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  private readonly maxStderrBytes: number;

  private readonly inbox = new ByteInbox(INBOX_FIRST_BYTES, INBOX_MAX_BYTES);
  private stdoutEnded = false;
  private stdoutError: Error | null = null;
  private stdinError: Error | null = null;
  private stderrTail: Buffer = Buffer.alloc(0);
  private exitCode: number | null | undefined = undefined;
  private channelClosed = false;
  private readonly wakers = new Set<Waker>();
  private readonly cancellers = new Set<Canceller>();
  /** set once the session can not go on (protocol broken, destroyed, aborted): every later call throws it */
  private fatal: TransferError | null = null;
  private readonly onData = (chunk: Buffer | string): void => {
    // After destroy() the rest of the channel is read and dropped.
    if (this.fatal !== null) return;
    if (!this.inbox.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) this.stdout.pause();
    this.wakeAll();
  };
  private readonly onAbort = (): void => {
    this.destroy(this.error('EABORTED', 'the transfer was aborted'));
  };

  constructor(streams: ScpStreams, options: ScpSessionOptions) {
    this.host = options.host;
    this.path = options.path;
    this.stdout = streams.stdout;
    this.stdin = streams.stdin;
    this.stderr = streams.stderr;
    this.idleTimeoutMs = options.idleTimeoutMs;
    this.signal = options.signal;
    this.maxStderrBytes = options.maxStderrBytes ?? DEFAULT_MAX_STDERR_BYTES;

    const wake = (): void => this.wakeAll();
    this.stdout.on('data', this.onData);
    this.stdout.on('end', () => {
      this.stdoutEnded = true;
      wake();
    });
    this.stdout.on('close', () => {
      this.stdoutEnded = true;
      wake();
    });
    this.stdout.on('error', (error: Error) => {
      this.stdoutError = error;
      wake();
    });
    this.stdin.on('error', (error: Error) => {
      this.stdinError = error;
      wake();
    });
    this.stdin.on('drain', wake);
    this.stdin.on('close', wake);
    if (this.stderr !== undefined) {
      // Drained continuously: stderr shares the channel window with stdout, so leaving it unread would
      // stall the data. Only a tail is kept.
      this.stderr.on('data', (chunk: Buffer | string) => this.keepStderr(chunk));
      this.stderr.on('error', () => undefined);
    }
    const channel = streams.channel ?? this.stdout;
    channel.on('exit', (code: unknown) => {
      if (this.exitCode === undefined) this.exitCode = typeof code === 'number' ? code : null;
      wake();
    });
    channel.on('close', (code: unknown) => {
      this.channelClosed = true;
      if (this.exitCode === undefined && typeof code === 'number') this.exitCode = code;
      wake();
    });
    if (this.signal !== undefined) {
      if (this.signal.aborted) this.onAbort();
      else this.signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  // ------------------------------------------------------------------------------------------ errors

  /** A TransferError naming this session's host and path. */
  protected error(code: TransferErrorCode, summary: string, detail?: string): TransferError {
    return new TransferError(code, summary, { host: this.host, path: this.path, ...(detail ? { detail } : {}) });
  }

  /** Adds host and path to errors thrown by the pure helpers (records, names). */
  protected withContext(error: unknown): unknown {
    return isTransferError(error) ? error.withContext({ host: this.host, path: this.path }) : error;
  }

  /** Marks the session unusable and tears the channel down; returns the error for `throw`. */
  protected fail(error: TransferError): TransferError {
    this.destroy(error);
    return this.fatal ?? error;
  }

  protected assertUsable(): void {
    if (this.fatal !== null) throw this.fatal;
  }

  /** Cleaned tail of stderr so far (its last characters: the end usually says why the command failed). */
  protected stderrText(): string {
    const text = cleanText(this.stderrTail, Number.MAX_SAFE_INTEGER).replace(/^(\\[nrt])+|(\\[nrt])+$/g, '');
    return text.length <= SHOWN_STDERR_CHARS ? text : `…${text.slice(text.length - SHOWN_STDERR_CHARS + 1)}`;
  }

  /** How many stderr bytes are held (the tail): for tests that prove the memory stays bounded. */
  stderrBytesKept(): number {
    return this.stderrTail.length;
  }

  private keepStderr(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (bytes.length >= this.maxStderrBytes) {
      this.stderrTail = Buffer.from(bytes.subarray(bytes.length - this.maxStderrBytes));
      return;
    }
    const keep = Math.min(this.stderrTail.length, this.maxStderrBytes - bytes.length);
    this.stderrTail = Buffer.concat([this.stderrTail.subarray(this.stderrTail.length - keep), bytes]);
  }

  // ------------------------------------------------------------------------------------------- waits

  private wakeAll(): void {
    for (const waker of [...this.wakers]) waker();
  }

  /**
   * Waits until `ready()` says so, re-checking it whenever any stream event fires; fails with
   * ETIMEDOUT after the idle timeout and with the session's fatal error when destroyed or aborted.
   */
  protected waitUntil<T>(what: string, ready: () => T | undefined): Promise<T> {
    if (this.fatal !== null) return Promise.reject(this.fatal);
    let first: T | undefined;
    try {
      first = ready();
    } catch (error) {
      return Promise.reject(error);
    }
    if (first !== undefined) return Promise.resolve(first);
    return new Promise<T>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.wakers.delete(waker);
        this.cancellers.delete(cancel);
      };
      const waker: Waker = () => {
        let value: T | undefined;
        try {
          value = ready();
        } catch (error) {
          cleanup();
          reject(error);
          return;
        }
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const cancel: Canceller = (error) => {
        cleanup();
        reject(error);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(this.fail(this.error('ETIMEDOUT', `no progress for ${this.idleTimeoutMs} ms while waiting for ${what}`)));
      }, this.idleTimeoutMs);
      this.wakers.add(waker);
      this.cancellers.add(cancel);
    });
  }

  /** Awaits a promise of someone else's (a local stream) under the same idle timeout and abort. */
  protected async within<T>(promise: Promise<T>, what: string): Promise<T> {
    let outcome: { value: T } | { error: unknown } | undefined;
    promise.then(
      (value) => {
        outcome = { value };
        this.wakeAll();
      },
      (error: unknown) => {
        outcome = { error };
        this.wakeAll();
      },
    );
    const settled = await this.waitUntil(what, () => outcome);
    if ('error' in settled) throw settled.error;
    return settled.value;
  }

  // ----------------------------------------------------------------------------------------- reading

  private streamFailure(): TransferError | undefined {
    const failure = this.stdoutError ?? this.stdinError;
    if (failure === null) return undefined;
    return isTransferError(failure)
      ? failure
      : this.error('ECONNRESET', 'the SSH channel failed', cleanText(failure.message, 200));
  }

  /** Nothing unread and the server's side ended. A stream failure is thrown. */
  private atEnd(): boolean {
    if (this.inbox.length > 0) return false;
    const failure = this.streamFailure();
    if (failure !== undefined) throw failure;
    return this.stdoutEnded || this.stdout.readableEnded;
  }

  /** Lets a channel paused on a full inbox deliver again once the inbox has room. */
  private resumeIfRoom(): void {
    if (this.fatal === null && this.stdout.isPaused() && this.inbox.hasRoom) this.stdout.resume();
  }

  /** Up to `max` bytes (a copy) now, null at EOF, undefined when nothing is there yet. */
  private takeNow(max: number): Buffer | null | undefined {
    if (this.atEnd()) return null;
    if (this.inbox.length === 0) return undefined;
    const bytes = this.inbox.take(max);
    this.resumeIfRoom();
    return bytes;
  }

  /** The next 1..max bytes from stdout (a copy), or null at EOF. */
  protected async readChunk(max: number, what: string): Promise<Buffer | null> {
    const result = await this.waitUntil<{ chunk: Buffer | null }>(what, () => {
      const chunk = this.takeNow(max);
      return chunk === undefined ? undefined : { chunk };
    });
    return result.chunk;
  }

  /**
   * Bulk data: hands the next 1..max unread bytes to `use` as a view into the inbox (no copy) and frees
   * them once `use` has settled; the view must not be kept. Resolves with the count, 0 at EOF.
   */
  protected async useChunk(max: number, what: string, use: (chunk: Buffer) => void | Promise<void>): Promise<number> {
    const ready = await this.waitUntil<{ ended: boolean }>(what, () => {
      if (this.inbox.length > 0) return { ended: false };
      return this.atEnd() ? { ended: true } : undefined;
    });
    if (ready.ended) return 0;
    const chunk = this.inbox.lend(max);
    try {
      await use(chunk);
    } finally {
      this.inbox.giveBack();
      this.resumeIfRoom();
    }
    return chunk.length;
  }

  /** One byte, or null at EOF. */
  protected async readByte(what: string): Promise<number | null> {
    return (
      await this.waitUntil<{ byte: number | null }>(what, () => {
        if (this.atEnd()) return { byte: null };
        const byte = this.inbox.takeByte();
        if (byte === undefined) return undefined;
        this.resumeIfRoom();
        return { byte };
      })
    ).byte;
  }

  /**
   * A line without its '\n'. Fails with EPROTO as soon as more than `maxBytes` arrive without a '\n'
   * (the inbox bounds what is held meanwhile), and on EOF inside the line.
   */
  protected async readLine(maxBytes: number, what: string): Promise<Buffer> {
    return this.waitUntil<Buffer>(what, () => {
      const newline = this.inbox.indexOf(0x0a, maxBytes + 1);
      if (newline >= 0) {
        const line = this.inbox.take(newline);
        this.inbox.skip(1);
        this.resumeIfRoom();
        return line;
      }
      if (this.inbox.length > maxBytes) {
        throw this.fail(this.error('EPROTO', `the server sent ${what} longer than ${maxBytes} bytes`, cleanText(this.inbox.peek(64), 200)));
      }
      const failure = this.streamFailure();
      if (failure !== undefined) throw failure;
      if (this.stdoutEnded || this.stdout.readableEnded) {
        throw this.fail(this.error('EPROTO', `the server ended the stream inside ${what}`, cleanText(this.inbox.peek(maxBytes), 200)));
      }
      return undefined;
    });
  }

  /**
   * Reads lines until one that contains `marker` and resolves with what follows the marker on that line,
   * and in `said` the start of whatever came before it (a banner, say); when the server ends first, with
   * what it said instead, for the caller to judge. Fails with EPROTO once more than `maxBytes` came
   * without the marker.
   */
  protected async readMarkedLine(marker: Buffer, maxBytes: number, what: string): Promise<{ answer?: Buffer; said: Buffer }> {
    const said: Buffer[] = [];
    let seen = 0;
    for (;;) {
      const room = maxBytes - seen;
      const next = await this.waitUntil<{ line: Buffer; ended: boolean }>(what, () => {
        const newline = this.inbox.indexOf(0x0a, room + 1);
        if (newline >= 0) {
          const line = this.inbox.take(newline);
          this.inbox.skip(1);
          this.resumeIfRoom();
          return { line, ended: false };
        }
        if (this.inbox.length > room) {
          throw this.fail(this.error('EPROTO', `the server sent more than ${maxBytes} bytes before ${what}`, cleanText(this.inbox.peek(64), 200)));
        }
        return this.atEndOfText() ? { line: this.availableText(room), ended: true } : undefined;
      });
      const at = next.ended ? -1 : next.line.indexOf(marker);
      if (seen < SHOWN_TEXT_BYTES) said.push(next.line.subarray(0, Math.min(at < 0 ? next.line.length : at, SHOWN_TEXT_BYTES - seen)));
      if (at >= 0) return { answer: next.line.subarray(at + marker.length), said: Buffer.concat(said) };
      said.push(Buffer.from('\n'));
      if (next.ended) return { said: Buffer.concat(said) };
      seen += next.line.length + 1;
    }
  }

  /** The server's side ended (whatever is still unread is an unfinished line). A stream failure is thrown. */
  private atEndOfText(): boolean {
    const failure = this.streamFailure();
    if (failure !== undefined) throw failure;
    return this.stdoutEnded || this.stdout.readableEnded;
  }

  /** Whatever the server already sent (at most `max` bytes), without waiting: for error messages. */
  protected availableText(max = SHOWN_TEXT_BYTES): Buffer {
    const text = this.inbox.take(max);
    this.resumeIfRoom();
    return text;
  }

  // ----------------------------------------------------------------------------------------- writing

  /** Writes and, when the stream's buffer is full, waits for 'drain' (idle timeout applies). */
  protected async write(bytes: Buffer, what: string): Promise<void> {
    this.assertUsable();
    const failure = this.streamFailure();
    if (failure !== undefined) throw this.fail(failure);
    if (this.inputClosed()) throw this.fail(this.channelGone(`before ${what} could be sent`));
    if (this.stdin.write(bytes)) return;
    await this.waitUntil(what, () => {
      const error = this.streamFailure();
      if (error !== undefined) throw this.fail(error);
      if (this.inputClosed()) throw this.fail(this.channelGone(`while sending ${what}`));
      return this.stdin.writableNeedDrain ? undefined : true;
    });
  }

  /**
   * Writes and waits until ssh2 has taken the bytes (the write's callback: they are in its packets, or
   * the channel failed), so the caller may reuse the buffer. A plain write() returns while its buffer
   * may still sit in the stream's queue or in ssh2's pending chunk (a full channel window).
   */
  protected async writeConsumed(bytes: Buffer, what: string): Promise<void> {
    this.assertUsable();
    const failure = this.streamFailure();
    if (failure !== undefined) throw this.fail(failure);
    if (this.inputClosed()) throw this.fail(this.channelGone(`before ${what} could be sent`));
    let consumed = false;
    this.stdin.write(bytes, (error) => {
      if (error) this.stdinError ??= error;
      consumed = true;
      this.wakeAll();
    });
    await this.waitUntil(what, () => {
      const error = this.streamFailure();
      if (error !== undefined) throw this.fail(error);
      if (consumed) return true;
      if (this.inputClosed()) throw this.fail(this.channelGone(`while sending ${what}`));
      return undefined;
    });
  }

  /** Our side can take no more (an ssh2 channel ends its writable side when the server closes it). */
  protected inputClosed(): boolean {
    return this.stdin.destroyed || this.stdin.writableEnded || this.channelClosed;
  }

  /**
   * The channel went away under a write: the server's last words (an \x01/\x02 line still unread on
   * stdout, else its stderr) say why better than "connection reset".
   */
  private channelGone(when: string): TransferError {
    const unread = this.availableText();
    const reply = unread.length > 0 && (unread[0] === 1 || unread[0] === 2) ? cleanText(unread.subarray(1).toString('utf8').split('\n')[0]) : '';
    const words = reply || this.stderrText();
    const code = words ? codeForServerMessage(words) : 'ECONNRESET';
    return this.error(code === 'EPROTO' ? 'ECONNRESET' : code, `the SSH channel closed ${when}`, words || undefined);
  }

  // ---------------------------------------------------------------------------------------- the end

  /** Waits for the exit status (or the channel's close without one). */
  protected async waitForExit(): Promise<number | null> {
    return (
      await this.waitUntil<{ code: number | null }>("the server's exit status", () => {
        if (this.exitCode !== undefined) return { code: this.exitCode };
        return this.channelClosed ? { code: null } : undefined;
      })
    ).code;
  }

  /**
   * Ends our side, reads what the server still says (capped, kept for the caller), and waits for its
   * exit status. Does not judge the status: that is the caller's business.
   */
  protected async closeAndCollect(): Promise<ScpFinish & { trailing: Buffer }> {
    this.assertUsable();
    this.endInput();
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let drained = 0;
    for (;;) {
      const chunk = await this.readChunk(64 * 1024, 'the end of the session');
      if (chunk === null) break;
      drained += chunk.length;
      if (drained > MAX_DRAIN_BYTES) {
        throw this.fail(this.error('EPROTO', `the server kept sending more than ${MAX_DRAIN_BYTES} bytes after the end of the session`));
      }
      if (keptBytes < SHOWN_TEXT_BYTES) {
        kept.push(chunk.subarray(0, SHOWN_TEXT_BYTES - keptBytes));
        keptBytes += Math.min(chunk.length, SHOWN_TEXT_BYTES - keptBytes);
      }
    }
    const exitCode = await this.waitForExit();
    this.release();
    return { exitCode, stderr: this.stderrText(), trailing: Buffer.concat(kept) };
  }

  /** Sends EOF on our side (idempotent). */
  protected endInput(): void {
    if (!this.stdin.writableEnded && !this.stdin.destroyed) this.stdin.end();
  }

  /** Stops listening for aborts once the session is over. */
  protected release(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  /** Tears everything down now; pending and later calls fail with `error` (EABORTED by default). */
  destroy(error?: Error): void {
    if (this.fatal === null) {
      this.fatal = isTransferError(error)
        ? error.withContext({ host: this.host, path: this.path })
        : this.error('EABORTED', 'the SCP session was closed', error ? cleanText(error.message, 200) : undefined);
    }
    this.release();
    const fatal = this.fatal;
    for (const cancel of [...this.cancellers]) cancel(fatal);
    // An ssh2 channel's destroy() sends EOF and CHANNEL_CLOSE but leaves the readable side alone, and
    // its 'close' (which frees the pool's channel slot) only comes after 'end': so whatever the server
    // still sends is read and dropped until then. The server stops once it sees our close, and the
    // channel window bounds what arrives meanwhile.
    this.stdin.destroy();
    this.stdout.destroy();
    this.stdout.resume();
    this.stderr?.destroy();
  }
}
