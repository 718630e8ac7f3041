/**
 * We send (upload); the server runs `scp -t`. Per file: [T → reply] C → reply → data + \0 → reply.
 * Per directory: [T → reply] D → reply → entries → E → reply. A \x01 reply fails that item only (the
 * server goes on); \x02, EOF or any other byte ends the session. The next file's [T] C may go with a file's
 * last bytes (`then`), its replies read after that file's: one round trip per small file instead of two.
 */
import type { Readable } from 'stream';
import type { TransferError } from '../errors';
import { chunkAsBuffer, readsItself, type SelfReadingContent } from '../content';
import { cleanText } from '../text';
import { DEFAULT_RECORD_LIMITS, codeForServerMessage, encodeRecord, unsafeNameReason, type ScpTimes } from './records';
import { NO_SCP_TEXT, definitelyNoScp, withNoScp } from './no-scp';
import { ScpSession, localFailure } from './scp-session';
import type { ScpFinish, ScpSessionOptions, ScpStepResult, ScpStreams } from './types';

export interface ScpSourceFile {
  /** the name in the C record (one path component); the server ignores it when the target is not a directory */
  name: string | Buffer;
  mode: number;
  /** exactly this many bytes are sent; content that yields more or fewer fails with EPROTO */
  size: number;
  /** sent as a T record first (only meaningful when the server runs with -p) */
  times?: ScpTimes;
  content: Readable | Buffer;
  /** called with the number of bytes just written */
  onBytes?: (n: number) => void;
  /**
   * The record of the file sent next, written with this file's last bytes (Buffer content only): the
   * server's answers to both then come back in one round trip. The next sendFile() must be that file.
   * A record, never data, goes ahead of an answer: data behind an unanswered C would be read as records
   * by a server that refused the file.
   */
  then?: ScpSourceRecord;
}

/** What a file's [T] C record says. */
export type ScpSourceRecord = Pick<ScpSourceFile, 'name' | 'mode' | 'size' | 'times'>;

export interface ScpSourceDirectory {
  name: string | Buffer;
  mode: number;
  times?: ScpTimes;
}

/** What a login shell may print before a preamble (preamble()) at most: its banner, say. */
const PREAMBLE_MAX_BYTES = 16 * 1024;
/** Buffers are sent in slices of this size, so back-pressure and progress work for them too. */
const SLICE_BYTES = 256 * 1024;
/** Each of the two buffers a self-reading content is read into (a local file: big reads, few calls). */
const FILL_BYTES = 1024 * 1024;

const ZERO = Buffer.from([0]);

export class ScpSource extends ScpSession {
  private isReady = false;
  private depth = 0;
  /** sendFilled's two buffers, kept for the session's next files */
  private fillBuffers: Buffer[] = [];
  /** the [T] C record sent ahead (see ScpSourceFile.then), its answers not read yet */
  private announced: Buffer | undefined;

  constructor(streams: ScpStreams, options: ScpSessionOptions) {
    super(streams, options);
  }

