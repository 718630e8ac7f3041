/**
 * Reading local content for an upload: opening a planned local file at send time (small ones read whole,
 * big ones streamed), the chunks of a file or a caller's stream under the job's bounds, and spooling a
 * stream without a size to a private temporary file, so memory stays flat whatever its length. What is
 * sent is decided by the planner (walk/upload-plan.ts).
 */
import { constants, promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import type { Readable } from 'stream';
import { chunkAsBuffer, readsItself, type SelfReadingContent } from '../../content';
import { TransferError, isTransferError, localSystemError } from '../../errors';
import type { Job } from '../job/job';

/** Local reads use big chunks: small ones halve throughput (see the protocol notes). */
export const LOCAL_READ_CHUNK = 1024 * 1024;
export function localError(error: unknown, path: string, job: Job): TransferError {
  return localSystemError(error, 'cannot read the local source', { host: job.host, path });
}

/** Files up to this size are read whole (one exact-size buffer) instead of streamed. */
const SMALL_FILE_BYTES = 256 * 1024;

export const ignore = (): void => undefined;

/**
 * Opens a local file at send time. The open itself is awaited, so a file that vanished or became
 * unreadable since planning fails here with ENOENT/EACCES naming it, before anything of it is sent
 * (a lazily opening read stream would report it later as an unhandled 'error' event). O_NONBLOCK keeps
 * a FIFO swapped in meanwhile from blocking the open; `followLink` false refuses a symlink swapped in.
 * Small files are read in one go: a stream would allocate a 1 MiB read buffer for each of them (200
 * files of 4 KiB = 200 MiB of allocations). Big files stream with 1 MiB chunks.
 */
export async function openLocalFile(path: string, job: Job, followLink: boolean): Promise<Readable | Buffer> {
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
export async function spool(job: Job, stream: Readable, spoolDirs: string[]): Promise<{ path: string; size: number }> {
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

