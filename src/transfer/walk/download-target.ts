/** Checks on a download's local target and the caps it implies, the same for both transports. */
import { promises as fs } from 'fs';
import { dirname } from 'path';
import { TransferError } from '../../errors';
import type { Job } from '../job/job';
import { inspectLocal, localError } from '../local/local-files';
import { DEFAULT_MAX_DIRECTORIES, type DownloadRequest } from '../types';
import type { Glob } from '../../glob';

/** Checks the request against its target before anything is opened. */
export async function checkDownloadTarget(job: Job, request: DownloadRequest): Promise<void> {
  const target = request.target;
  if (target.kind === 'buffer') {
    if (request.recursive) throw new TransferError('EINVAL', 'a recursive download needs a directory target', { host: job.host });
    if (!(Number.isSafeInteger(target.maxBytes) && target.maxBytes >= 0)) {
      throw new TransferError('EINVAL', 'the buffer size cap must be a whole number of bytes', { host: job.host });
    }
    return;
  }
  if (typeof target.path !== 'string' || target.path === '' || target.path.includes('\0')) {
    throw new TransferError('EINVAL', 'the local path is empty or contains a NUL byte', { host: job.host });
  }
  if (request.createDirectory) await createMissing(job, target.kind === 'file' ? dirname(target.path) : target.path);
  if (target.kind === 'file') {
    if (request.recursive) throw new TransferError('EINVAL', 'a recursive download needs a directory target', { host: job.host, path: target.path });
    const existing = await inspectLocal(target.path, job);
    if (existing === 'directory') throw new TransferError('EISDIR', 'the local target is a directory', { host: job.host, path: target.path });
    try {
      const parent = await fs.stat(dirname(target.path));
      if (!parent.isDirectory()) throw new TransferError('ENOTDIR', 'the local parent is not a directory', { host: job.host, path: target.path });
    } catch (error) {
      if (error instanceof TransferError) throw error;
      throw localError(error, target.path, job, 'the local directory does not exist');
    }
    return;
  }
  try {
    const stats = await fs.stat(target.path);
    if (!stats.isDirectory()) throw new TransferError('ENOTDIR', 'the local target is not a directory', { host: job.host, path: target.path });
  } catch (error) {
    if (error instanceof TransferError) throw error;
    throw localError(error, target.path, job, 'the local target directory does not exist');
  }
}

/** "Create the directory": the missing directory and its parents, as the core file node makes them. */
async function createMissing(job: Job, directory: string): Promise<void> {
  try {
    await fs.mkdir(directory, { recursive: true });
  } catch (error) {
    throw localError(error, directory, job, 'cannot create the local directory');
  }
}

/** The largest single file the request accepts. */
export function fileCap(request: DownloadRequest): number {
  const base = request.limits.maxFileBytes;
  return request.target.kind === 'buffer' ? Math.min(base, request.target.maxBytes) : base;
}

/** Every bound a download runs under, whichever transport carries it. */
export interface DownloadCaps {
  /** files announced (fetched or skipped); 1 unless the target is a directory */
  maxFiles: number;
  /** directories entered, the top one included */
  maxDirectories: number;
  /** directory levels below the target: a top-level directory is level 1 */
  maxDepth: number;
  maxFileBytes: number;
  /** the sum of the sizes of the files fetched (skipped ones cost nothing) */
  maxTotalBytes: number;
}

export function downloadCaps(request: DownloadRequest): DownloadCaps {
  const { limits, target } = request;
  return {
    maxFiles: target.kind === 'directory' ? limits.maxFiles : Math.min(limits.maxFiles, 1),
    maxDirectories: limits.maxDirectories ?? DEFAULT_MAX_DIRECTORIES,
    maxDepth: limits.maxDepth,
    maxFileBytes: fileCap(request),
    maxTotalBytes: target.kind === 'buffer' ? Math.min(limits.maxTotalBytes, target.maxBytes) : limits.maxTotalBytes,
  };
}

/** What a download selects in the remote directory (made by planDownload in download-walk.ts). */
export type DownloadSelection =
  /** one file with this name */
  | { kind: 'exact'; name: string }
  /** recursive: one file or directory tree with this name */
  | { kind: 'tree'; name: string }
  /** the entries of `dir` whose names match (directories only with recursive) */
  | { kind: 'glob'; pattern: string; glob: Glob };

export interface DownloadPlan {
  remote: Buffer;
  /** the remote path for messages */
  shown: string;
  /** the remote directory the selection is made in, and the last component (a name or a pattern) */
  dir: Buffer;
  base: Buffer;
  /** made from `base` decoded as UTF-8: a transport refuses a base that is not valid UTF-8 first */
  select: DownloadSelection;
  caps: DownloadCaps;
}
