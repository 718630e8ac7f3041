/**
 * The job interface that the nodes call. Transport-neutral: `upload` and `download` (src/transfer/index.ts)
 * choose SCP or SFTP per `TransferContext.transport` and report which one moved the data.
 */
import type { Readable } from 'stream';
import type { ChannelProvider } from '../ssh/types';
import type { LeftoverJournal } from './leftovers/journal';

export type TransportChoice = 'auto' | 'scp' | 'sftp';
export type TransportUsed = 'scp' | 'sftp';
export type OverwritePolicy = 'overwrite' | 'skip' | 'fail';

export interface TransferContext {
  channels: ChannelProvider;
  transport: TransportChoice;
  /** aborting fails the job with EABORTED and leaves no partial file at a final path */
  signal?: AbortSignal;
  /** a step (ack, record, data chunk) that takes longer than this fails with ETIMEDOUT */
  idleTimeoutMs: number;
  /** the whole job must end within this, 0 = no deadline */
  deadlineMs?: number;
  onProgress?: (event: ProgressEvent) => void;
  /** remembers temporary remote names a failed job could not remove; the next job removes them */
  leftovers?: LeftoverJournal;
  /** details nobody needs to act on (a leftover that could not be removed yet) */
  debug?: (message: string) => void;
}

// ------------------------------------------------------------------------------------------ link options

/** Per-transfer options for slow, metered or unreliable links (src/transfer/link/). */
export interface LinkOptions {
  /** bandwidth limit in KiB/s (as `scp -l`, in KiB rather than Kbit): smooth over a second; 0 or absent = none */
  limitKiBps?: number;
  /** compare a sha256 of each whole file on both sides after the copy (ECHECKSUM when they differ) */
  verify?: boolean;
  /** keep an interrupted file's temporary and continue it next time (see link/resume/) */
  resume?: ResumeOptions;
}

export interface ResumeOptions {
  /** a kept part older than this is dropped instead of continued (default 24 h) */
  maxAgeMs?: number;
}

// ---------------------------------------------------------------------------------------------- upload

export type UploadSource =
  /** content in memory; `name` is used when the target is a directory */
  | { kind: 'buffer'; data: Buffer; name?: string; mode?: number; mtime?: Date }
  /** a stream; without `size` it is spooled to a temporary file first (SCP needs the size up front) */
  | { kind: 'stream'; stream: Readable; name?: string; size?: number; mode?: number; mtime?: Date }
  /** a local file or directory (directories are sent recursively) */
  | { kind: 'path'; path: string };

export interface UploadRequest {
  sources: UploadSource[];
  /**
   * With one file source: the remote file path (or an existing remote directory, then the file lands
   * inside it under its name). With several sources or a directory source: a remote directory.
   */
  remotePath: string;
  /** the remote path as raw bytes (names that are not valid UTF-8); when set it replaces `remotePath` */
  remotePathBytes?: Buffer;
  /** send modes and times (T records / SFTP setstat); never setuid/setgid/sticky */
  preserve: boolean;
  /** write to a temporary remote name and rename into place when complete */
  atomic: boolean;
  overwrite: OverwritePolicy;
  /** mode for buffer/stream sources without one (default 0o644) */
  defaultMode?: number;
  /**
   * follow symbolic links found inside local directories (default false: they are skipped and listed in
   * the result's `skipped`); a local path named in `sources` is always followed
   */
  followSymlinks?: boolean;
  link?: LinkOptions;
}

// -------------------------------------------------------------------------------------------- download

export type DownloadTarget =
  /** one file into memory; refuses (ETOOBIG) files larger than maxBytes before reading them */
  | { kind: 'buffer'; maxBytes: number }
  /** one file to this local path (written to a temporary name, renamed when complete) */
  | { kind: 'file'; path: string }
  /** files (and with `recursive`, trees) into this existing local directory */
  | { kind: 'directory'; path: string };

export interface DownloadLimits {
  maxFileBytes: number;
  maxTotalBytes: number;
  maxFiles: number;
  maxDepth: number;
  /** directories the download may create (or enter); default DEFAULT_MAX_DIRECTORIES */
  maxDirectories?: number;
  /** entries one remote directory listing may hold (SFTP); default DEFAULT_MAX_LISTING_ENTRIES */
  maxListingEntries?: number;
}

/** Endless sibling directories would exhaust inodes long before the file or depth caps notice. */
export const DEFAULT_MAX_DIRECTORIES = 10_000;
/** A listing is held in memory while its entries are visited: an endless one must stop somewhere. */
export const DEFAULT_MAX_LISTING_ENTRIES = 100_000;