  /**
   * Waits for the server's first \0. Anything else fails; the error's `noScp` is true only when the reply
   * proves there is no usable scp (EOF with exit status 127 or "not found", "This service allows sftp
   * connections only."); a banner or other text is a plain protocol error. A \x01 text from a running
   * scp (for example "ambiguous target") keeps its mapped code (ENOTDIR, EACCES, ...) and `noScp` false.
   */
  async ready(): Promise<void> {
    this.assertUsable();
    if (this.isReady) return;
    const first = await this.readByte("the server's first SCP reply");
    if (first === 0) {
      this.isReady = true;
      return;
    }
    if (first === null) {
      const exitCode = await this.waitForExit().catch(() => null);
      const stderr = this.stderrText();
      const noScp = definitelyNoScp(exitCode, stderr);
      const summary = `${noScp ? 'the server has no usable scp: it' : 'the server'} ended the session without a reply${
        exitCode === null ? '' : ` (exit status ${exitCode})`
      }`;
      throw withNoScp(this.fail(this.error('EPROTO', summary, stderr || undefined)), noScp);
    }
    if (first === 1 || first === 2) {
      const text = cleanText(await this.readLine(DEFAULT_RECORD_LIMITS.maxLineBytes, "the server's error message"));
      if (NO_SCP_TEXT.test(text)) {
        throw withNoScp(this.fail(this.error('EPROTO', 'the server has no usable scp', text)), true);
      }
      throw withNoScp(this.fail(this.error(codeForServerMessage(text), "the server's scp refused the target", text)), false);
    }
    // Text instead of the protocol: OpenSSH's "sftp connections only" refusal means no scp; anything
    // else (a banner, whatever a hostile server prints) is a protocol error, not a cue to switch.
    const text = Buffer.concat([Buffer.from([first]), this.availableText()]);
    const noScp = NO_SCP_TEXT.test(cleanText(text));
    const summary = noScp ? 'the server has no usable scp' : 'the server did not answer with the SCP protocol (a banner or other text)';
    throw withNoScp(this.fail(this.error('EPROTO', summary, cleanText(text, 300))), noScp);
  }

  /**
   * Before ready(), for a command that prints a line of its own before it starts scp (`<marker>answer`,
   * see transfer/scp/folded-upload.ts): that answer. Text before it (a login shell's banner, at most
   * PREAMBLE_MAX_BYTES) is a protocol error, as it is before scp's first reply: the same text would break
   * every other scp command. When the server ends without the line: its exit status and what it said,
   * cleaned, for the caller to judge (no shell, no scp, or a protocol error).
   */
  async preamble(marker: string): Promise<{ answer: Buffer } | { answer?: undefined; exitCode: number | null; said: string; stderr: string }> {
    this.assertUsable();
    const { answer, said } = await this.readMarkedLine(Buffer.from(marker, 'latin1'), PREAMBLE_MAX_BYTES, `the answer to ${marker}`);
    if (answer !== undefined && said.length === 0) return { answer };
    if (answer !== undefined) {
      throw withNoScp(this.fail(this.error('EPROTO', 'the server did not answer with the SCP protocol (a banner or other text)', cleanText(said, 300))), false);
    }
    const exitCode = await this.waitForExit().catch(() => null);
    return { exitCode, said: cleanText(said, 300), stderr: this.stderrText() };
  }

  private assertReady(): void {
    this.assertUsable();
    if (!this.isReady) throw this.error('EINVAL', 'ScpSource.ready() must succeed before anything is sent');
  }

  private nameBytes(name: string | Buffer): Buffer {
    const bytes = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
    const reason = unsafeNameReason(bytes, Number.MAX_SAFE_INTEGER);
    if (reason !== undefined) throw this.error('EINVAL', `can not send ${reason}`, cleanText(bytes, 200));
    return bytes;
  }

  /** The server's one-byte reply: \0 ok, \x01 text = this item failed, anything else ends the session. */
  private async readReply(what: string): Promise<ScpStepResult> {
    const byte = await this.readByte(`the server's reply to ${what}`);
    if (byte === 0) return { ok: true };
    if (byte === 1 || byte === 2) {
      const text = cleanText(await this.readLine(DEFAULT_RECORD_LIMITS.maxLineBytes, "the server's error message"));
      const error = this.error(codeForServerMessage(text), `the server refused ${what}`, text);
      if (byte === 2) throw this.fail(error);
      return { ok: false, error };
    }
    if (byte === null) {
      const exitCode = await this.waitForExit().catch(() => null);
      const stderr = this.stderrText();
      const summary = `the server's scp ended the session while we waited for its reply to ${what}${
        exitCode === null ? '' : ` (exit status ${exitCode})`
      }`;
      throw this.fail(this.error(stderr ? codeForServerMessage(stderr) : 'EPROTO', summary, stderr || undefined));
    }
    const shown = cleanText(Buffer.concat([Buffer.from([byte]), this.availableText(64)]), 100);
    throw this.fail(this.error('EPROTO', `the server sent an invalid reply to ${what}`, shown));
  }

