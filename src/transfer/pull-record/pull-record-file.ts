/**
 * The record of earlier pulls ("only new or changed files") kept in a small JSON file: for each remote
 * file the size and mtime it had when it was last fetched. One file per connection, device and requested
 * remote path (the caller names it); written atomically (a temporary file renamed over the old one). A
 * corrupt or foreign file counts as empty: the worst it can cause is one fetch too many.
 */
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import path from 'path';
import type { PullRecord } from '../types';

/** Entries kept per file; beyond this the oldest go (they are fetched once more, nothing is lost). */
export const MAX_PULL_RECORD_ENTRIES = 100_000;
const MAX_FILE_BYTES = 32 * 1024 * 1024;

type Seen = { size: number; mtime: number };

function isSeen(value: unknown): value is Seen {
  const seen = value as Partial<Seen> | null;
  return typeof seen === 'object' && seen !== null && Number.isSafeInteger(seen.size) && Number.isFinite(seen.mtime);
}

export class FilePullRecord implements PullRecord {
  private readonly entries = new Map<string, Seen>();
  private changed = false;

  private constructor(readonly file: string) {}

  /** The record in `file`; missing, oversized or unreadable files give an empty record. */
  static async load(file: string): Promise<FilePullRecord> {
    const record = new FilePullRecord(file);
    try {
      const stats = await fs.stat(file);
      if (!stats.isFile() || stats.size > MAX_FILE_BYTES) return record;
      const data = JSON.parse(await fs.readFile(file, 'utf8')) as { files?: unknown };
      if (data && typeof data.files === 'object' && data.files !== null) {
        for (const [remotePath, seen] of Object.entries(data.files)) if (isSeen(seen)) record.entries.set(remotePath, { size: seen.size, mtime: seen.mtime });
      }
    } catch {
      // missing or not ours: start afresh
    }
    return record;
  }

  /** `msg.reset`: forgets every earlier pull of this record. */
  static async clear(file: string): Promise<void> {
    await fs.rm(file, { force: true });
  }

  get(remotePath: string): Seen | undefined {
    return this.entries.get(remotePath);
  }

  set(remotePath: string, seen: Seen): void {
    this.entries.delete(remotePath);
    this.entries.set(remotePath, { size: seen.size, mtime: seen.mtime });
    while (this.entries.size > MAX_PULL_RECORD_ENTRIES) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.changed = true;
  }

  /** Writes the record when a pull changed it (also after a failed pull: what was fetched stays fetched). */
  async save(): Promise<void> {
    if (!this.changed) return;
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const temporary = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await fs.writeFile(temporary, JSON.stringify({ files: Object.fromEntries(this.entries) }), { mode: 0o600 });
      await fs.rename(temporary, this.file);
      this.changed = false;
    } finally {
      await fs.rm(temporary, { force: true });
    }
  }
}
