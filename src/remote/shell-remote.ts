/**
 * The remote toolbox over shell commands (src/remote/remote-scripts.ts): the records read back into
 * entries and outcomes. A reply that does not follow the record grammar is a protocol error (EPROTO).
 */
import { TransferError } from '../errors';
import { codeForServerMessage, definitelyNoScp } from '../scp';
import { cleanText } from '../text';
import { type Job, batchCommands, showRemote, splitRemote } from '../transfer';
import { checkName, isDotEntry, makeEntry, tooManyEntries } from './entries';
import { failure, type Outcome } from './outcomes';
import { CHANGE_SUFFIX, OUTCOME_LETTERS, changeCall, changeFunction, changePrefix, listCommand, statCommand } from './remote-scripts';
import { type RecordReader, runRecords } from './shell-run';
import type { ListOptions, RemoteEntry, RemoteRequest } from './types';

type Mutation = Exclude<RemoteRequest, { operation: 'list' } | { operation: 'stat' }>;

const KIND = { D: 0x44, N: 0x4e, S: 0x53, T: 0x54, L: 0x4c, A: 0x41, X: 0x58, R: 0x52, E: 0x45 } as const;
const SPACE = 0x20;
const NEWLINE = 0x0a;
/**
 * Per entry, the most a listing prints: its path four times (candidate, stat line, and for a directory
 * its D and maybe A record) and the numbers, its share of a T record among them.
 */
const BYTES_PER_ENTRY = 4 * 4096 + 128;
/** Server text in an error's detail: cleaned (no control characters reach a log) and short. */
const MAX_DETAIL = 512;

function protocolError(job: Job, path: Buffer, what: string, detail?: string | Buffer): TransferError {
  const shown = detail === undefined ? '' : cleanText(detail, MAX_DETAIL);
  return new TransferError('EPROTO', `the server gave an unexpected reply to ${what}`, { host: job.host, path: showRemote(path), ...(shown ? { detail: shown } : {}) });
}

/** `ls -l`'s mode string (`drwxr-sr-x`) as st_mode bits; undefined when it is not one. */
export function modeOfPermissionString(text: string): number | undefined {
  if (!/^[-dlcbps][-r][-w][-xsS][-r][-w][-xsS][-r][-w][-xtT]/.test(text)) return undefined;
  const types: Record<string, number> = { '-': 0o100000, d: 0o040000, l: 0o120000, c: 0o020000, b: 0o060000, p: 0o010000, s: 0o140000 };
  let mode = types[text[0] as string] as number;
  const bit = (at: number, value: number): void => {
    if (text[at] !== '-') mode |= value;
  };
  bit(1, 0o400);
  bit(2, 0o200);
  bit(4, 0o040);
  bit(5, 0o020);
  bit(7, 0o004);
  bit(8, 0o002);
  const special = (at: number, exec: number, flag: number, lower: string, upper: string): void => {
    const char = text[at];
    if (char === 'x' || char === lower) mode |= exec;
    if (char === lower || char === upper) mode |= flag;
  };
  special(3, 0o100, 0o4000, 's', 'S');
  special(6, 0o010, 0o2000, 's', 'S');
  special(9, 0o001, 0o1000, 't', 'T');
  return mode;
}

function wholeOrNaN(text: string, pattern: RegExp, radix = 10): number {
  return pattern.test(text) ? parseInt(text, radix) : Number.NaN;
}

/**
 * Reads listing records: each directory's candidates, then their meta (a stat block or one L record each),
 * into entries. `onEntry` may throw (the entry cap).
 */
class ListingReader implements RecordReader {
  private tierLetter = '';
  private dir: Buffer | undefined;
  private candidates: Buffer[] = [];
  private lRecords = 0;
  /** every candidate so far: the entry cap counts them as they come, before any stat */
  private candidateCount = 0;
  /** the last stat block: how many candidates it was for, how many lines it had */
  private lastBlock = { asked: 0, answered: 0 };
  ended = false;
  rootState: 'missing' | 'notDirectory' | undefined;
  /** stat failed as a whole (it could not run, or answered for none): the exit status */
  statFailure: number | undefined;

  constructor(
    private readonly job: Job,
    private readonly root: Buffer,
    /** stat of one path: the candidate is the path itself, not a name in a directory */
    private readonly single: boolean,
    private readonly maxEntries: number,
    private readonly onEntry: (entry: RemoteEntry, path: Buffer) => void,
  ) {}

  tier(letter: string): void {
    if (letter !== 's' && letter !== 'l') throw protocolError(this.job, this.root, 'a file listing', `tier ${letter}`);
    this.tierLetter = letter;
  }