  private async sendTimes(times: ScpTimes | undefined, what: string): Promise<ScpStepResult> {
    if (times === undefined) return { ok: true };
    await this.write(encodeRecord({ type: 'T', mtime: times.mtime, atime: times.atime }), `the times of ${what}`);
    return this.readReply(`the times of ${what}`);
  }

  /**
   * [T] C, then exactly `size` bytes with back-pressure, the trailing \0 in the same write as the last
   * chunk, then the server's final reply. `{ ok: false }` when the server refused the file (\x01); a local
   * source that yields more or fewer than `size` bytes throws ECHANGED and ends the session (the server is
   * mid-file and can not be resynchronised).
   */
  async sendFile(file: ScpSourceFile): Promise<ScpStepResult> {
    this.assertReady();
    const name = this.nameBytes(file.name);
    const shownName = cleanText(name, 200);
    if (!Number.isSafeInteger(file.size) || file.size < 0) {
      throw this.error('EINVAL', `invalid size ${file.size} for ${shownName}`);
    }
    if (Buffer.isBuffer(file.content) && file.content.length !== file.size) {
      throw this.error('EINVAL', `the content of ${shownName} has ${file.content.length} bytes, not the announced ${file.size}`);
    }
    const what = `file ${shownName}`;
    const announced = this.announced;
    this.announced = undefined;
    if (announced !== undefined && !announced.equals(this.recordOf(file))) {
      throw this.fail(this.error('EINVAL', `the record sent ahead was not the one of ${shownName}`));
    }
    const ahead = file.then !== undefined && Buffer.isBuffer(file.content) ? this.recordOf(file.then) : undefined;
    if (announced === undefined) {
      const timesReply = await this.sendTimes(file.times, what);
      if (!timesReply.ok) return timesReply;
      await this.write(encodeRecord({ type: 'C', mode: file.mode, size: file.size, name }), what);
    } else if (file.times !== undefined) {
      const timesReply = await this.readReply(`the times of ${what}`);
      if (!timesReply.ok) return timesReply;
    }
    const accepted = await this.readReply(what);
    if (!accepted.ok) return accepted;
    if (Buffer.isBuffer(file.content)) await this.sendBuffer(file.content, what, file.onBytes, ahead);
    else if (readsItself(file.content)) {
      try {
        await this.sendFilled(file.content, file.size, what, file.onBytes);
      } finally {
        // Read to its end or not, the content is done with (a local file's handle closes), as in sendStream.
        file.content.destroy();
      }
    }
    else await this.sendStream(file.content, file.size, what, file.onBytes);
    // Sent with the last bytes: its answers come after this file's, whatever this one's is.
    this.announced = ahead;
    return this.readReply(`the data of ${what}`);
  }

  /** A file's [T] C record as sent (its name checked). */
  private recordOf(file: ScpSourceRecord): Buffer {
    const name = this.nameBytes(file.name);
    if (!Number.isSafeInteger(file.size) || file.size < 0) throw this.error('EINVAL', `invalid size ${file.size} for ${cleanText(name, 200)}`);
    const record = encodeRecord({ type: 'C', mode: file.mode, size: file.size, name });
    return file.times === undefined ? record : Buffer.concat([encodeRecord({ type: 'T', mtime: file.times.mtime, atime: file.times.atime }), record]);
  }

