/**
 * Where a downloaded file goes, for both transports: into a buffer (size-capped), or to a local path
 * through an exclusive temporary file renamed into place, with the overwrite policy applied first.
 */
import { promises as fs } from 'fs';
import { basename, dirname } from 'path';
import { TransferError } from '../../errors';
import type { Job } from '../job/job';
import { AtomicFileWriter, currentUmask, inspectLocal, insideTarget, localError, type ExistingEntry, type FinishOptions } from './local-files';
import type { DownloadRequest, TransferredFile } from '../types';

export interface IncomingFile {
  /** server-chosen components below the target: parent directories, then the name */
  components: string[];
  /** for results and progress */
  remotePath: string;
  mode: number;
  size: number;
  times?: { mtime: number; atime: number };
}

export interface Delivery {
  /** streams exactly the file's bytes into `write`, awaiting it */
  pump(write: (chunk: Buffer) => void | Promise<void>): Promise<void>;
  /** tells the transport the file is skipped (SCP answers the record, SFTP closes the file it opened) */
  skip(): Promise<void>;
}

/** Temporary files of the running download, removed when it fails. */
export class PlacementSet {
  readonly writers = new Set<AtomicFileWriter>();
  async discardAll(): Promise<void> {
    for (const writer of this.writers) await writer.discard();
    this.writers.clear();
  }
}

/** The first allocation for a file into memory; it doubles as data arrives. */
const FIRST_BUFFER_BYTES = 64 * 1024;

/**
 * A file's bytes in memory, holding about what actually arrived rather than what the server announced
 * (a server announcing 1 GiB and then stalling pins kilobytes, not a gigabyte). It never grows past the
 * announced size, so once complete it is exactly that size (no final copy). Chunks are copied in: the
 * SFTP reader reuses its buffers.
 */
class GrowingBuffer {
  private data: Buffer;
  length = 0;

  constructor(private readonly limit: number) {
    this.data = Buffer.allocUnsafe(Math.min(limit, FIRST_BUFFER_BYTES));
  }

  /** False (and nothing kept) when the chunk would go past the announced size. */
  append(chunk: Buffer): boolean {
    const needed = this.length + chunk.length;
    if (needed > this.limit) return false;
    if (needed > this.data.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.limit, Math.max(needed, this.data.length * 2)));
      this.data.copy(grown, 0, 0, this.length);
      this.data = grown;
    }
    chunk.copy(this.data, this.length);
    this.length = needed;
    return true;
  }

  contents(): Buffer {
    return this.length === this.data.length ? this.data : this.data.subarray(0, this.length);
  }
}

/** True once the file is complete and in place; false when the overwrite policy skipped it. */
export async function placeFile(job: Job, request: DownloadRequest, file: IncomingFile, delivery: Delivery, open: PlacementSet): Promise<boolean> {
  const display = file.remotePath;
  const record = resultOf(file);
  const target = request.target;
  if (target.kind === 'buffer') {
    if (file.size > target.maxBytes) {
      throw new TransferError('ETOOBIG', `the remote file has ${file.size} bytes, more than the cap of ${target.maxBytes}`, {
        host: job.host,
        path: display,
      });
    }
    job.fileStart(display, file.size);
    const data = new GrowingBuffer(file.size);
    await delivery.pump((chunk) => {
      if (!data.append(chunk)) {
        throw new TransferError('EPROTO', 'the server sent more data than it announced', { host: job.host, path: display });
      }
      job.addBytes(chunk.length);
    });
    if (data.length !== file.size) {
      throw new TransferError('EPROTO', `received ${data.length} bytes, expected ${file.size}`, { host: job.host, path: display });
    }
    job.fileEnd({ ...record, data: data.contents() }, display);
    return true;
  }
  const localPath = target.kind === 'file' ? target.path : insideTarget(target.path, file.components, job);
  record.localPath = localPath;
  const existing = await checkLocalPath(job, request, localPath);
  job.fileStart(display, file.size);
  if (existing === 'file' && request.overwrite === 'skip') {
    await delivery.skip();
    job.fileEnd({ ...record, transferred: false }, display);
    return false;
  }
  const writer = await AtomicFileWriter.create(job, dirname(localPath), basename(localPath), localPath, file.size);
  open.writers.add(writer);
  await delivery.pump((chunk) => {
    job.addBytes(chunk.length);
    return writer.write(chunk);
  });
  const placed = await writer.commit(file.size, finishOptions(request, file));
  open.writers.delete(writer);
  if (!placed) throw new TransferError('EEXIST', 'the local file exists', { host: job.host, path: localPath });
  job.fileEnd(record, display);
  return true;
}