  record(record: Buffer): void {
    if (this.ended) throw protocolError(this.job, this.root, 'a file listing', 'output after its end');
    const body = record.subarray(1);
    switch (record[0]) {
      case KIND.D:
        this.dir = Buffer.from(body);
        this.candidates = [];
        return;
      case KIND.N:
        this.candidateCount += 1;
        if (this.candidateCount > this.maxEntries) throw tooManyEntries(this.job.host, this.root, this.maxEntries);
        this.candidates.push(Buffer.from(body));
        return;
      case KIND.S:
        return this.statBlock(body);
      case KIND.T:
        return this.statStatus(body.toString('latin1'));
      case KIND.L:
        return this.lsRecord(body.toString('latin1'));
      case KIND.A:
        throw new TransferError('EACCES', 'cannot list the remote directory', { host: this.job.host, path: showRemote(body), detail: 'Permission denied' });
      case KIND.X:
        this.rootState = body.toString('latin1') === 'n' ? 'missing' : 'notDirectory';
        return;
      case KIND.E:
        this.ended = true;
        return;
      default:
        throw protocolError(this.job, this.root, 'a file listing', Buffer.concat([Buffer.from('a record of kind '), record.subarray(0, 1)]));
    }
  }

  /** The name in its directory (and the directory the entry is named under). */
  private split(candidate: Buffer): { dir: Buffer; name: Buffer } {
    if (this.single) {
      const { dir, base } = splitRemote(candidate);
      return { dir, name: base };
    }
    const dir = this.dir;
    if (!dir) throw protocolError(this.job, this.root, 'a file listing', 'a name outside any directory');
    const prefix = dir.length === 1 && dir[0] === 0x2f ? 1 : dir.length + 1;
    if (candidate.length <= prefix || !candidate.subarray(0, prefix - 1).equals(dir.subarray(0, prefix - 1)) || candidate[prefix - 1] !== 0x2f) {
      throw protocolError(this.job, this.root, 'a file listing', 'a name outside its directory');
    }
    const name = candidate.subarray(prefix);
    checkName(name, this.job.host, dir);
    // The listing's globs never name '.' or '..': a server that does is not running our command.
    if (isDotEntry(name)) throw protocolError(this.job, this.root, 'a file listing', `the name '${name.toString('latin1')}'`);
    return { dir, name };
  }

  private emit(candidate: Buffer, attributes: { mode: number; size: number; mtime: number | null }): void {
    const { dir, name } = this.split(candidate);
    const made = makeEntry(dir, name, attributes, this.job.host);
    this.onEntry(made.entry, made.path);
  }

  /** `stat -c '%f %s %Y %n'` lines, one per candidate that still existed, in the candidates' order. */
  private statBlock(block: Buffer): void {
    if (this.tierLetter !== 's') throw protocolError(this.job, this.root, 'a file listing', 'stat output from a server without stat');
    let at = 0;
    let answered = 0;
    for (const candidate of this.candidates) {
      const fields: string[] = [];
      let cursor = at;
      for (let i = 0; i < 3 && cursor < block.length; i += 1) {
        const space = block.indexOf(SPACE, cursor);
        if (space < 0 || space - cursor > 32) break;
        fields.push(block.toString('latin1', cursor, space));
        cursor = space + 1;
      }
      const end = cursor + candidate.length;
      // Not this candidate's line: it vanished between the listing and stat, and has none.
      if (fields.length !== 3 || end >= block.length + 1 || !block.subarray(cursor, end).equals(candidate) || block[end] !== NEWLINE) continue;
      const [mode, size, mtime] = fields as [string, string, string];
      this.emit(candidate, { mode: wholeOrNaN(mode, /^[0-9a-f]{1,8}$/, 16), size: wholeOrNaN(size, /^\d{1,20}$/), mtime: wholeOrNaN(mtime, /^-?\d{1,20}$/) });
      at = end + 1;
      answered += 1;
    }
    if (at !== block.length) throw protocolError(this.job, this.root, 'a file listing', `stat printed ${block.length - at} bytes it was not asked for`);
    this.lastBlock = { asked: this.candidates.length, answered };
    this.candidates = [];
  }

  /**
   * stat's exit status after its block. 1 is stat's own "some name failed" (one vanished since the shell
   * saw it); anything else (126: the argument list too long, 127: gone, a signal) or no line at all for
   * names that existed a moment ago means the block says nothing about them: never a silent empty listing.
   */
  private statStatus(text: string): void {
    if (this.tierLetter !== 's' || !/^\d{1,3}$/.test(text)) throw protocolError(this.job, this.root, 'a file listing', `a stat status ${text}`);
    const status = Number(text);
    if (status === 0) return;
    if (status !== 1 || (this.lastBlock.answered === 0 && this.lastBlock.asked > 0)) this.statFailure ??= status;
  }

