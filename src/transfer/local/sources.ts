/**
 * Turns the request's upload sources into a plan: a tree of files and directories with sizes, modes and
 * times known before the first byte is sent (SCP announces each size up front). Streams without a size
 * are spooled to a private temporary file first, so memory stays flat whatever their length.
 */
import { constants, promises as fs, type Dirent, type Stats } from 'fs';
import { tmpdir } from 'os';
import { basename, join } from 'path';
import { Readable } from 'stream';
import { TransferError, isTransferError, localSystemError } from '../../errors';
import { chunkAsBuffer, readsItself, type SelfReadingContent } from '../../scp';
import type { Job } from '../job';
import type { TransferredFile, UploadSource } from '../types';

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

function localError(error: unknown, path: string, job: Job): TransferError {
  return localSystemError(error, 'cannot read the local source', { host: job.host, path });
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

/** Files up to this size are read whole (one exact-size buffer) instead of streamed. */
const SMALL_FILE_BYTES = 256 * 1024;

const ignore = (): void => undefined;

/**
 * Opens a local file at send time. The open itself is awaited, so a file that vanished or became
 * unreadable since planning fails here with ENOENT/EACCES naming it, before anything of it is sent
 * (a lazily opening read stream would report it later as an unhandled 'error' event). O_NONBLOCK keeps
 * a FIFO swapped in meanwhile from blocking the open; `followLink` false refuses a symlink swapped in.
 * Small files are read in one go: a stream would allocate a 1 MiB read buffer for each of them (200
 * files of 4 KiB = 200 MiB of allocations). Big files stream with 1 MiB chunks.
 */
async function openLocalFile(path: string, job: Job, followLink: boolean): Promise<Readable | Buffer> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK | (followLink ? 0 : constants.O_NOFOLLOW));
  } catch (error) {
    throw localError(error, path, job);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new TransferError('EINVAL', 'the local source is no longer a regular file', { host: job.host, path });
    if (stats.size <= SMALL_FILE_BYTES) {
      const data = await readSmall(handle, stats.size);
      await handle.close();
      return data;
    }
    // The stream owns the handle from here: destroying it closes the file. Senders that know readInto
    // read the handle into buffers they reuse instead (a stream allocates a fresh buffer per chunk).
    const stream = handle.createReadStream({ highWaterMark: LOCAL_READ_CHUNK });
    stream.on('error', ignore);
    const readInto = async (buffer: Buffer, length: number): Promise<number> => (await handle.read(buffer, 0, length, null)).bytesRead;
    return Object.assign(stream, { readInto } satisfies SelfReadingContent);
  } catch (error) {
    await handle.close().catch(ignore);
    throw isTransferError(error) ? error : localError(error, path, job);
  }
}

/**
 * A small file's content in one read: asking for one byte more than its size shows that it ends there.
 * A file that changed size since its stat is read to its end (the sender then refuses the new size).
 */
async function readSmall(handle: fs.FileHandle, size: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(size + 1);
  const { bytesRead } = await handle.read(buffer, 0, size + 1, 0);
  return bytesRead === size ? buffer.subarray(0, size) : handle.readFile();
}

/** Destroys a stream content (closing its file); a Buffer needs nothing. Safe to call more than once. */
export function releaseContent(content: Readable | Buffer | undefined): void {
  if (content !== undefined && !Buffer.isBuffer(content)) content.destroy();
}

/** Resolves with the stream's next step, or rejects on the job's idle timeout or stop. */
function nextWithin(iterator: AsyncIterator<unknown>, job: Job, what: string): Promise<IteratorResult<unknown>> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (finish: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      job.signal.removeEventListener('abort', onAbort);
      finish();
    };
    const timer = setTimeout(
      () => settle(() => reject(new TransferError('ETIMEDOUT', `${what} gave no data for ${job.idleTimeoutMs} ms`, { host: job.host }))),
      job.idleTimeoutMs,
    );
    const onAbort = (): void => settle(() => reject(job.stopError()));
    if (job.signal.aborted) return onAbort();
    job.signal.addEventListener('abort', onAbort, { once: true });
    iterator.next().then(
      (step) => settle(() => resolve(step)),
      (error: unknown) => settle(() => reject(error)),
    );
  });
}