export interface DownloadRequest {
  remotePath: string;
  /** the remote path as raw bytes (SCP only); when set it replaces `remotePath` */
  remotePathBytes?: Buffer;
  target: DownloadTarget;
  /** copy a remote directory tree */
  recursive: boolean;
  /** treat the last component of remotePath as a glob (`*`, `?`, `[...]`); every name must match it */
  glob: boolean;
  /** apply remote modes (minus 07000) and times locally */
  preserve: boolean;
  overwrite: OverwritePolicy;
  limits: DownloadLimits;
  /** create a missing local target directory (or a file target's parent) with its parents */
  createDirectory?: boolean;
  /** what happens to each remote file once its local copy is complete and in place (default keep) */
  afterAction?: AfterAction;
  /**
   * only new or changed files: a file whose size and mtime equal those of its local copy or of this
   * record of earlier pulls is skipped; every file fetched is written into the record
   */
  onlyChanged?: { record?: PullRecord };
  link?: LinkOptions;
  /**
   * Leave files that may still be written (plan/settle.ts): one modified in the last `minimumAgeSeconds`
   * (its mtime against this machine's clock), or, with `stableIntervalMs`, one whose size or mtime changed
   * between a first look at the selection and the fetch that interval later. Skipped, listed with a reason.
   */
  settle?: { minimumAgeSeconds?: number; stableIntervalMs?: number };
  /**
   * Several Node-RED instances pulling one folder (claim/claims.ts): each file is first renamed into a claim
   * folder of this instance, and only the files whose rename succeeded are fetched. A claim folder older than
   * `timeoutSeconds` (its instance died) has its files put back. Needs a glob and delete or move after the pull.
   */
  claim?: { instance: string; timeoutSeconds: number };
  /** Internal (set by download()): walk the selection without fetching anything, for its sizes and times. */
  survey?: boolean;
  /** Internal (set by download()): what the first look saw, by remote path; a file that differs is skipped. */
  firstSight?: ReadonlyMap<string, { size: number; mtime: number | undefined }>;
}

/** Why a download left a remote file alone without an error (besides the overwrite policy and `unchanged`). */
export type PassedOverReason = 'minimumAge' | 'notStable';

/** The remote file is kept, deleted, or moved into `directory` (created when missing, never overwriting). */
export type AfterAction = { kind: 'keep' } | { kind: 'delete' } | { kind: 'move'; directory: string };

/** Size and mtime (seconds) of each remote file at its last successful pull, by remote path. */
export interface PullRecord {
  get(remotePath: string): { size: number; mtime: number } | undefined;
  set(remotePath: string, seen: { size: number; mtime: number }): void;
}

// --------------------------------------------------------------------------------------------- results

export interface TransferredFile {
  /** remote path of the file */
  remotePath: string;
  /** local path written (downloads to file/directory, uploads from a path) */
  localPath?: string;
  size: number;
  mode: number;
  /** seconds since the epoch, when known */
  mtime?: number;
  atime?: number;
  /** downloads to a buffer only */
  data?: Buffer;
  /** false when skipped by the overwrite policy or as unchanged */
  transferred: boolean;
  /** skipped because its size and mtime equal those of the local copy or of the last pull */
  unchanged?: boolean;
  /** skipped as possibly still being written: modified too recently, or changed between two looks */
  skipped?: PassedOverReason;
  /** after-action delete: the remote file is gone */
  removed?: boolean;
  /** after-action move: where the remote file is now */
  movedTo?: string;
  /** the after-action failed for this file (its local copy stays) */
  afterError?: { code: string; message: string };
  /** with verify: the sha256 (hex) both sides agreed on */
  sha256?: string;
}

export interface TransferResult {
  transport: TransportUsed;
  files: TransferredFile[];
  /** remote (upload) or local (download) directories created */
  directories: string[];
  /** payload bytes moved */
  bytes: number;
  durationMs: number;
  /** bytes per second */
  rate: number;
  /** uploads: local directory entries left out (symlinks not followed, FIFOs, sockets, devices) */
  skipped?: { localPath: string; reason: 'symlink' | 'special' }[];
  /** with resume: the byte offset a kept part let this transfer start at (0: from the start) */
  resumedFrom?: number;
}

// -------------------------------------------------------------------------------------------- progress

export type ProgressEvent =
  | { type: 'fileStart'; path: string; size: number; index: number; totalSize?: number }
  | { type: 'bytes'; path: string; fileBytes: number; fileSize: number; totalBytes: number; totalSize?: number }
  | { type: 'fileEnd'; path: string; size: number; index: number; transferred: boolean };
