/**
 * Temporary remote names an upload creates (`.<name>.scp-<random>.part` files, `.scp-<random>.part`
 * staging directories) are removed when the upload fails while the server is reachable. When it is not
 * (connection lost, Node-RED stopped hard), a `LeftoverJournal` remembers them so that the next job on
 * that server removes them. Names are recorded before the server can create them and forgotten once
 * they are gone (renamed into place or removed).
 */
import { endsWithSlash, splitRemote } from '../remote-path';
import { isOurTemporaryName } from './temp-name';

export interface Leftover {
  /** the remote path as raw bytes */
  path: Buffer;
  /** a temporary file, or a staging directory (removed with its contents) */
  kind: 'file' | 'staging';
}

/**
 * Where temporary names are kept between jobs (and Node-RED restarts). Implementations never reject:
 * a journal that cannot be written must not fail the transfer it protects.
 */
export interface LeftoverJournal {
  /** Records names before they are used; they count as in use until forgotten or released. */
  record(items: Leftover[]): Promise<void>;
  /** The names are gone from the server: drop them. */
  forget(items: Leftover[]): Promise<void>;
  /** Their job ended without removing them: they stay recorded, free for the next sweep. */
  release(items: Leftover[]): void;
  /** Recorded names no running job uses, now marked in use by the caller (forget or release them). */
  takeOrphans(): Promise<Leftover[]>;
}

/** Longer paths (beyond Linux's PATH_MAX) are not recorded, so the journal stays small. */
export const MAX_LEFTOVER_PATH = 4096;

/** Only our own temporary names may be recorded or removed: a bad record must never name a user's path. */
export function isValidLeftover(item: Leftover): boolean {
  if (item.kind !== 'file' && item.kind !== 'staging') return false;
  if (item.path.length === 0 || item.path.length > MAX_LEFTOVER_PATH) return false;
  if (item.path.includes(0) || endsWithSlash(item.path)) return false;
  return isOurTemporaryName(splitRemote(item.path).base, item.kind);
}

/** One job's share of the journal: what it recorded and has not yet seen gone. */
export class JobTemporaries {
  private held: Leftover[] = [];

  constructor(private readonly journal: LeftoverJournal | undefined) {}

  /** Records the names the job is about to use (one journal write, before the first one is sent). */
  async record(items: Leftover[]): Promise<void> {
    if (items.length === 0) return;
    this.held.push(...items);
    await this.journal?.record(items);
  }

  /** Everything recorded so far is gone from the server (renamed into place or removed). */
  async gone(): Promise<void> {
    const items = this.held;
    this.held = [];
    if (items.length > 0) await this.journal?.forget(items);
  }

  /** The job ends: what is still held stays recorded for the next job on this server to remove. */
  release(): void {
    const items = this.held;
    this.held = [];
    if (items.length > 0) this.journal?.release(items);
  }
}