/**
 * The chunks of a stream as Buffers, each awaited under the job's idle timeout and stop signal, so a
 * stream that never ends fails with ETIMEDOUT instead of holding the message. A chunk that is not bytes
 * (an object-mode stream) is EINVAL; a read error names the local file (`localPath`), or is EINVAL for
 * a caller's stream. The stream is destroyed when the reader stops early or anything fails.
 */
export async function* localChunks(content: Readable | Buffer, job: Job, localPath?: string): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(content)) {
    yield content;
    return;
  }
  content.on('error', ignore);
  if (localPath !== undefined && readsItself(content)) {
    yield* reusedChunks(content, job, localPath);
    return;
  }
  const what = localPath === undefined ? 'the source stream' : 'the local file';
  const readFailure = (error: unknown): TransferError =>
    localPath === undefined
      ? new TransferError('EINVAL', 'reading the source stream failed', {
          host: job.host,
          detail: error instanceof Error ? error.message : String(error),
          cause: error,
        })
      : localError(error, localPath, job);
  const iterator = content[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      let step: IteratorResult<unknown>;
      try {
        step = await nextWithin(iterator, job, what);
      } catch (error) {
        throw isTransferError(error) ? error : readFailure(error);
      }
      if (step.done) {
        ended = true;
        return;
      }
      const bytes = chunkAsBuffer(step.value);
      if (bytes === undefined) {
        throw new TransferError('EINVAL', `${what} yielded something that is not bytes (an object-mode stream?)`, {
          host: job.host,
          detail: typeof step.value,
        });
      }
      yield bytes;
    }
  } finally {
    if (!ended) content.destroy();
  }
}

/**
 * A local file's chunks read with fh.read() into two buffers taken in turn: a yielded chunk is valid only
 * until the next one is asked for (the SFTP writer copies each piece into its request at once); the
 * next one is read meanwhile. Each read waits under the job's idle timeout and stop signal.
 */
async function* reusedChunks(content: Readable & SelfReadingContent, job: Job, localPath: string): AsyncGenerator<Buffer> {
  const buffers = [Buffer.allocUnsafe(LOCAL_READ_CHUNK), Buffer.allocUnsafe(LOCAL_READ_CHUNK)];
  const read = async (buffer: Buffer): Promise<number> =>
    (await nextWithin({ next: async () => ({ done: false, value: await content.readInto(buffer, buffer.length) }) }, job, 'the local file')).value as number;
  try {
    let turn = 0;
    let reading = read(buffers[turn]);
    for (;;) {
      let got: number;
      try {
        got = await reading;
      } catch (error) {
        throw isTransferError(error) ? error : localError(error, localPath, job);
      }
      if (got === 0) return;
      const chunk = buffers[turn].subarray(0, got);
      turn = 1 - turn;
      // The other buffer was handed out two chunks ago; asking for this one means it is free again.
      reading = read(buffers[turn]);
      reading.catch(ignore);
      yield chunk;
    }
  } finally {
    // The stream itself was never read: it ends (closing the file) only when destroyed.
    content.destroy();
  }
}

/** Copies a stream of unknown length into a private temp file (0600 in a 0700 directory). */
async function spool(job: Job, stream: Readable, spoolDirs: string[]): Promise<{ path: string; size: number }> {
  // The caller's stream may fail before anything reads it: never an unhandled 'error'.
  stream.on('error', ignore);
  let file: fs.FileHandle | undefined;
  let path = '';
  let size = 0;
  try {
    const dir = await fs.mkdtemp(join(tmpdir(), 'scp-spool-'));
    spoolDirs.push(dir);
    path = join(dir, 'data');
    file = await fs.open(path, 'wx', 0o600);
    for await (const chunk of localChunks(stream, job)) {
      for (let at = 0; at < chunk.length; ) at += (await file.write(chunk, at, chunk.length - at)).bytesWritten;
      size += chunk.length;
    }
  } catch (error) {
    stream.destroy();
    if (job.signal.aborted) throw job.stopError();
    throw isTransferError(error) ? error : localSystemError(error, 'cannot spool the source stream to a temporary file', { host: job.host, path: path || tmpdir() });
  } finally {
    await file?.close().catch(ignore);
  }
  return { path, size };
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
