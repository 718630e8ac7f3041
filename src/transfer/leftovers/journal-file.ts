/**
 * The LeftoverJournal kept in a file (one per server, in Node-RED's user directory): a log of lines,
 * `+<kind> <base64 path>` when a name is recorded and `-<kind> <base64 path>` when it is forgotten.
 *
 * Changes are appended synchronously. A recorded name must be on disk before the server can create it,
 * so the upload waits for that write: one append of a line is a few microseconds, where the atomic
 * rewrite of the whole file that earlier versions did on every change cost each upload some seven
 * asynchronous file system calls (about 2.5 ms per message on a loaded machine, issue 10), and a burst of
 * a thousand uploads rewrote a file of up to a thousand names for each of them.
 *
 * The file is rewritten atomically (a temporary file renamed over it) when it has grown well beyond the
 * names it holds, on the first change after loading it (so a line torn by a crash is never appended to,
 * and the JSON form of earlier versions is replaced), and after a failed append; it is removed once it
 * holds no name. The file is checked when loaded: anything but our own temporary names is dropped, so a
 * corrupt or foreign file can never make a sweep remove a user's path.
 */
import { randomBytes } from 'crypto';
import fs, { promises as fsp } from 'fs';
import path from 'path';
import { MAX_LEFTOVER_PATH, isValidLeftover, type Leftover, type LeftoverJournal } from './journal';

/** The base64 of a part's mark at most (a key of 64 hex digits and four numbers). */
const PART_MARK_LINE_BYTES = 256;

/** Names kept per server; beyond this the oldest ones no job uses are dropped. */
export const MAX_LEFTOVERS = 2_000;
/** The first line of the file. */
export const JOURNAL_HEADER = 'scp-leftovers 2';
/** The log is rewritten once it would hold more lines than twice its names plus this. */
const COMPACT_SLACK = 64;
/** The longest line: sign, kind, space, the base64 of the longest path, newline. */
const MAX_LINE_BYTES = Math.ceil(MAX_LEFTOVER_PATH / 3) * 4 + 16 + PART_MARK_LINE_BYTES;
/** A file larger than this is not read (the longest log compaction allows, of the longest paths). */
const MAX_FILE_BYTES = (2 * MAX_LEFTOVERS + COMPACT_SLACK + 1) * MAX_LINE_BYTES;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/u;
/** A kept part's line carries its mark (JSON, base64) after the path. */
const LINE = /^([+-])(file|staging|part) ([A-Za-z0-9+/]*={0,2})(?: ([A-Za-z0-9+/]*={0,2}))?$/u;

function keyOf(item: Leftover): string {
  return `${item.kind}:${item.path.toString('latin1')}`;
}

function lineOf(sign: '+' | '-', item: Leftover): string {
  const mark = sign === '+' && item.part ? ` ${Buffer.from(JSON.stringify(item.part)).toString('base64')}` : '';
  return `${sign}${item.kind} ${item.path.toString('base64')}${mark}\n`;
}

/** The mark of a '+part' line, or undefined when it is not one (the line is then refused). */
function markOf(text: string | undefined): Leftover['part'] {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as Leftover['part'];
  } catch {
    return undefined;
  }
}

interface Parsed {
  items: Leftover[];
  refused: number;
}

/** The JSON form of version 1: {"version": 1, "entries": [{"path": base64, "kind": ...}]}. */
function parseVersion1(text: string): Parsed {
  const data = JSON.parse(text) as { entries?: unknown };
  if (!Array.isArray(data?.entries)) throw new Error('no entries list');
  const items: Leftover[] = [];
  let refused = 0;
  for (const entry of data.entries as Partial<{ path: string; kind: string }>[]) {
    const item = typeof entry?.path === 'string' && BASE64.test(entry.path) ? { path: Buffer.from(entry.path, 'base64'), kind: entry.kind as Leftover['kind'] } : undefined;
    if (item && isValidLeftover(item)) items.push(item);
    else refused += 1;
  }
  return { items, refused };
}

/** The log, replayed: what it recorded and did not forget, in the order first recorded. */
function parseLog(text: string): Parsed {
  const lines = text.split('\n');
  if (lines[0] !== JOURNAL_HEADER) throw new Error('not a leftover journal');
  const live = new Map<string, Leftover>();
  let refused = 0;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const match = LINE.exec(line);
    const part = match && match[1] === '+' && match[2] === 'part' ? markOf(match[4]) : undefined;
    const item: Leftover | undefined = match ? { path: Buffer.from(match[3], 'base64'), kind: match[2] as Leftover['kind'], ...(part ? { part } : {}) } : undefined;
    // A '-part' line names the part alone: what it forgets needs no mark.
    const checked = item && match?.[1] === '-' && item.kind === 'part' ? { ...item, part: { key: '0'.repeat(64), side: 'local' as const, size: 0, mtime: 0, since: 0 } } : item;
    if (!match || !item || !checked || !isValidLeftover(checked)) {
      refused += 1;
      continue;
    }
    if (match[1] === '+') live.set(keyOf(item), item);
    else live.delete(keyOf(item));
  }
  return { items: [...live.values()], refused };
}

/** What a journal file holds (either form); throws when it is neither. */
export function parseJournal(text: string): Parsed {
  return text.trimStart().startsWith('{') ? parseVersion1(text) : parseLog(text);
}

export class FileLeftoverJournal implements LeftoverJournal {
  private readonly entries = new Map<string, Leftover>();
  private readonly inUse = new Set<string>();
  private loaded: Promise<void> | undefined;
  /** lines in the file (its header included); 0: there is no file */
  private lines = 0;
  /** the file must be rewritten whole before anything is appended: it was loaded, or an append failed */
  private rewriteFirst = false;