  /** The fallback's `L<perm> <size> <mtime|->` for the next candidate, or `L-` when it is gone. */
  private lsRecord(text: string): void {
    if (this.tierLetter !== 'l') throw protocolError(this.job, this.root, 'a file listing', 'ls output from a server with stat');
    const candidate = this.candidates[this.lRecords];
    if (!candidate) throw protocolError(this.job, this.root, 'a file listing', 'more ls records than names');
    this.lRecords += 1;
    if (this.lRecords === this.candidates.length) {
      this.lRecords = 0;
      this.candidates = [];
    }
    const [perm = '', size = '', time = ''] = text.split(' ');
    if (text === '-' || perm === '') return;
    const mode = modeOfPermissionString(perm);
    if (mode === undefined) throw protocolError(this.job, this.root, 'a file listing', `a mode ${cleanText(perm, 20)}`);
    const sized = (mode & 0o170000) === 0o100000 || (mode & 0o170000) === 0o120000 || (mode & 0o170000) === 0o040000;
    // `date -r` follows a symlink: its own time is unknown here.
    const link = (mode & 0o170000) === 0o120000;
    this.emit(candidate, { mode, size: sized ? wholeOrNaN(size, /^\d{1,20}$/) : 0, mtime: time === '-' || link ? null : wholeOrNaN(time, /^-?\d{1,20}$/) });
  }
}

/** The server ran no command of ours: no shell (an SFTP-only account), or something else printed instead. */
function noShell(job: Job, path: Buffer, outcome: { exitCode: number | null; stderr: string; stdoutHead: string }): TransferError {
  const detail = cleanText(outcome.stderr || outcome.stdoutHead, MAX_DETAIL);
  const summary = definitelyNoScp(outcome.exitCode, detail) ? 'the server runs no commands (use transport "sftp" or "auto")' : 'the server gave an unexpected reply to a remote command';
  return new TransferError('EPROTO', summary, { host: job.host, path: showRemote(path), ...(detail ? { detail } : {}) });
}

/** stat failed as a whole in some directory: the listing would be missing entries without saying so. */
function statFailed(job: Job, path: Buffer, status: number, stderr: string): TransferError {
  return new TransferError('EPROTO', 'stat could not describe the entries of the remote directory', {
    host: job.host,
    path: showRemote(path),
    detail: cleanText(`stat exited with status ${status}${stderr ? `: ${stderr}` : ''}`, MAX_DETAIL),
  });
}

export async function shellList(job: Job, root: Buffer, options: ListOptions): Promise<RemoteEntry[]> {
  const entries: RemoteEntry[] = [];
  const reader = new ListingReader(job, root, false, options.maxEntries, (entry) => {
    entries.push(entry);
    if (entries.length > options.maxEntries) throw tooManyEntries(job.host, root, options.maxEntries);
  });
  const depth = options.recursive ? options.maxDepth : 1;
  // More output than the allowed entries can print is more entries than allowed: ETOOBIG, as over SFTP.
  const outcome = await runRecords(job, listCommand(root, depth), showRemote(root), reader, {
    maxBytes: (options.maxEntries + 16) * BYTES_PER_ENTRY,
    tooMuch: () => tooManyEntries(job.host, root, options.maxEntries),
  });
  if (reader.rootState === 'missing') throw new TransferError('ENOENT', 'the remote directory does not exist', { host: job.host, path: showRemote(root) });
  if (reader.rootState === 'notDirectory') throw new TransferError('ENOTDIR', 'the remote path is not a directory', { host: job.host, path: showRemote(root) });
  if (!outcome.sawMarker) throw noShell(job, root, outcome);
  if (!reader.ended) throw protocolError(job, root, 'a file listing', outcome.stderr || 'it ended early');
  if (reader.statFailure !== undefined) throw statFailed(job, root, reader.statFailure, outcome.stderr);
  return entries;
}

export async function shellStat(job: Job, path: Buffer): Promise<RemoteEntry | null> {
  let found: RemoteEntry | null = null;
  const reader = new ListingReader(job, path, true, 1, (entry) => {
    if (found) throw protocolError(job, path, 'a file test', 'two entries for one path');
    found = entry;
  });
  const outcome = await runRecords(job, statCommand(path), showRemote(path), reader, { maxBytes: 4 * BYTES_PER_ENTRY });
  if (!outcome.sawMarker) throw noShell(job, path, outcome);
  if (!reader.ended) throw protocolError(job, path, 'a file test', outcome.stderr || 'it ended early');
  if (reader.statFailure !== undefined) throw statFailed(job, path, reader.statFailure, outcome.stderr);
  return found;
}