  private async sendBuffer(content: Buffer, what: string, onBytes?: (n: number) => void, after?: Buffer): Promise<void> {
    if (content.length === 0) {
      await this.write(after === undefined ? ZERO : Buffer.concat([ZERO, after]), `the end of ${what}`);
      return;
    }
    for (let at = 0; at < content.length; at += SLICE_BYTES) {
      const slice = content.subarray(at, Math.min(content.length, at + SLICE_BYTES));
      const last = at + SLICE_BYTES >= content.length;
      await this.write(last ? Buffer.concat(after === undefined ? [slice, ZERO] : [slice, ZERO, after]) : slice, `the data of ${what}`);
      onBytes?.(slice.length);
    }
  }

  private async sendStream(content: Readable, size: number, what: string, onBytes?: (n: number) => void): Promise<void> {
    const iterator = content[Symbol.asyncIterator]() as AsyncIterator<unknown>;
    const nextChunk = async (): Promise<Buffer | null> => {
      let step: IteratorResult<unknown>;
      try {
        step = await this.within(iterator.next(), `the local data of ${what}`);
      } catch (error) {
        throw this.fail(localFailure(error, `reading the local data of ${what} failed`, this.host, this.path));
      }
      if (step.done) return null;
      const bytes = chunkAsBuffer(step.value);
      if (bytes === undefined) {
        throw this.fail(this.error('EINVAL', `the local data of ${what} is not bytes (an object-mode stream?)`, typeof step.value));
      }
      return bytes;
    };
    const changedSize = (how: string): TransferError =>
      this.fail(this.error('ECHANGED', 'the local source changed size while it was sent', `${what} ${how} than the announced ${size} bytes`));

    /** After the announced size, the source must end: anything more means it changed under us. */
    const expectEnd = async (): Promise<void> => {
      let more = await nextChunk();
      while (more !== null && more.length === 0) more = await nextChunk();
      if (more !== null) throw changedSize('has more bytes');
    };

    let sent = 0;
    try {
      if (size === 0) {
        await expectEnd();
        await this.write(ZERO, `the end of ${what}`);
        return;
      }
      for (;;) {
        const chunk = await nextChunk();
        if (chunk === null) throw changedSize('has fewer bytes');
        if (chunk.length === 0) continue;
        if (sent + chunk.length > size) throw changedSize('has more bytes');
        if (sent + chunk.length < size) {
          await this.write(chunk, `the data of ${what}`);
          sent += chunk.length;
          onBytes?.(chunk.length);
          continue;
        }
        // The chunk that completes the file is held back until the source has shown it ends here.
        await expectEnd();
        await this.write(Buffer.concat([chunk, ZERO]), `the data of ${what}`);
        onBytes?.(chunk.length);
        return;
      }
    } finally {
      // Stops and releases the local stream whether or not it was read to the end.
      iterator.return?.().catch(() => undefined);
    }
  }

  /**
   * Exactly `size` bytes of a self-reading content through two reused buffers: while one is on its way
   * (until ssh2 has taken it, see writeConsumed) the next part is read into the other. The trailing \0
   * goes in the same write as the last part, once the content has shown it ends there.
   */
  private async sendFilled(content: SelfReadingContent, size: number, what: string, onBytes?: (n: number) => void): Promise<void> {
    const changedSize = (how: string): TransferError =>
      this.fail(this.error('ECHANGED', 'the local source changed size while it was sent', `${what} ${how} than the announced ${size} bytes`));
    const read = async (buffer: Buffer, length: number): Promise<number> => {
      let got = 0;
      try {
        while (got < length) {
          const n = await this.within(content.readInto(length === got ? buffer : buffer.subarray(got), length - got), `the local data of ${what}`);
          if (n === 0) break;
          got += n;
        }
      } catch (error) {
        throw this.fail(localFailure(error, `reading the local data of ${what} failed`, this.host, this.path));
      }
      return got;
    };
    const bufferBytes = Math.min(size, FILL_BYTES);
    // One spare byte each: room for the trailing \0. Kept for the next file once this one went well.
    const [kept, keptSpare] = this.fillBuffers.splice(0);
    let current: Buffer = kept !== undefined && kept.length > bufferBytes ? kept : Buffer.allocUnsafe(bufferBytes + 1);
    let spare: Buffer | undefined = keptSpare !== undefined && keptSpare.length > bufferBytes ? keptSpare : undefined;
    let sent = 0;
    let got = await read(current, Math.min(bufferBytes, size));
    for (;;) {
      if (got < Math.min(bufferBytes, size - sent)) throw changedSize('has fewer bytes');
      if (sent + got === size) {
        if ((await read(Buffer.allocUnsafe(1), 1)) !== 0) throw changedSize('has more bytes');
        current[got] = 0;
        await this.writeConsumed(current.subarray(0, got + 1), `the data of ${what}`);
        onBytes?.(got);
        this.fillBuffers = spare === undefined ? [current] : [current, spare];
        return;
      }
      const writing = this.writeConsumed(current.subarray(0, got), `the data of ${what}`);
      writing.catch(() => undefined);
      spare ??= Buffer.allocUnsafe(bufferBytes + 1);
      const next = read(spare, Math.min(bufferBytes, size - sent - got));
      next.catch(() => undefined);
      await writing;
      sent += got;
      onBytes?.(got);
      got = await next;
      [current, spare] = [spare, current];
    }
  }

