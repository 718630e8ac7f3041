/**
 * Writing what a server sends onto the local disk without trusting it: every path is the user's target
 * plus validated components that must stay inside it; files are written to an exclusive temporary name
 * (O_CREAT|O_EXCL|O_NOFOLLOW, 0600) in the same directory and renamed into place only when complete;
 * nothing a server-chosen name points at (symlink, FIFO, device) is followed or replaced.
 */
import { constants, promises as fs, type Stats } from 'fs';
import { isAbsolute, join, relative } from 'path';
import { TransferError, localSystemError } from '../../errors';
import { cleanText } from '../../text';
import type { Job } from '../job/job';
import { localTempName } from '../leftovers/temp-name';

/** Chunks from the channel are gathered up to this much per write system call. */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** A chunk at least this big, arriving while nothing is gathered, is written as it is (no copy into the slab). */
const DIRECT_WRITE_BYTES = 512 * 1024;

/** The process umask, read once: applied to modes when the user did not ask to preserve them. */
let cachedUmask: number | undefined;
export function currentUmask(): number {
  if (cachedUmask === undefined) cachedUmask = process.umask();
  return cachedUmask;
}

export function localError(error: unknown, path: string, job: Job, summary: string): TransferError {
  return localSystemError(error, summary, { host: job.host, path });
}

/** A server-chosen component must be one plain name. */
export function checkComponent(name: string, job: Job): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || (process.platform === 'win32' && /[\\:]/u.test(name))) {
    throw new TransferError('EPROTO', 'the server sent an unsafe file name', { host: job.host, path: cleanText(name) });
  }
}

/** target + components, refusing anything that would land outside target. */
export function insideTarget(target: string, components: string[], job: Job): string {
  for (const component of components) checkComponent(component, job);
  const path = join(target, ...components);
  const rel = relative(target, path);
  if (components.length > 0 && (rel === '' || rel.startsWith('..') || isAbsolute(rel))) {
    throw new TransferError('EPROTO', 'the server sent a name outside the target directory', {
      host: job.host,
      path: cleanText(components.join('/')),
    });
  }
  return path;
}

export type ExistingEntry = 'missing' | 'file' | 'directory';

/** What is at `path` without following a symlink; symlinks, FIFOs, sockets and devices are refused. */
export async function inspectLocal(path: string, job: Job): Promise<ExistingEntry> {
  let stats: Stats;
  try {
    stats = await fs.lstat(path);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return 'missing';
    throw localError(error, path, job, 'cannot inspect the local path');
  }
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  const what = stats.isSymbolicLink() ? 'a symbolic link' : stats.isFIFO() ? 'a FIFO' : stats.isSocket() ? 'a socket' : 'a device';
  throw new TransferError('EINVAL', `the local path is ${what}, which a download never writes through or replaces`, {
    host: job.host,
    path,
    reason: 'notRegularFile',
  });
}

/** Makes a directory the download fills (0700 while filling); an existing real directory is reused. */
export async function ensureLocalDirectory(path: string, job: Job): Promise<boolean> {
  try {
    await fs.mkdir(path, { mode: 0o700 });
    return true;
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw localError(error, path, job, 'cannot create the local directory');
  }
  const existing = await inspectLocal(path, job);
  if (existing !== 'directory') throw new TransferError('ENOTDIR', 'a file is in the way of a directory', { host: job.host, path });
  return false;
}

export interface FinishOptions {
  mode: number;
  times?: { mtime: number; atime: number };
  /** 'fail': refuse an existing final path atomically (link); otherwise replace it (rename) */
  replace: boolean;
}

/**
 * One file being written under a temporary name next to its final path. Incoming chunks are copied
 * into one reusable 1 MiB slab that is written when full: the channel's buffers are then garbage at
 * once (they die young), instead of living across an await and piling up until a full collection,
 * which is what keeps the resident size flat on multi-gigabyte downloads. A chunk of half a slab or more
 * that finds the slab empty is written as it is: the caller's buffer is reused anyway.
 */
export class AtomicFileWriter {
  private slab: Buffer | undefined;
  private filled = 0;
  private closed = false;
  written = 0;

  private constructor(
    private readonly job: Job,
    private readonly handle: fs.FileHandle,
    readonly tempPath: string,
    readonly finalPath: string,
    /** the slab is no bigger than the file: small files do not each cost a 1 MiB allocation */
    private readonly slabSize: number,
  ) {}

