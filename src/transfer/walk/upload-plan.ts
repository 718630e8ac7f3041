/**
 * Turns the request's upload sources into a plan: a tree of files and directories with sizes, modes and
 * times known before the first byte is sent (SCP announces each size up front). Streams without a size
 * are spooled first (local/local-content.ts reads and spools; this module only decides).
 */
import { promises as fs, type Dirent, type Stats } from 'fs';
import { basename, join } from 'path';
import { Readable } from 'stream';
import { TransferError, isTransferError } from '../../errors';
import type { Job } from '../job/job';
import { ignore, localChunks, localError, openLocalFile, spool } from '../local/local-content';
import type { TransferredFile, UploadSource } from '../types';

/** Guards against symlink loops and absurd trees when walking local directories. */
const MAX_LOCAL_DEPTH = 128;

export interface Times {
  mtime: number;
  atime: number;
}

export interface PlannedFile {
  kind: 'file';
  /** the remote name; absent for a buffer/stream without a name (the remote path names it) */
  name?: Buffer;
  mode: number;
  size: number;
  times?: Times;
  localPath?: string;
  /**
   * The content, opened when it is sent (streams can be consumed once). A local file is opened (and
   * fails with ENOENT/EACCES naming it) before anything of it goes on the wire; a stream it returns has
   * an error listener already and must be destroyed by the caller on every failure path.
   */
  open(): Promise<Readable | Buffer>;
}

/** What a local directory walk left out, reported in the result (`skipped`). */
export interface SkippedEntry {
  localPath: string;
  /** 'symlink': a symbolic link inside a walked directory (not followed); 'special': FIFO, socket or device */
  reason: 'symlink' | 'special';
}

/** What the result says about an uploaded file, before it is known whether it was sent or skipped. */
export function uploadedFileRecord(file: PlannedFile, remotePath: string): Omit<TransferredFile, 'transferred'> {
  return {
    remotePath,
    ...(file.localPath !== undefined ? { localPath: file.localPath } : {}),
    size: file.size,
    mode: file.mode,
    ...(file.times ? { mtime: file.times.mtime, atime: file.times.atime } : {}),
  };
}

export interface PlannedDirectory {
  kind: 'directory';
  name: Buffer;
  mode: number;
  times?: Times;
  localPath: string;
  entries: PlannedEntry[];
}

export type PlannedEntry = PlannedFile | PlannedDirectory;

export interface UploadPlan {
  entries: PlannedEntry[];
  totalSize: number;
  skipped: SkippedEntry[];
  /** removes spool files and destroys the caller's sized streams (sent or not); safe to call more than once */
  cleanup(): Promise<void>;
}

function timesFromDate(date: Date | undefined): Times | undefined {
  if (!date || Number.isNaN(date.getTime())) return undefined;
  const seconds = Math.max(0, Math.floor(date.getTime() / 1000));
  return { mtime: seconds, atime: seconds };
}

function timesFromStats(stats: Stats): Times {
  return { mtime: Math.max(0, Math.floor(stats.mtimeMs / 1000)), atime: Math.max(0, Math.floor(stats.atimeMs / 1000)) };
}

function nameBytes(name: string | undefined, job: Job): Buffer | undefined {
  if (name === undefined || name === '') return undefined;
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.includes(0x2f) || bytes.includes(0) || name === '.' || name === '..') {
    throw new TransferError('EINVAL', 'a source name must be one path component (no "/", not "." or "..")', {
      host: job.host,
      path: name,
    });
  }
  return bytes;
}


export interface PlanOptions {
  /** follow symbolic links found inside walked directories (a path named in the request is always followed) */
  followSymlinks?: boolean;
}