  /** [T] D, then the server's reply. After `{ ok: true }` send the entries, then leaveDirectory(). */
  async enterDirectory(dir: ScpSourceDirectory): Promise<ScpStepResult> {
    this.assertReady();
    this.assertNothingAhead();
    const name = this.nameBytes(dir.name);
    const what = `directory ${cleanText(name, 200)}`;
    const timesReply = await this.sendTimes(dir.times, what);
    if (!timesReply.ok) return timesReply;
    await this.write(encodeRecord({ type: 'D', mode: dir.mode, name }), what);
    const reply = await this.readReply(what);
    if (reply.ok) this.depth += 1;
    return reply;
  }

  private assertNothingAhead(): void {
    if (this.announced !== undefined) throw this.error('EINVAL', 'a file record was sent ahead: send that file first');
  }

  /** E, then the server's reply (OpenSSH always answers \0; a \x01 is returned as a failed step). */
  async leaveDirectory(): Promise<ScpStepResult> {
    this.assertReady();
    if (this.depth === 0) throw this.error('EINVAL', 'leaveDirectory() without a matching enterDirectory()');
    this.assertNothingAhead();
    await this.write(encodeRecord({ type: 'E' }), 'the end of a directory');
    this.depth -= 1;
    return this.readReply('the end of a directory');
  }

  /**
   * Ends our side (EOF) and resolves with the server's exit status (null if none) and the cleaned stderr
   * tail; anything the server still wrote on stdout (an \x01 text) is appended to `stderr`. With
   * `epilogueMarker`, the line that starts there is the command's own last answer (`epilogue`).
   */
  async finish(epilogueMarker?: string): Promise<ScpFinish & { epilogue?: string }> {
    const { exitCode, stderr, trailing: collected } = await this.closeAndCollect();
    // A folded command's own last line (`<marker>answer`, printed after scp ended) is its answer, not scp's words.
    const at = epilogueMarker === undefined ? -1 : collected.lastIndexOf(epilogueMarker, undefined, 'latin1');
    const trailing = at < 0 ? collected : collected.subarray(0, at);
    const epilogue = at < 0 ? undefined : collected.subarray(at + (epilogueMarker as string).length).toString('latin1').split('\n')[0];
    const extra = cleanText(
      trailing
        .toString('utf8')
        .split('\n')
        .map((line) => (line.charCodeAt(0) === 1 || line.charCodeAt(0) === 2 ? line.slice(1) : line).trim())
        .filter(Boolean)
        .join('; '),
      512,
    );
    return { exitCode, stderr: [stderr, extra].filter(Boolean).join('; '), ...(epilogue !== undefined ? { epilogue } : {}) };
  }
}