  static async create(job: Job, dir: string, name: string, finalPath: string, expectedSize: number): Promise<AtomicFileWriter> {
    const tempPath = join(dir, localTempName(name));
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
    try {
      const handle = await fs.open(tempPath, flags, 0o600);
      return new AtomicFileWriter(job, handle, tempPath, finalPath, Math.max(1, Math.min(WRITE_BATCH_BYTES, expectedSize)));
    } catch (error) {
      throw localError(error, finalPath, job, 'cannot create the local file');
    }
  }

  /**
   * Copies the chunk; resolves after a write only when the slab is full (back-pressure for the channel).
   * A big chunk while the slab is empty is written from where it is (the caller keeps it valid until the
   * returned promise settles): one copy fewer per byte on fast downloads.
   */
  write(chunk: Buffer): Promise<void> | void {
    this.written += chunk.length;
    if (this.filled === 0 && chunk.length >= DIRECT_WRITE_BYTES) return this.writeOut(chunk, chunk.length);
    let offset = 0;
    while (offset < chunk.length) {
      this.slab ??= Buffer.allocUnsafe(this.slabSize);
      const copied = chunk.copy(this.slab, this.filled, offset);
      this.filled += copied;
      offset += copied;
      if (this.filled === this.slab.length) {
        if (offset === chunk.length) return this.flush();
        return this.flush().then(() => this.writeRest(chunk, offset));
      }
    }
  }

  private async writeRest(chunk: Buffer, offset: number): Promise<void> {
    this.written -= chunk.length - offset;
    await this.write(chunk.subarray(offset));
  }

  private async flush(): Promise<void> {
    if (this.filled === 0 || !this.slab) return;
    await this.writeOut(this.slab, this.filled);
    this.filled = 0;
  }

  private async writeOut(bytes: Buffer, length: number): Promise<void> {
    try {
      let done = 0;
      while (done < length) {
        const { bytesWritten } = await this.handle.write(bytes, done, length - done);
        done += bytesWritten;
      }
    } catch (error) {
      throw localError(error, this.finalPath, this.job, 'cannot write the local file');
    }
  }

  /** Flushes, applies mode and times, and moves the file to its final path. Returns false when it exists (replace off). */
  async commit(expectedSize: number, options: FinishOptions): Promise<boolean> {
    await this.finish(expectedSize, options);
    return this.place(options);
  }

  /** Flushes, checks the size, applies mode and times and closes: the temporary is complete. */
  async finish(expectedSize: number, options: FinishOptions): Promise<void> {
    await this.flush();
    if (this.written !== expectedSize) {
      throw new TransferError('EPROTO', `received ${this.written} bytes, expected ${expectedSize}`, { host: this.job.host, path: this.finalPath });
    }
    try {
      await this.handle.chmod(options.mode & 0o777);
      if (options.times) await this.handle.utimes(options.times.atime, options.times.mtime);
    } catch (error) {
      throw localError(error, this.finalPath, this.job, 'cannot set the local file mode or times');
    }
    await this.close();
  }

  /** Moves the finished temporary to its final path. Returns false when it exists (replace off). */
  async place(options: Pick<FinishOptions, 'replace'>): Promise<boolean> {
    if (options.replace) {
      // Re-checked right before the rename: a symlink or special file placed meanwhile is refused.
      const existing = await inspectLocal(this.finalPath, this.job);
      if (existing === 'directory') throw new TransferError('EISDIR', 'a directory is in the way of the file', { host: this.job.host, path: this.finalPath });
      try {
        await fs.rename(this.tempPath, this.finalPath);
      } catch (error) {
        throw localError(error, this.finalPath, this.job, 'cannot move the downloaded file into place');
      }
      return true;
    }
    try {
      await fs.link(this.tempPath, this.finalPath);
    } catch (error) {
      if ((error as { code?: string }).code === 'EEXIST') return false;
      throw localError(error, this.finalPath, this.job, 'cannot move the downloaded file into place');
    } finally {
      await fs.unlink(this.tempPath).catch(() => undefined);
    }
    return true;
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }

  /** Removes the temporary file (after any failure); never throws. */
  async discard(): Promise<void> {
    await this.close().catch(() => undefined);
    await fs.unlink(this.tempPath).catch(() => undefined);
  }
}
