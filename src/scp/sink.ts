// Over 400 lines: one protocol state machine; every record check reads the same state (depth, counts, expectation, answers ahead).
/**
 * We receive (download); the server runs `scp -f`. The server drives this protocol, so every record is
 * hostile input until checked: names, record order, modes, sizes, counts and depth are validated before
 * anything of it is used, and the session ends (EPROTO, ETOOBIG, EISDIR) at the first violation.
 */
import { TransferError, isTransferError } from '../errors';
import { cleanText, isValidUtf8 } from '../text';
import { matchGlob } from '../glob';
import { codeForServerMessage, parseRecord, type RecordLimits, type ScpTimes } from './records';
import { NO_SCP_TEXT, definitelyNoScp, withNoScp } from './no-scp';
import { ScpSession, localFailure } from './scp-session';
import type { ScpFinish, ScpSessionOptions, ScpStreams } from './types';

export type SinkExpectation =
  /** exactly one C whose name is this basename (CVE-2019-6111) */
  | { kind: 'exact'; name: string }
  /** one or more top-level C (D only with recursive) whose names match the pattern */
  | { kind: 'glob'; pattern: string }
  /** recursive: exactly one top-level record (C or D), and it has this name */
  | { kind: 'tree'; name: string };

export interface SinkLimits extends RecordLimits {
  /** directory levels below the target (a top-level D is level 1) */
  maxDepth: number;
  /** C records in the whole session */
  maxFiles: number;
  /** sum of the sizes of the files received */
  maxTotalBytes: number;
  /** D records in the whole session (endless siblings would exhaust inodes); default: no cap */
  maxDirectories?: number;
}

/**
 * `parents` are the names of the directories (already accepted) that contain the entry, outermost first.
 * 'endDirectory' closes the directory `name` inside `parents` (it mirrors the matching 'directory' entry).
 */
export type SinkEntry =
  | { type: 'file'; parents: string[]; name: string; mode: number; size: number; times?: ScpTimes }
  | { type: 'directory'; parents: string[]; name: string; mode: number; times?: ScpTimes }
  | { type: 'endDirectory'; parents: string[]; name: string };

export interface ScpSinkOptions extends ScpSessionOptions {
  expect: SinkExpectation;
  recursive: boolean;
  limits: SinkLimits;
  /** whose file-name rules apply besides the POSIX ones (default: process.platform); 'win32' adds Windows' */
  platform?: NodeJS.Platform;
  /**
   * Answers sent ahead (default 0): when the caller never skips, every record and trailer gets a \0, so
   * this many go with the start signal and the server streams without waiting a round trip for each one
   * (OpenSSH's `scp -f` reads one byte per record and trailer and nothing else; what it learns is only
   * "go on"). Every record is still checked when it arrives; skip() is refused.
   */
  answersAhead?: number;
}

type SinkState =
  | { kind: 'records' }
  | { kind: 'file'; entry: Extract<SinkEntry, { type: 'file' }> }
  | { kind: 'directory'; entry: Extract<SinkEntry, { type: 'directory' }> }
  | { kind: 'busy' }
  | { kind: 'done'; result: ScpFinish };