  constructor(
    readonly file: string,
    public log: (text: string) => void = () => undefined,
  ) {}

  async record(items: Leftover[]): Promise<void> {
    await this.load();
    const valid = items.filter(isValidLeftover);
    const changes = this.makeRoom(valid.length).map((item) => lineOf('-', item));
    let skipped = 0;
    for (const item of valid) {
      if (this.entries.size >= MAX_LEFTOVERS) {
        skipped += 1;
        continue;
      }
      const key = keyOf(item);
      this.entries.set(key, item);
      this.inUse.add(key);
      changes.push(lineOf('+', item));
    }
    if (skipped > 0) this.log(`leftover journal ${this.file} is full: ${skipped} temporary names not recorded`);
    this.write(changes);
  }

  async forget(items: Leftover[]): Promise<void> {
    await this.load();
    const changes: string[] = [];
    for (const item of items) {
      const key = keyOf(item);
      this.inUse.delete(key);
      if (this.entries.delete(key)) changes.push(lineOf('-', item));
    }
    this.write(changes);
  }

  release(items: Leftover[]): void {
    for (const item of items) this.inUse.delete(keyOf(item));
  }

  async takeOrphans(): Promise<Leftover[]> {
    await this.load();
    const orphans: Leftover[] = [];
    for (const [key, item] of this.entries) {
      if (this.inUse.has(key) || item.kind === 'part') continue;
      this.inUse.add(key);
      orphans.push(item);
    }
    return orphans;
  }

  async parts(): Promise<Leftover[]> {
    await this.load();
    return [...this.entries.values()].filter((item) => item.kind === 'part');
  }

  private load(): Promise<void> {
    this.loaded ??= this.read();
    return this.loaded;
  }

  private async read(): Promise<void> {
    let text: string;
    try {
      const stat = await fsp.stat(this.file);
      if (stat.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
      text = await fsp.readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.log(`leftover journal ${this.file} not read: ${(error as Error).message}`);
      return;
    }
    try {
      const { items, refused } = parseJournal(text);
      for (const item of items.slice(-MAX_LEFTOVERS)) this.entries.set(keyOf(item), item);
      if (refused > 0) this.log(`leftover journal ${this.file}: ${refused} entries that are not our temporary names were ignored`);
    } catch (error) {
      this.log(`leftover journal ${this.file} is corrupt and was ignored: ${(error as Error).message}`);
    }
    // A file is there: the first change replaces it (never appended to: its last line may be torn).
    this.lines = 1;
    this.rewriteFirst = true;
  }

  /** Keeps the journal bounded: the oldest names no running job uses make room for new ones. */
  private makeRoom(count: number): Leftover[] {
    const dropped: Leftover[] = [];
    for (const [key, item] of this.entries) {
      if (this.entries.size + count <= MAX_LEFTOVERS) break;
      if (this.inUse.has(key)) continue;
      this.entries.delete(key);
      dropped.push(item);
    }
    return dropped;
  }

  /** Puts `changes` (lines) on disk now; a failure is logged and the next change rewrites the file. */
  private write(changes: string[]): void {
    if (changes.length === 0) return;
    try {
      if (this.entries.size === 0) this.remove();
      else if (this.lines === 0) this.create(this.file, 'w', this.recordedLines());
      else if (this.rewriteFirst || this.lines + changes.length > 2 * this.entries.size + COMPACT_SLACK) this.rewrite();
      else {
        fs.appendFileSync(this.file, changes.join(''));
        this.lines += changes.length;
      }
    } catch (error) {
      this.rewriteFirst = true;
      this.log(`leftover journal ${this.file} not written: ${(error as Error).message}`);
    }
  }

  /** A new file holding the header and `lines` (its directory made when missing). */
  private create(file: string, flag: 'w' | 'wx', lines: string[]): void {
    const text = `${JOURNAL_HEADER}\n${lines.join('')}`;
    try {
      fs.writeFileSync(file, text, { flag, mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, text, { flag, mode: 0o600 });
    }
    if (file === this.file) {
      this.lines = lines.length + 1;
      this.rewriteFirst = false;
    }
  }

  private recordedLines(): string[] {
    return [...this.entries.values()].map((item) => lineOf('+', item));
  }

  /** Replaces the file by one naming what is recorded now, atomically. */
  private rewrite(): void {
    const lines = this.recordedLines();
    const temporary = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      this.create(temporary, 'wx', lines);
      fs.renameSync(temporary, this.file);
    } catch (error) {
      try {
        fs.rmSync(temporary, { force: true });
      } catch {
        // the first error is the one to report
      }
      throw error;
    }
    this.lines = lines.length + 1;
    this.rewriteFirst = false;
  }

  private remove(): void {
    fs.rmSync(this.file, { force: true });
    this.lines = 0;
    this.rewriteFirst = false;
  }
}

const journals = new Map<string, FileLeftoverJournal>();

/**
 * The journal kept in `file`, shared by everything in this process that uses it (two connection nodes
 * for the same server, a redeployed node and the one it replaces), so their changes never interleave.
 */
export function leftoverJournalFor(file: string, log?: (text: string) => void): FileLeftoverJournal {
  const resolved = path.resolve(file);
  let journal = journals.get(resolved);
  if (!journal) {
    journal = new FileLeftoverJournal(resolved);
    journals.set(resolved, journal);
  }
  if (log) journal.log = log;
  return journal;
}
