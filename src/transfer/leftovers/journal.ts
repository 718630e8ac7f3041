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
  /** the remote path as raw bytes (a 'part' on the local side: the local path) */
  path: Buffer;
  /**
   * a temporary file, or a staging directory (removed with its contents), or a part kept on purpose for a
   * resumed transfer (link/resume/): never swept as an orphan, dropped by the resume once too old or unusable
   */
  kind: 'file' | 'staging' | 'part';
  /** for a 'part': what it belongs to */
  part?: PartMark;
}

/** What a kept part is the beginning of: the next message for the same source and target may continue it. */
export interface PartMark {
  /** hex sha256 of direction, device, source and target (link/resume/resume-key.ts) */
  key: string;
  /** where the part is: on the server (uploads) or here (downloads) */
  side: 'remote' | 'local';
  /** the source's size and mtime (ms) when the part was begun: a changed source starts over */
  size: number;
  mtime: number;
  /** when the part was last written (ms since the epoch) */
  since: number;
}

function isPartMark(mark: PartMark | undefined): boolean {
  return (
    mark !== undefined &&
    typeof mark.key === 'string' &&
    /^[0-9a-f]{64}$/u.test(mark.key) &&
    (mark.side === 'remote' || mark.side === 'local') &&
    [mark.size, mark.mtime, mark.since].every((n) => Number.isSafeInteger(n) && n >= 0)
  );
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
  /** Recorded names no running job uses, now marked in use by the caller (forget or release them); never parts. */
  takeOrphans(): Promise<Leftover[]>;
  /** The kept parts (resume); a journal without this keeps none, and resume starts over every time. */
  parts?(): Promise<Leftover[]>;
}

/** Longer paths (beyond Linux's PATH_MAX) are not recorded, so the journal stays small. */
export const MAX_LEFTOVER_PATH = 4096;

/** Only our own temporary names may be recorded or removed: a bad record must never name a user's path. */
export function isValidLeftover(item: Leftover): boolean {
  if (item.kind !== 'file' && item.kind !== 'staging' && item.kind !== 'part') return false;
  if (item.kind === 'part' && !isPartMark(item.part)) return false;
  if (item.path.length === 0 || item.path.length > MAX_LEFTOVER_PATH) return false;
  if (item.path.includes(0) || endsWithSlash(item.path)) return false;
  return isOurTemporaryName(splitRemote(item.path).base, item.kind === 'part' ? 'file' : item.kind);
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