/** Reads `R` records: one per call of the change function, then `E`. */
class OutcomeReader implements RecordReader {
  readonly letters: { letter: string; text: string }[] = [];
  ended = false;

  constructor(
    private readonly job: Job,
    private readonly path: Buffer,
  ) {}

  tier(): void {
    // any tier: a change needs no stat
  }

  record(record: Buffer): void {
    if (this.ended || (record[0] !== KIND.R && record[0] !== KIND.E) || (record[0] === KIND.R && record.length < 2)) {
      throw protocolError(this.job, this.path, 'a change', record.subarray(0, 40));
    }
    if (record[0] === KIND.E) {
      this.ended = true;
      return;
    }
    const letter = String.fromCharCode(record[1] as number);
    if (!Object.values(OUTCOME_LETTERS).includes(letter as never) || record.length > 4096 + 2) {
      throw protocolError(this.job, this.path, 'a change', record.subarray(0, 40));
    }
    this.letters.push({ letter, text: record.subarray(2).toString('utf8') });
  }
}

const SUMMARIES: Record<Mutation['operation'], string> = {
  delete: 'cannot remove the remote file',
  rmdir: 'cannot remove the remote directory',
  mkdir: 'cannot create the remote directory',
  chmod: 'cannot set the remote mode or times',
  rename: 'cannot rename the remote path',
};

function outcomeOf(job: Job, operation: Mutation['operation'], args: Buffer[], answer: { letter: string; text: string }): Outcome {
  const [path, to] = args as [Buffer, Buffer | undefined];
  const fail = (code: TransferError['code'], summary: string): Outcome => failure(job, path, code, summary, undefined, to);
  switch (answer.letter) {
    case OUTCOME_LETTERS.done:
      return { path, ...(to ? { to } : {}), done: ({ delete: 'deleted', rmdir: 'removed', mkdir: 'created', chmod: 'changed', rename: 'renamed' } as const)[operation] };
    case OUTCOME_LETTERS.existed:
      return { path, done: 'existed' };
    case OUTCOME_LETTERS.missing:
      return fail('ENOENT', operation === 'rmdir' ? 'no such directory' : 'no such file');
    case OUTCOME_LETTERS.exists:
      return operation === 'mkdir' ? fail('EEXIST', 'something other than a directory is there') : fail('EEXIST', 'the new name exists (allow overwriting to replace it)');
    case OUTCOME_LETTERS.isDirectory:
      return operation === 'rename' ? fail('EISDIR', 'a directory is at the new name') : fail('EISDIR', 'a directory (use rmdir)');
    case OUTCOME_LETTERS.notDirectory:
      return fail('ENOTDIR', 'not a directory');
    default: {
      const detail = cleanText(answer.text.trim(), MAX_DETAIL);
      // rmdir(2) says ENOTEMPTY; the documented code for "something is in the way" is EEXIST.
      if (operation === 'rmdir' && /not empty/i.test(detail)) return fail('EEXIST', 'the directory is not empty');
      return failure(job, path, undefined, undefined, new TransferError(codeForServerMessage(detail), SUMMARIES[operation], { host: job.host, path: showRemote(path), detail }), to);
    }
  }
}

/** Every path's change in as few commands as the command-length cap allows (one, for any usual message). */
export async function shellMutate(job: Job, request: Mutation): Promise<Outcome[]> {
  const fn =
    request.operation === 'rename'
      ? changeFunction('rename', { overwrite: request.overwrite })
      : changeFunction(request.operation, request.operation === 'mkdir' ? { parents: request.parents } : request.operation === 'chmod' ? { mode: request.mode } : {});
  const calls: Buffer[][] = request.operation === 'rename' ? request.pairs.map((pair) => [pair.from, pair.to]) : request.paths.map((path) => [path]);
  const outcomes: Outcome[] = [];
  let start = 0;
  for (const { command, count } of batchCommands(changePrefix(fn), calls.map(changeCall), CHANGE_SUFFIX)) {
    const batch = calls.slice(start, start + count);
    start += count;
    const first = (batch[0] as Buffer[])[0] as Buffer;
    const reader = new OutcomeReader(job, first);
    const outcome = await runRecords(job, command, showRemote(first), reader, { maxBytes: batch.length * 8192 + 4096 });
    if (!outcome.sawMarker) throw noShell(job, first, outcome);
    if (!reader.ended || reader.letters.length !== batch.length) throw protocolError(job, first, 'a change', outcome.stderr || `${reader.letters.length} answers for ${batch.length} paths`);
    batch.forEach((args, index) => outcomes.push(outcomeOf(job, request.operation, args, reader.letters[index] as { letter: string; text: string })));
  }
  return outcomes;
}