/** A chunk handed to receive()'s writer is at most this large. */
const MAX_CHUNK_BYTES = 1024 * 1024;
const ZERO = Buffer.from([0]);
const RECORD_START = new Set([0x43, 0x44, 0x45, 0x54]); // C D E T

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;
// eslint-disable-next-line no-control-regex
const WINDOWS_FORBIDDEN = /[\\:<>"|?*\u0000-\u001f]/;

/** Why Windows could not hold (or would misread) this name, or undefined. */
function windowsNameProblem(name: string): string | undefined {
  if (WINDOWS_FORBIDDEN.test(name)) return 'a character Windows does not allow in names (\\ : < > " | ? * or a control)';
  if (WINDOWS_RESERVED.test(name)) return 'a reserved Windows device name';
  if (/[. ]$/.test(name)) return 'a trailing dot or space';
  return undefined;
}

export class ScpSink extends ScpSession {
  private readonly expect: SinkExpectation;
  private readonly recursive: boolean;
  private readonly limits: SinkLimits;
  private readonly platform: NodeJS.Platform;
  private readonly answersAhead: number;

  private state: SinkState = { kind: 'records' };
  private started = false;
  private readonly parents: string[] = [];
  private pendingTimes: ScpTimes | undefined;
  private files = 0;
  private directories = 0;
  private totalBytes = 0;
  private topLevelEntries = 0;
  /** exact/tree: the one requested entry is complete; only EOF may follow */
  private finalSeen = false;
  /** \x01 texts the server sent between records, not yet reported to the caller */
  private readonly serverErrors: string[] = [];
  /** a protocol record (C, D, E, T) arrived: from then on, this is an scp that talks */
  private sawRecord = false;
  /** a failure the caller already saw (receive() rejected, skip()): explains a non-zero exit status */
  private failureDelivered = false;

  constructor(streams: ScpStreams, options: ScpSinkOptions) {
    super(streams, options);
    this.expect = options.expect;
    this.recursive = options.recursive;
    this.limits = options.limits;
    this.platform = options.platform ?? process.platform;
    this.answersAhead = Math.max(0, Math.floor(options.answersAhead ?? 0));
  }

  /**
   * A one-byte \0 answer. When the server has already closed the channel the answer has nobody to go to
   * and is dropped: what the server sent is still judged by the reads that follow and its exit status.
   */
  private async ack(what: string): Promise<void> {
    if (this.inputClosed()) return;
    await this.write(ZERO, what);
  }

  /** A cap the record itself broke names the entry by its path in the tree, as the caps in announce() do. */
  private inTree(error: unknown): unknown {
    if (!isTransferError(error) || error.code !== 'ETOOBIG' || error.detail === undefined || this.parents.length === 0) return error;
    return new TransferError(error.code, error.summary, { detail: cleanText([...this.parents, error.detail].join('/'), 200) });
  }

  private violation(summary: string, detail?: string): TransferError {
    return this.fail(this.error('EPROTO', summary, detail));
  }

  /**
   * The next validated entry, or null after a clean end: EOF exactly on a record boundary at the top
   * level, then exit status 0. \x01 texts the server sent between records (e.g. "No such file or
   * directory") are thrown, with their mapped code, once the server has ended. A non-zero exit already
   * explained by a failure the caller saw (receive() rejected, skip()) ends cleanly.
   */
  async next(): Promise<SinkEntry | null> {
    this.assertUsable();
    if (this.state.kind === 'done') return null;
    if (this.state.kind !== 'records') {
      throw this.error('EINVAL', 'answer the previous entry (receive, skip or accept) before asking for the next one');
    }
    if (!this.started) {
      this.started = true;
      if (this.answersAhead > 0 && !this.inputClosed()) await this.write(Buffer.alloc(1 + this.answersAhead), 'the start signal');
      else await this.ack('the start signal');
    }
    for (;;) {
      const first = await this.readByte('the next SCP record');
      if (first === null) return this.end();
      if (this.finalSeen) {
        const shown = cleanText(Buffer.concat([Buffer.from([first]), this.availableText(64)]), 100);
        throw this.violation('the server sent more after the requested entry', shown);
      }
      if (first === 1 || first === 2) {
        const text = cleanText(await this.readLine(this.limits.maxLineBytes, "the server's error message"), 1024);
        if (first === 2) throw this.fail(this.error(codeForServerMessage(text), "the server's scp failed", text));
        this.serverErrors.push(text);
        continue;
      }
      const beforeProtocol = !this.sawRecord && this.serverErrors.length === 0;
      if (!RECORD_START.has(first)) {
        const text = Buffer.concat([Buffer.from([first]), this.availableText(256)]);
        throw this.notTheProtocol(text, beforeProtocol);
      }
      const rest = await this.readLine(Math.max(0, this.limits.maxLineBytes - 1), 'an SCP control line');
      const line = Buffer.concat([Buffer.from([first]), rest]);
      let record;
      try {
        record = parseRecord(line, this.limits);
      } catch (error) {
        // "This service allows sftp connections only." starts with a record letter (T): a line that is
        // no record, before any record, is judged as text.
        if (beforeProtocol && NO_SCP_TEXT.test(cleanText(line))) throw this.notTheProtocol(line, true);
        throw withNoScp(this.fail(this.withContext(this.inTree(error)) as TransferError), false);
      }
      this.sawRecord = true;
      switch (record.type) {
        case 'T':
          if (this.pendingTimes !== undefined) throw this.violation('the server sent a T record that was not followed by C or D');
          this.pendingTimes = { mtime: record.mtime, atime: record.atime };
          await this.ack('the acknowledgement of a T record');
          continue;
        case 'E':
          return this.leaveDirectory();
        case 'C':
        case 'D':
          return this.announce(record.type, record.name, record.mode, record.type === 'C' ? record.size : 0);
      }
    }
  }

  /**
   * Bytes that are not a record. Before the protocol started, OpenSSH's "sftp connections only" refusal
   * (or a shell's "not found") means there is no scp to talk to (noScp); any other text, a login banner
   * included, is a protocol error and no reason to try another transport.
   */
  private notTheProtocol(text: Buffer, beforeProtocol: boolean): TransferError {
    const shown = cleanText(text, 100);
    if (beforeProtocol && NO_SCP_TEXT.test(cleanText(text))) {
      return withNoScp(this.violation('the server has no usable scp', shown), true);
    }
    return withNoScp(this.violation('the server sent something that is not an SCP record', shown), false);
  }

  private async leaveDirectory(): Promise<SinkEntry> {
    if (this.pendingTimes !== undefined) throw this.violation('the server sent a T record that was not followed by C or D');
    const name = this.parents.pop();
    if (name === undefined) throw this.violation('the server sent an E record at the top level');
    await this.ack('the acknowledgement of an E record');
    if (this.parents.length === 0) this.topLevelEntryDone();
    return { type: 'endDirectory', parents: [...this.parents], name };
  }

  /** Validates a C or D and hands it to the caller, who answers with receive/skip or accept/skip. */
  private announce(type: 'C' | 'D', rawName: Buffer, mode: number, size: number): SinkEntry {
    const times = this.pendingTimes;
    this.pendingTimes = undefined;
    if (!isValidUtf8(rawName)) throw this.violation('the server sent a name that is not valid UTF-8', cleanText(rawName, 200));
    const name = rawName.toString('utf8');
    const shownName = cleanText(name, 200);
    if (this.platform === 'win32') {
      const problem = windowsNameProblem(name);
      if (problem !== undefined) throw this.violation(`the server sent a name with ${problem}`, shownName);
    }
    const topLevel = this.parents.length === 0;
    if (type === 'D' && !this.recursive) {
      throw this.fail(this.error('EISDIR', 'the server sent a directory, but a file was requested (not recursive)', shownName));
    }
    if (topLevel) this.checkExpected(name, shownName);
    const parents = [...this.parents];
    // Caps name the entry by its path in the tree (the job turns it into the remote path).
    const where = cleanText([...parents, name].join('/'), 200);
    const timesField = times === undefined ? {} : { times };
    if (type === 'D') {
      if (this.parents.length + 1 > this.limits.maxDepth) {
        throw this.fail(this.error('ETOOBIG', `the remote tree is deeper than ${this.limits.maxDepth} levels`, where));
      }
      const maxDirectories = this.limits.maxDirectories ?? Number.MAX_SAFE_INTEGER;
      if (this.directories + 1 > maxDirectories) {
        throw this.fail(this.error('ETOOBIG', `the remote tree has more than the limit of ${maxDirectories} directories`, where));
      }
      this.directories += 1;
      const entry = { type: 'directory' as const, parents, name, mode, ...timesField };
      this.state = { kind: 'directory', entry };
      return entry;
    }
    if (this.files + 1 > this.limits.maxFiles) {
      throw this.fail(this.error('ETOOBIG', `more than the limit of ${this.limits.maxFiles} files`, where));
    }
    if (this.totalBytes + size > this.limits.maxTotalBytes) {
      throw this.fail(
        this.error('ETOOBIG', `the files add up to more than the limit of ${this.limits.maxTotalBytes} bytes`, where),
      );
    }
    this.files += 1;
    const entry = { type: 'file' as const, parents, name, mode, size, ...timesField };
    this.state = { kind: 'file', entry };
    return entry;
  }

  /** The top-level name must be the one the user asked for (CVE-2019-6111). */
  private checkExpected(name: string, shownName: string): void {
    const expect = this.expect;
    if (expect.kind === 'glob') {
      if (!matchGlob(expect.pattern, name)) {
        throw this.violation(`the server sent a name that does not match the pattern ${cleanText(expect.pattern, 200)}`, shownName);
      }
      return;
    }
    if (this.topLevelEntries > 0) throw this.violation('the server sent more than the one requested entry', shownName);
    if (name !== expect.name) {
      throw this.violation(`the server sent an entry that was not requested (asked for ${cleanText(expect.name, 200)})`, shownName);
    }
  }

  private topLevelEntryDone(): void {
    this.topLevelEntries += 1;
    if (this.expect.kind !== 'glob') this.finalSeen = true;
  }

  /** After the entry at hand is complete: back to reading records. */
  private entryDone(): void {
    this.state = { kind: 'records' };
    if (this.parents.length === 0) this.topLevelEntryDone();
  }

  private async end(): Promise<null> {
    if (this.pendingTimes !== undefined) throw this.violation('the server ended the stream right after a T record');
    if (this.parents.length > 0) {
      throw this.violation(`the server ended the stream inside the directory ${cleanText(this.parents.join('/'), 200)}`);
    }
    this.endInput();
    const exitCode = await this.waitForExit();
    const stderr = this.stderrText();
    this.state = { kind: 'done', result: { exitCode, stderr } };
    this.release();
    const nothingReceived = !this.sawRecord && !this.failureDelivered;
    if (this.serverErrors.length > 0) {
      const [firstText] = this.serverErrors;
      const detail = cleanText(this.serverErrors.join('; '), 1024);
      const noScp = nothingReceived && NO_SCP_TEXT.test(firstText);
      const code = noScp ? 'EPROTO' : codeForServerMessage(firstText);
      throw withNoScp(this.fail(this.error(code, "the server's scp reported an error", detail)), noScp);
    }
    if (exitCode !== 0 && !this.failureDelivered) {
      const how = exitCode === null ? 'without an exit status' : `with exit status ${exitCode}`;
      if (nothingReceived && definitelyNoScp(exitCode, stderr)) {
        // Not a word of the protocol, then "command not found" (exit status 127): nothing to talk to.
        throw withNoScp(this.fail(this.error('EPROTO', `the server has no usable scp: it ended ${how}`, stderr || undefined)), true);
      }
      throw this.fail(this.error(stderr ? codeForServerMessage(stderr) : 'EPROTO', `the server's scp ended ${how}`, stderr || undefined));
    }
    if (this.topLevelEntries === 0 && !this.failureDelivered) {
      throw withNoScp(
        this.fail(this.error('EPROTO', 'the server ended without sending anything for the requested path', stderr || undefined)),
        nothingReceived && definitelyNoScp(exitCode, stderr),
      );
    }
    return null;
  }

  private takeFile(): Extract<SinkEntry, { type: 'file' }> {
    this.assertUsable();
    if (this.state.kind !== 'file') throw this.error('EINVAL', 'there is no announced file to receive or skip');
    const { entry } = this.state;
    this.state = { kind: 'busy' };
    return entry;
  }

  /**
   * For a 'file' entry: acks the C, streams exactly `size` bytes into `write` (awaited; while it runs the
   * channel fills the inbox, then pauses), checks the trailer and acks it. A chunk is a view into the
   * session's reused inbox: `write` must copy what it keeps beyond its own settling.
   * Trailer \x01 (the server failed reading the file and sent filler): rejects with the mapped code, and
   * the session stays usable (OpenSSH goes on with the next file): the caller discards what it wrote.
   * Short data then EOF, a trailer that is not \0 / \x01, or `write` throwing: rejects and ends the session.
   */
  async receive(write: (chunk: Buffer) => void | Promise<void>): Promise<void> {
    const entry = this.takeFile();
    const shownName = cleanText(entry.name, 200);
    await this.ack(`the acknowledgement of ${shownName}`);
    this.totalBytes += entry.size;
    let remaining = entry.size;
    const what = `the data of ${shownName}`;
    const use = async (chunk: Buffer): Promise<void> => {
      try {
        await write(chunk);
      } catch (error) {
        throw this.fail(localFailure(error, `writing the data of ${shownName} failed`, this.host, this.path));
      }
    };
    while (remaining > 0) {
      const used = await this.useChunk(Math.min(remaining, MAX_CHUNK_BYTES), what, use);
      if (used === 0) {
        throw this.violation(
          `the server ended the stream inside the data of ${shownName} (${entry.size - remaining} of ${entry.size} bytes)`,
        );
      }
      remaining -= used;
    }
    const trailer = await this.readByte(`the end of ${shownName}`);
    if (trailer === 0) {
      await this.ack(`the acknowledgement of the end of ${shownName}`);
      this.entryDone();
      return;
    }
    if (trailer === 1 || trailer === 2) {
      const text = cleanText(await this.readLine(this.limits.maxLineBytes, "the server's error message"), 1024);
      const error = this.error(codeForServerMessage(text), `the server failed to send ${shownName}`, text);
      if (trailer === 2) throw this.fail(error);
      await this.ack(`the acknowledgement of the end of ${shownName}`);
      this.failureDelivered = true;
      this.entryDone();
      throw error;
    }
    if (trailer === null) throw this.violation(`the server ended the stream right after the data of ${shownName}`);
    throw this.violation(`the server sent an invalid byte after the data of ${shownName}`, `0x${trailer.toString(16).padStart(2, '0')}`);
  }

  /**
   * For a 'file' entry (skip-existing) or a 'directory' entry (skip the subtree): answers with
   * \x01<message>; OpenSSH's source goes on with the next entry (and later exits with status 1,
   * which next() then accepts).
   */
  async skip(message: string): Promise<void> {
    this.assertUsable();
    if (this.state.kind !== 'file' && this.state.kind !== 'directory') {
      throw this.error('EINVAL', 'there is no announced entry to skip');
    }
    // The server has its \0 for this record already.
    if (this.answersAhead > 0) throw this.error('EINVAL', 'an entry can not be skipped when answers are sent ahead');
    this.state = { kind: 'busy' };
    // Our own text, but still one line: a newline would be read as the end of the reply.
    const line = cleanText(message.replace(/[\r\n]+/g, ' '), 512);
    await this.write(Buffer.from(`\x01${line}\n`, 'utf8'), 'a refusal');
    this.failureDelivered = true;
    this.entryDone();
  }

  /** For a 'directory' entry: acks the D; its entries follow, closed by an 'endDirectory' entry. */
  async accept(): Promise<void> {
    this.assertUsable();
    if (this.state.kind !== 'directory') throw this.error('EINVAL', 'there is no announced directory to accept');
    const { entry } = this.state;
    this.state = { kind: 'busy' };
    await this.ack(`the acknowledgement of ${cleanText(entry.name, 200)}`);
    this.parents.push(entry.name);
    this.state = { kind: 'records' };
  }

  /**
   * After next() returned null: the exit status and stderr tail. Earlier (giving up mid-session): ends our
   * side, lets the server finish (reading at most a capped amount), and reports how it ended.
   */
  async finish(): Promise<ScpFinish> {
    if (this.state.kind === 'done') return this.state.result;
    const { exitCode, stderr } = await this.closeAndCollect();
    const result = { exitCode, stderr };
    this.state = { kind: 'done', result };
    return result;
  }
}