export async function planUpload(job: Job, sources: UploadSource[], defaultMode: number, options: PlanOptions = {}): Promise<UploadPlan> {
  const spoolDirs: string[] = [];
  // A job that fails before it reaches a sized stream must still release it (an fs stream's descriptor, a socket).
  const adopted: Readable[] = [];
  const plan: UploadPlan = {
    entries: [],
    totalSize: 0,
    skipped: [],
    cleanup: async () => {
      for (const stream of adopted.splice(0)) stream.destroy();
      for (const dir of spoolDirs.splice(0)) await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
  try {
    for (const source of sources) {
      job.checkActive();
      const entry = await planSource(job, source, defaultMode, spoolDirs, { followSymlinks: options.followSymlinks === true, skipped: plan.skipped }, adopted);
      plan.entries.push(entry);
    }
    plan.totalSize = sizeOf(plan.entries);
    return plan;
  } catch (error) {
    await plan.cleanup();
    throw error;
  }
}

function sizeOf(entries: PlannedEntry[]): number {
  let total = 0;
  for (const entry of entries) total += entry.kind === 'file' ? entry.size : sizeOf(entry.entries);
  return total;
}

/** How a local directory walk treats links, and where it reports what it left out. */
interface WalkRules {
  followSymlinks: boolean;
  skipped: SkippedEntry[];
}

async function planSource(
  job: Job,
  source: UploadSource,
  defaultMode: number,
  spoolDirs: string[],
  rules: WalkRules,
  adopted: Readable[],
): Promise<PlannedEntry> {
  switch (source.kind) {
    case 'buffer': {
      if (!Buffer.isBuffer(source.data)) throw new TransferError('EINVAL', 'buffer source without a Buffer', { host: job.host });
      const data = source.data;
      return {
        kind: 'file',
        name: nameBytes(source.name, job),
        mode: (source.mode ?? defaultMode) & 0o777,
        size: data.length,
        times: timesFromDate(source.mtime),
        open: async () => data,
      };
    }
    case 'stream': {
      const name = nameBytes(source.name, job);
      const mode = (source.mode ?? defaultMode) & 0o777;
      const times = timesFromDate(source.mtime);
      if (typeof source.size === 'number' && Number.isSafeInteger(source.size) && source.size >= 0) {
        const stream = source.stream;
        // It may fail while the probe runs, before anything reads it: never an unhandled 'error'.
        stream.on('error', ignore);
        adopted.push(stream);
        let opened = false;
        return {
          kind: 'file',
          name,
          mode,
          size: source.size,
          times,
          open: async () => {
            if (opened) throw new TransferError('EINVAL', 'a stream source can be sent only once', { host: job.host });
            opened = true;
            // Read through the same guard as every stream: bytes only, the idle timeout, EINVAL on failure.
            const guarded = Readable.from(localChunks(stream, job));
            guarded.on('error', ignore);
            // Destroying the guard before its first read never runs the generator's own clean-up.
            guarded.once('close', () => stream.destroy());
            return guarded;
          },
        };
      }
      const spooled = await spool(job, source.stream, spoolDirs);
      return {
        kind: 'file',
        name,
        mode,
        size: spooled.size,
        times,
        open: () => openLocalFile(spooled.path, job, false),
      };
    }
    case 'path': {
      if (typeof source.path !== 'string' || source.path === '' || source.path.includes('\0')) {
        throw new TransferError('EINVAL', 'the local source path is empty or contains a NUL byte', { host: job.host });
      }
      return planLocalPath(job, source.path, 0, new Set(), rules);
    }
    default:
      throw new TransferError('EINVAL', 'unknown upload source kind', { host: job.host });
  }
}

/**
 * Plans a local file or directory. `path` itself is followed if it is a symlink (the request named it);
 * inside a directory, symlinks are skipped and reported unless `rules.followSymlinks` (a link to
 * /etc/shadow in a pushed folder must not upload it), and FIFOs, sockets and devices are skipped and
 * reported (they have no content to copy; reading a FIFO would block forever).
 */
async function planLocalPath(job: Job, path: string, depth: number, ancestors: Set<string>, rules: WalkRules): Promise<PlannedEntry> {
  let stats: Stats;
  try {
    stats = await fs.stat(path);
  } catch (error) {
    throw localError(error, path, job);
  }
  const name = Buffer.from(basename(path), 'utf8');
  if (stats.isFile()) {
    // Below the named path, a symlink swapped in after planning is refused at open time too.
    const followLink = depth === 0 || rules.followSymlinks;
    return {
      kind: 'file',
      name,
      mode: stats.mode & 0o777,
      size: stats.size,
      times: timesFromStats(stats),
      localPath: path,
      open: () => openLocalFile(path, job, followLink),
    };
  }
  if (!stats.isDirectory()) {
    throw new TransferError('EINVAL', 'the local source is neither a file nor a directory', { host: job.host, path });
  }
  if (depth >= MAX_LOCAL_DEPTH) throw new TransferError('ETOOBIG', 'the local directory tree is too deep', { host: job.host, path });
  const identity = `${stats.dev}:${stats.ino}`;
  if (ancestors.has(identity)) throw new TransferError('EINVAL', 'the local directory tree loops (symlink)', { host: job.host, path });
  let listed: Dirent[];
  try {
    listed = (await fs.readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (error) {
    throw localError(error, path, job);
  }
  const inner = new Set(ancestors).add(identity);
  const entries: PlannedEntry[] = [];
  // Files are looked at a batch at a time (their stat calls overlap); anything that may be a directory
  // alone, so what a subtree reports comes in the same order as one by one.
  for (let at = 0; at < listed.length; ) {
    job.checkActive(path);
    const batch: Dirent[] = [];
    while (at < listed.length && batch.length < PLAN_BATCH) {
      const alone = !listed[at].isFile();
      if (alone && batch.length > 0) break;
      batch.push(listed[at]);
      at += 1;
      if (alone) break;
    }
    const planned = await Promise.allSettled(batch.map((dirent) => planChild(job, join(path, dirent.name), dirent, depth, inner, rules)));
    for (const [index, result] of planned.entries()) {
      if (result.status === 'rejected') throw result.reason;
      const child = result.value;
      if (child === 'gone') continue;
      if (child === 'symlink' || child === 'special') rules.skipped.push({ localPath: join(path, batch[index].name), reason: child });
      else entries.push(child);
    }
  }
  return { kind: 'directory', name, mode: stats.mode & 0o777, times: timesFromStats(stats), localPath: path, entries };
}

/** Regular files of one directory planned at once (their stat calls in flight together). */
const PLAN_BATCH = 32;

/**
 * One entry of a walked directory: planned, left out ('symlink', 'special'), or 'gone' when it was
 * removed since readdir. The entry's type from readdir spares an lstat for plain files and directories.
 */
async function planChild(
  job: Job,
  path: string,
  dirent: Dirent,
  depth: number,
  ancestors: Set<string>,
  rules: WalkRules,
): Promise<PlannedEntry | 'gone' | 'symlink' | 'special'> {
  const known = dirent.isFile() || dirent.isDirectory();
  const kind = known ? (dirent.isFile() ? 'file' : 'directory') : await childKind(job, path, rules.followSymlinks);
  if (kind !== 'file' && kind !== 'directory') return kind;
  try {
    return await planLocalPath(job, path, depth + 1, ancestors, rules);
  } catch (error) {
    // Without the lstat, a removal since readdir shows up here.
    if (known && isTransferError(error) && error.code === 'ENOENT' && error.path === path) return 'gone';
    throw error;
  }
}

/**
 * What a directory entry is for the walk: a link that is not followed, or that leads nowhere, is
 * 'symlink'; an entry removed since readdir is 'gone' (nothing to send, nothing to report).
 */
async function childKind(job: Job, path: string, followSymlinks: boolean): Promise<'file' | 'directory' | 'symlink' | 'special' | 'gone'> {
  const missing = (error: unknown): boolean => (error as { code?: string }).code === 'ENOENT';
  let stats: Stats;
  try {
    stats = await fs.lstat(path);
  } catch (error) {
    if (missing(error)) return 'gone';
    throw localError(error, path, job);
  }
  if (stats.isSymbolicLink()) {
    if (!followSymlinks) return 'symlink';
    try {
      stats = await fs.stat(path);
    } catch (error) {
      if (missing(error)) return 'symlink';
      throw localError(error, path, job);
    }
  }
  return stats.isFile() ? 'file' : stats.isDirectory() ? 'directory' : 'special';
}
