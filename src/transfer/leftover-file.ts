/**
 * The LeftoverJournal kept in a JSON file (one per server, in Node-RED's user directory). Every change
 * is written atomically (a temporary file renamed over the old one); changes made while a write runs
 * share the next write. The file is checked when loaded: anything but our own temporary names is
 * dropped, so a corrupt or foreign file can never make a sweep remove a user's path.
 */
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import path from 'path';
import { MAX_LEFTOVER_PATH, isValidLeftover, type Leftover, type LeftoverJournal } from './leftovers';

/** Names kept per server; beyond this the oldest ones no job uses are dropped. */
export const MAX_LEFTOVERS = 2_000;
/** A file larger than this is not read (MAX_LEFTOVERS entries of the longest paths, in base64, fit). */
const MAX_FILE_BYTES = MAX_LEFTOVERS * (Math.ceil(MAX_LEFTOVER_PATH / 3) * 4 + 64);

interface StoredEntry {
  /** base64 of the remote path's bytes */
  path: string;
  kind: Leftover['kind'];
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/u;

function keyOf(item: Leftover): string {
  return `${item.kind}:${item.path.toString('latin1')}`;
}

function parseEntries(text: string): { items: Leftover[]; refused: number } {
  const data = JSON.parse(text) as { entries?: unknown };
  if (!Array.isArray(data?.entries)) throw new Error('no entries list');
  const items: Leftover[] = [];
  let refused = 0;
  for (const entry of data.entries as Partial<StoredEntry>[]) {
    const item = typeof entry?.path === 'string' && BASE64.test(entry.path) ? { path: Buffer.from(entry.path, 'base64'), kind: entry.kind as Leftover['kind'] } : undefined;
    if (item && isValidLeftover(item)) items.push(item);
    else refused += 1;
  }
  return { items, refused };
}

export class FileLeftoverJournal implements LeftoverJournal {
  private readonly entries = new Map<string, Leftover>();
  private readonly inUse = new Set<string>();
  private loaded: Promise<void> | undefined;
  /** the write now running (or the last one) */
  private writing: Promise<void> = Promise.resolve();
  /** a write waiting for the running one: every change made meanwhile goes into it */
  private nextWrite: Promise<void> | undefined;

  constructor(
    readonly file: string,
    public log: (text: string) => void = () => undefined,
  ) {}

  async record(items: Leftover[]): Promise<void> {
    await this.load();
    const valid = items.filter(isValidLeftover);
    this.makeRoom(valid.length);
    let skipped = 0;
    for (const item of valid) {
      if (this.entries.size >= MAX_LEFTOVERS) {
        skipped += 1;
        continue;
      }
      const key = keyOf(item);
      this.entries.set(key, item);
      this.inUse.add(key);
    }
    if (skipped > 0) this.log(`leftover journal ${this.file} is full: ${skipped} temporary names not recorded`);
    await this.persist();
  }

  async forget(items: Leftover[]): Promise<void> {
    await this.load();
    let changed = false;
    for (const item of items) {
      const key = keyOf(item);
      this.inUse.delete(key);
      changed = this.entries.delete(key) || changed;
    }
    if (changed) await this.persist();
  }

  release(items: Leftover[]): void {
    for (const item of items) this.inUse.delete(keyOf(item));
  }

  async takeOrphans(): Promise<Leftover[]> {
    await this.load();
    const orphans: Leftover[] = [];
    for (const [key, item] of this.entries) {
      if (this.inUse.has(key)) continue;
      this.inUse.add(key);
      orphans.push(item);
    }
    return orphans;
  }

  private load(): Promise<void> {
    this.loaded ??= this.read();
    return this.loaded;
  }

  private async read(): Promise<void> {
    let text: string;
    try {
      const stat = await fs.stat(this.file);
      if (stat.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
      text = await fs.readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.log(`leftover journal ${this.file} not read: ${(error as Error).message}`);
      return;
    }
    try {
      const { items, refused } = parseEntries(text);
      for (const item of items.slice(-MAX_LEFTOVERS)) this.entries.set(keyOf(item), item);
      if (refused > 0) this.log(`leftover journal ${this.file}: ${refused} entries that are not our temporary names were ignored`);
    } catch (error) {
      this.log(`leftover journal ${this.file} is corrupt and was ignored: ${(error as Error).message}`);
    }
  }

  /** Keeps the journal bounded: the oldest names no running job uses make room for new ones. */
  private makeRoom(count: number): void {
    for (const key of this.entries.keys()) {
      if (this.entries.size + count <= MAX_LEFTOVERS) return;
      if (!this.inUse.has(key)) this.entries.delete(key);
    }
  }

  /** Resolves once a write that includes every change made so far has ended (failures are logged). */
  private persist(): Promise<void> {
    if (this.nextWrite) return this.nextWrite;
    const next = this.writing.then(async () => {
      this.nextWrite = undefined;
      try {
        await this.write();
      } catch (error) {
        this.log(`leftover journal ${this.file} not written: ${(error as Error).message}`);
      }
    });
    this.nextWrite = next;
    this.writing = next;
    return next;
  }

  private async write(): Promise<void> {
    if (this.entries.size === 0) {
      await fs.rm(this.file, { force: true });
      return;
    }
    const entries: StoredEntry[] = [...this.entries.values()].map((item) => ({ path: item.path.toString('base64'), kind: item.kind }));
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await fs.writeFile(temporary, JSON.stringify({ version: 1, entries }), { mode: 0o600 });
      await fs.rename(temporary, this.file);
    } catch (error) {
      await fs.rm(temporary, { force: true });
      throw error;
    }
  }
}

const journals = new Map<string, FileLeftoverJournal>();

/**
 * The journal kept in `file`, shared by everything in this process that uses it (two connection nodes
 * for the same server, a redeployed node and the one it replaces), so their writes never interleave.
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
