/**
 * Turns the request's upload sources into a plan: a tree of files and directories with sizes, modes and
 * times known before the first byte is sent (SCP announces each size up front). Streams without a size
 * are spooled to a private temporary file first, so memory stays flat whatever their length.
 */
import { createReadStream, createWriteStream, promises as fs, type Stats } from 'fs';
import { tmpdir } from 'os';
import { basename, join } from 'path';
import type { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import { TransferError, localSystemError } from '../errors';
import type { Job } from './job';
import type { TransferredFile, UploadSource } from './types';

/** Local reads use big chunks: small ones halve throughput (see the protocol notes). */
export const LOCAL_READ_CHUNK = 1024 * 1024;
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
  /** the content, opened when it is sent (streams can be consumed once) */
  open(): Promise<Readable | Buffer>;
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
  /** removes spool files; safe to call more than once */
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

function localError(error: unknown, path: string, job: Job): TransferError {
  return localSystemError(error, 'cannot read the local source', { host: job.host, path });
}

export async function planUpload(job: Job, sources: UploadSource[], defaultMode: number): Promise<UploadPlan> {
  const spoolDirs: string[] = [];
  const plan: UploadPlan = {
    entries: [],
    totalSize: 0,
    cleanup: async () => {
      for (const dir of spoolDirs.splice(0)) await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
  try {
    for (const source of sources) {
      job.checkActive();
      const entry = await planSource(job, source, defaultMode, spoolDirs);
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

async function planSource(job: Job, source: UploadSource, defaultMode: number, spoolDirs: string[]): Promise<PlannedEntry> {
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
            return stream;
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
        open: async () => createReadStream(spooled.path, { highWaterMark: LOCAL_READ_CHUNK }),
      };
    }
    case 'path': {
      if (typeof source.path !== 'string' || source.path === '' || source.path.includes('\0')) {
        throw new TransferError('EINVAL', 'the local source path is empty or contains a NUL byte', { host: job.host });
      }
      return planLocalPath(job, source.path, 0, new Set());
    }
    default:
      throw new TransferError('EINVAL', 'unknown upload source kind', { host: job.host });
  }
}

/** Files up to this size are read whole (one exact-size buffer) instead of streamed. */
const SMALL_FILE_BYTES = 256 * 1024;

/**
 * Small files are read in one go: a stream would allocate a 1 MiB read buffer for each of them (200
 * files of 4 KiB = 200 MiB of allocations). Big files stream with 1 MiB chunks.
 */
async function openLocalFile(path: string, size: number, job: Job): Promise<Readable | Buffer> {
  if (size > SMALL_FILE_BYTES) return createReadStream(path, { highWaterMark: LOCAL_READ_CHUNK });
  try {
    return await fs.readFile(path);
  } catch (error) {
    throw localError(error, path, job);
  }
}

/** Copies a stream of unknown length into a private temp file (0600 in a 0700 directory). */
async function spool(job: Job, stream: Readable, spoolDirs: string[]): Promise<{ path: string; size: number }> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'scp-spool-'));
  spoolDirs.push(dir);
  const path = join(dir, 'data');
  try {
    await pipeline(stream, createWriteStream(path, { mode: 0o600, flags: 'wx', highWaterMark: LOCAL_READ_CHUNK }), {
      signal: job.signal,
    });
  } catch (error) {
    if (job.signal.aborted) throw job.stopError();
    throw new TransferError('EINVAL', 'reading the source stream failed', {
      host: job.host,
      detail: error instanceof Error ? error.message : String(error),
      cause: error,
    });
  }
  const stats = await fs.stat(path);
  return { path, size: stats.size };
}

async function planLocalPath(job: Job, path: string, depth: number, ancestors: Set<string>): Promise<PlannedEntry> {
  let stats: Stats;
  try {
    stats = await fs.stat(path);
  } catch (error) {
    throw localError(error, path, job);
  }
  const name = Buffer.from(basename(path), 'utf8');
  if (stats.isFile()) {
    return {
      kind: 'file',
      name,
      mode: stats.mode & 0o777,
      size: stats.size,
      times: timesFromStats(stats),
      localPath: path,
      open: () => openLocalFile(path, stats.size, job),
    };
  }
  if (!stats.isDirectory()) {
    throw new TransferError('EINVAL', 'the local source is neither a file nor a directory', { host: job.host, path });
  }
  if (depth >= MAX_LOCAL_DEPTH) throw new TransferError('ETOOBIG', 'the local directory tree is too deep', { host: job.host, path });
  const identity = `${stats.dev}:${stats.ino}`;
  if (ancestors.has(identity)) throw new TransferError('EINVAL', 'the local directory tree loops (symlink)', { host: job.host, path });
  let names: string[];
  try {
    names = (await fs.readdir(path)).sort();
  } catch (error) {
    throw localError(error, path, job);
  }
  const inner = new Set(ancestors).add(identity);
  const entries: PlannedEntry[] = [];
  for (const child of names) {
    job.checkActive(path);
    const childPath = join(path, child);
    let childStats: Stats;
    try {
      childStats = await fs.stat(childPath);
    } catch (error) {
      // A dangling symlink inside a tree is skipped the way scp skips what it cannot send.
      if ((error as { code?: string }).code === 'ENOENT') continue;
      throw localError(error, childPath, job);
    }
    // Sockets, FIFOs and devices have no content to copy (reading a FIFO would block forever).
    if (!childStats.isFile() && !childStats.isDirectory()) continue;
    entries.push(await planLocalPath(job, childPath, depth + 1, inner));
  }
  return { kind: 'directory', name, mode: stats.mode & 0o777, times: timesFromStats(stats), localPath: path, entries };
}
