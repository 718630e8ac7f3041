/**
 * The remote toolbox (list, stat, delete, rename, mkdir, rmdir, chmod) as a library: the request the
 * `scp remote` node builds, the entries and per-path outcomes it gets back. Paths travel as raw bytes
 * (a POSIX server names files with bytes); results give text where the bytes are valid UTF-8, the bytes
 * themselves (a Buffer) where they are not, so a name can be handed back to any node unchanged.
 */
import type { TransferContext, TransportUsed } from '../transfer';

export type RemoteOperation = 'list' | 'stat' | 'delete' | 'rename' | 'mkdir' | 'rmdir' | 'chmod';
export const REMOTE_OPERATIONS: readonly RemoteOperation[] = ['list', 'stat', 'delete', 'rename', 'mkdir', 'rmdir', 'chmod'];

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';
export const ENTRY_TYPES: readonly EntryType[] = ['file', 'directory', 'symlink', 'other'];

/** A name or path as results give it: text when valid UTF-8, else the raw bytes. */
export type RemoteName = string | Buffer;

export interface RemoteEntry {
  /** the last component */
  name: RemoteName;
  /** the path as the request named it, joined with the names below it */
  path: RemoteName;
  type: EntryType;
  /** bytes (a symlink: the length of its target; 'other': 0) */
  size: number;
  /** permission bits with setuid/setgid/sticky (0o7777), without the type */
  mode: number;
  /** seconds since the epoch, like the download node's msg.mtime; null where the server cannot tell */
  mtime: number | null;
}

export type SortKey = 'name' | 'mtime' | 'size';

export interface ListOptions {
  /** descend into directories (never through symlinks), at most `maxDepth` levels (1 = the directory itself) */
  recursive: boolean;
  maxDepth: number;
  /** more entries than this from the server (before any filter) fail with ETOOBIG */
  maxEntries: number;
  /** the download node's glob dialect, matched against each entry's name */
  pattern?: string;
  /** keep only these types (all when absent or empty) */
  types?: EntryType[];
  /** keep only entries modified at least this many seconds ago */
  minAgeSeconds?: number;
  sort?: { by: SortKey; descending: boolean };
  /** at most this many entries after filtering and sorting */
  limit?: number;
}

/** The defaults a hostile server is bounded by. */
export const DEFAULT_MAX_ENTRIES = 10_000;
/** The highest entry limit a request may set: a listing is held in memory whole. */
export const MAX_ENTRIES_CAP = 1_000_000;
export const MAX_DEPTH_CAP = 64;

export type RemoteRequest =
  | { operation: 'list'; path: Buffer; options: ListOptions }
  | { operation: 'stat'; path: Buffer }
  | { operation: 'delete' | 'rmdir'; paths: Buffer[] }
  | { operation: 'mkdir'; paths: Buffer[]; parents: boolean }
  | { operation: 'chmod'; paths: Buffer[]; mode: number }
  | { operation: 'rename'; pairs: { from: Buffer; to: Buffer }[]; overwrite: boolean };

/** What happened to one path of delete/rename/mkdir/rmdir/chmod. */
export type PathOutcome =
  | { path: RemoteName; to?: RemoteName; done: 'deleted' | 'renamed' | 'created' | 'existed' | 'removed' | 'changed' }
  | { path: RemoteName; to?: RemoteName; error: { code: string; message: string } };

export interface RemoteResult {
  transport: TransportUsed;
  /** list: the entries kept; stat: one entry or none */
  entries?: RemoteEntry[];
  /** list: how many entries the server listed before filtering */
  listed?: number;
  /** delete/rename/mkdir/rmdir/chmod: one outcome per path, in the order given */
  outcomes?: PathOutcome[];
  /** SFTP only: names it cannot carry intact (not valid UTF-8), left out of the listing */
  skipped?: { path: string; reason: 'notUtf8' }[];
  durationMs: number;
}

export type RemoteContext = TransferContext;