/** The file's entry in the result, before its local path is known. */
function resultOf(file: IncomingFile): TransferredFile {
  return {
    remotePath: file.remotePath,
    size: file.size,
    mode: file.mode & 0o777,
    ...(file.times ? { mtime: file.times.mtime, atime: file.times.atime } : {}),
    transferred: true,
  };
}

/** What is at the local path may not take the file: a directory, or a file with overwrite "fail". */
async function checkLocalPath(job: Job, request: DownloadRequest, localPath: string): Promise<ExistingEntry> {
  const existing = await inspectLocal(localPath, job);
  if (existing === 'directory') throw new TransferError('EISDIR', 'a local directory is in the way of the file', { host: job.host, path: localPath });
  if (existing === 'file' && request.overwrite === 'fail') {
    throw new TransferError('EEXIST', 'the local file exists', { host: job.host, path: localPath });
  }
  return existing;
}

function finishOptions(request: DownloadRequest, file: IncomingFile): FinishOptions {
  // Never setuid/setgid/sticky; without "preserve" the umask applies as for any new file.
  const mode = file.mode & 0o777;
  return {
    mode: request.preserve ? mode : mode & ~currentUmask(),
    ...(request.preserve && file.times ? { times: file.times } : {}),
    replace: request.overwrite !== 'fail',
  };
}

/**
 * A file that arrived whole into a target directory (overwrite "overwrite" or "fail"), written to its
 * temporary now, several at a time: returns what places it and reports its progress, which the caller
 * runs in the order the files arrived. Until then the temporary is in `open`.
 */
export async function prepareFile(job: Job, request: DownloadRequest, file: IncomingFile, content: Buffer, open: PlacementSet): Promise<() => Promise<void>> {
  if (request.target.kind !== 'directory' || request.overwrite === 'skip') {
    throw new TransferError('EINVAL', 'only a file into a target directory that is never skipped is written ahead', { host: job.host, path: file.remotePath });
  }
  const localPath = insideTarget(request.target.path, file.components, job);
  await checkLocalPath(job, request, localPath);
  const writer = await AtomicFileWriter.create(job, dirname(localPath), basename(localPath), localPath, file.size);
  open.writers.add(writer);
  const options = finishOptions(request, file);
  await writer.write(content);
  await writer.finish(file.size, options);
  return async () => {
    const display = file.remotePath;
    job.fileStart(display, file.size);
    job.addBytes(file.size);
    const placed = await writer.place(options);
    open.writers.delete(writer);
    if (!placed) throw new TransferError('EEXIST', 'the local file exists', { host: job.host, path: localPath });
    job.fileEnd({ ...resultOf(file), localPath }, display);
  };
}

export interface OpenDirectory {
  path: string;
  mode: number;
  times?: { mtime: number; atime: number };
  created: boolean;
}

/** Directories stay 0700 while they fill; their real mode (never setuid/setgid/sticky) and times come last. */
export async function finishDirectory(job: Job, request: DownloadRequest, directory: OpenDirectory): Promise<void> {
  const mode = request.preserve ? directory.mode : directory.created ? directory.mode & ~currentUmask() : undefined;
  try {
    if (mode !== undefined) await fs.chmod(directory.path, mode & 0o777);
    if (request.preserve && directory.times) await fs.utimes(directory.path, directory.times.atime, directory.times.mtime);
  } catch (error) {
    throw localError(error, directory.path, job, 'cannot set the local directory mode or times');
  }
}
