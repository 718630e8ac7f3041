/**
 * A resumable download of one file to a local path: the bytes go to a part file beside the target that
 * the leftover journal remembers (kind 'part'); when the transfer breaks the part stays, and the next
 * message for the same remote file and local path continues it, after checking that the remote file has
 * the size and mtime it had and that the last MiB of the part equals the same range on the server.
 * The part reaches the target only whole (and verified, with verify): never a partial file there.
 */
import { createHash } from 'crypto';
import { promises as fs, constants } from 'fs';
import { basename, dirname, resolve } from 'path';
import { TransferError } from '../../../errors';
import type { Job } from '../../job/job';
import { currentUmask, inspectLocal, localError } from '../../local/local-files';
import { remoteText, showRemote } from '../../remote-path';
import { localTempName } from '../../leftovers/temp-name';
import type { DownloadRequest, TransferResult, TransportUsed } from '../../types';
import { mismatch, remoteSha256 } from '../remote-checksum';
import { TAIL_CHECK_BYTES, findPart, forgetPart, keepPart, partStillFits, resumeKey } from './kept-parts';
import type { PartOps } from './part-ops';

async function localSize(path: string): Promise<number | undefined> {
  const stats = await fs.lstat(path).catch(() => undefined);
  return stats?.isFile() ? stats.size : undefined;
}

async function localRangeSha256(path: string, from: number, length: number): Promise<string> {
  const handle = await fs.open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, from);
    return createHash('sha256').update(buffer.subarray(0, bytesRead)).digest('hex');
  } finally {
    await handle.close();
  }
}

async function localSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await fs.open(path, 'r');
  try {
    for await (const chunk of handle.createReadStream({ highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  } finally {
    await handle.close().catch(() => undefined);
  }
  return hash.digest('hex');
}

/** Where the part of the last try can be continued from, or 0 (a part that cannot is removed). */
async function usableOffset(job: Job, ops: PartOps, key: string, remote: Buffer, size: number, mtime: number): Promise<{ from: number; partPath?: string }> {
  const found = await findPart(job, key);
  if (!found) return { from: 0 };
  const partPath = found.path.toString('utf8');
  const have = found.part?.side === 'local' ? await localSize(partPath) : undefined;
  let fits = have !== undefined && have <= size && partStillFits(job, found, size, mtime);
  if (fits && have !== undefined && have > 0) {
    const length = Math.min(TAIL_CHECK_BYTES, have);
    fits = (await localRangeSha256(partPath, have - length, length)) === (await ops.rangeSha256(remote, have - length, length));
  }
  if (fits && have !== undefined) return { from: have, partPath };
  await fs.rm(partPath, { force: true }).catch(() => undefined);
  await forgetPart(job, found);
  job.ctx.debug?.(`a kept part of ${showRemote(remote)} was dropped: the file changed, the part is too old or its bytes differ`);
  return { from: 0 };
}

export async function resumableDownload(job: Job, request: DownloadRequest, remote: Buffer, used: TransportUsed, ops: PartOps): Promise<TransferResult> {
  if (request.target.kind !== 'file') throw new TransferError('EINVAL', 'resume needs a local file as the target', { host: job.host });
  const shown = showRemote(remote);
  const display = remoteText(remote);
  const finalPath = resolve(request.target.path);
  const stat = await ops.stat(remote);
  if (!stat) throw new TransferError('ENOENT', 'the remote path does not exist', { host: job.host, path: shown });
  if (stat.kind === 'directory') throw new TransferError('EISDIR', 'the remote path is a directory', { host: job.host, path: shown });
  if (stat.kind !== 'file') throw new TransferError('EPROTO', 'the remote path is not a regular file', { host: job.host, path: shown });
  const record = { remotePath: display, localPath: finalPath, size: stat.size, mode: stat.mode & 0o777, mtime: stat.mtime };
  const existing = await inspectLocal(finalPath, job);
  if (existing === 'directory') throw new TransferError('EISDIR', 'a directory is in the way of the file', { host: job.host, path: finalPath });
  if (existing === 'file' && request.overwrite !== 'overwrite') {
    if (request.overwrite === 'fail') throw new TransferError('EEXIST', 'the local file exists', { host: job.host, path: finalPath });
    job.fileStart(display, stat.size);
    job.fileEnd({ ...record, transferred: false }, display);
    return job.result(used);
  }
  const key = resumeKey('download', job.host, remote, finalPath);
  const usable = await usableOffset(job, ops, key, remote, stat.size, stat.mtime);
  const partPath = usable.partPath ?? `${dirname(finalPath)}/${localTempName(basename(finalPath))}`;
  const from = usable.from;
  const part = await keepPart(job, Buffer.from(partPath), { key, side: 'local', size: stat.size, mtime: stat.mtime });
  if (job.link) job.link.resumedFrom = from;
  job.fileStart(display, stat.size);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(partPath, from === 0 ? constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL : constants.O_WRONLY, 0o600);
  } catch (error) {
    throw localError(error, finalPath, job, 'cannot create the local file');
  }
  let position = from;
  const bucket = job.link?.bucket;
  try {
    await ops.read(remote, from, stat.size, async (chunk) => {
      const step = bucket?.piece ?? chunk.length;
      for (let at = 0; at < chunk.length; at += step) {
        const piece = chunk.subarray(at, Math.min(chunk.length, at + step));
        if (bucket) await bucket.take(piece.length, job);
        if (position + piece.length > stat.size) throw new TransferError('EPROTO', 'the server sent more data than the file has', { host: job.host, path: shown });
        let done = 0;
        while (done < piece.length) done += (await handle.write(piece, done, piece.length - done, position + done)).bytesWritten;
        position += piece.length;
        job.addBytes(piece.length);
      }
    });
    if (position !== stat.size) throw new TransferError('EPROTO', `received ${position} of ${stat.size} bytes (the file changed while being read)`, { host: job.host, path: shown });
    await handle.chmod(request.preserve ? stat.mode & 0o777 : 0o666 & ~currentUmask());
    if (request.preserve) await handle.utimes(stat.mtime, stat.mtime);
  } finally {
    // The part stays on every failure: that is what resume is for (the journal names it).
    await handle.close().catch(() => undefined);
  }
  if (job.link?.verify) {
    const local = await localSha256(partPath);
    const remoteSum = await remoteSha256(job, remote, stat.size);
    if (local !== remoteSum) {
      await fs.rm(partPath, { force: true });
      await forgetPart(job, part);
      throw mismatch(job, remote, local, remoteSum, 'download');
    }
    job.link.checksums.set(display, { remote, sha256: local, size: stat.size });
  }
  try {
    await fs.rename(partPath, finalPath);
  } catch (error) {
    throw localError(error, finalPath, job, 'cannot move the local file into place');
  }
  await forgetPart(job, part);
  job.fileEnd({ ...record, transferred: true }, display);
  return job.result(used);
}
