/**
 * A resumable upload of one local file: the bytes go to a part beside the remote target that the leftover
 * journal remembers (kind 'part'); when the transfer breaks the part stays on the server, and the next
 * message for the same local file and remote path continues it, after checking that the local file has
 * the size and mtime it had and that the last MiB of the part equals the same range here. The part is
 * renamed onto the target only whole (and verified, with verify): never a partial file there.
 */
import { createHash } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import { resolve } from 'path';
import { TransferError } from '../../../errors';
import type { Job } from '../../job/job';
import type { PlannedFile } from '../../walk/upload-plan';
import { joinRemote, remoteText, showRemote, splitRemote } from '../../remote-path';
import { remoteTempName } from '../../leftovers/temp-name';
import type { TransferResult, TransportUsed, UploadRequest } from '../../types';
import { mismatch, remoteSha256 } from '../remote-checksum';
import { TAIL_CHECK_BYTES, findPart, forgetPart, keepPart, partStillFits, resumeKey } from './kept-parts';
import type { PartOps } from './part-ops';

/** The local file's bytes from `from`, cut into the bandwidth bucket's pieces when there is a limit. */
async function* localBytes(job: Job, path: string, from: number, hash?: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  const bucket = job.link?.bucket;
  const stream = createReadStream(path, { start: from, highWaterMark: 256 * 1024 });
  try {
    for await (const chunk of stream) {
      const bytes = chunk as Buffer;
      const step = bucket?.piece ?? bytes.length;
      for (let at = 0; at < bytes.length; at += step) {
        const piece = bytes.subarray(at, Math.min(bytes.length, at + step));
        if (bucket) await bucket.take(piece.length, job);
        hash?.update(piece);
        yield piece;
      }
    }
  } finally {
    stream.destroy();
  }
}

async function localRangeSha256(path: string, from: number, length: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { start: from, end: from + length - 1 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Where the part of the last try can be continued from, or 0 (a part that cannot is removed). */
async function usableOffset(job: Job, ops: PartOps, key: string, localPath: string, size: number, mtime: number): Promise<{ from: number; part?: Buffer }> {
  const found = await findPart(job, key);
  if (!found) return { from: 0 };
  const there = found.part?.side === 'remote' ? await ops.stat(found.path) : undefined;
  const have = there?.kind === 'file' ? there.size : undefined;
  let fits = have !== undefined && have <= size && partStillFits(job, found, size, mtime);
  if (fits && have !== undefined && have > 0) {
    const length = Math.min(TAIL_CHECK_BYTES, have);
    fits = (await localRangeSha256(localPath, have - length, length)) === (await ops.rangeSha256(found.path, have - length, length));
  }
  if (fits && have !== undefined) return { from: have, part: found.path };
  if (there) await ops.removeQuietly(found.path);
  await forgetPart(job, found);
  job.ctx.debug?.(`a kept part on ${job.host} was dropped: the local file changed, the part is too old or its bytes differ`);
  return { from: 0 };
}

export async function resumableUpload(job: Job, request: UploadRequest, file: PlannedFile, remote: Buffer, used: TransportUsed, ops: PartOps): Promise<TransferResult> {
  if (file.localPath === undefined) throw new TransferError('EINVAL', 'resume needs a local file as the source', { host: job.host });
  const localPath = resolve(file.localPath);
  const local = await fs.stat(localPath);
  const mtime = Math.floor(local.mtimeMs);
  // A remote directory takes the file under its local name, as without resume.
  const named = await ops.stat(remote);
  const target = named?.kind === 'directory' && file.name ? joinRemote(remote, file.name) : remote;
  const existing = target === remote ? named : await ops.stat(target);
  const display = remoteText(target);
  const shown = showRemote(target);
  const record = { remotePath: display, localPath: file.localPath, size: local.size, mode: file.mode, ...(file.times ? { mtime: file.times.mtime, atime: file.times.atime } : {}) };
  if (existing?.kind === 'directory') throw new TransferError('EISDIR', 'a directory is in the way of the file', { host: job.host, path: shown });
  if (existing && request.overwrite !== 'overwrite') {
    if (request.overwrite === 'fail') throw new TransferError('EEXIST', 'the remote file exists', { host: job.host, path: shown });
    job.fileStart(display, local.size);
    job.fileEnd({ ...record, transferred: false }, display);
    return job.result(used);
  }
  const key = resumeKey('upload', job.host, localPath, target);
  const usable = await usableOffset(job, ops, key, localPath, local.size, mtime);
  const { dir, base } = splitRemote(target);
  const partPath = usable.part ?? joinRemote(dir, remoteTempName(base));
  const from = usable.from;
  const part = await keepPart(job, partPath, { key, side: 'remote', size: local.size, mtime });
  if (job.link) job.link.resumedFrom = from;
  job.fileStart(display, local.size);
  const hash = job.link?.verify ? createHash('sha256') : undefined;
  if (hash && from > 0) for await (const chunk of createReadStream(localPath, { end: from - 1 })) hash.update(chunk as Buffer);
  // The part stays on every failure: that is what resume is for (the journal names it).
  await ops.write(partPath, from, localBytes(job, localPath, from, hash), (n) => job.addBytes(n));
  const written = await ops.stat(partPath);
  if (written?.size !== local.size) {
    throw new TransferError('EPROTO', `the remote part has ${String(written?.size)} bytes instead of ${local.size} (the local file changed?)`, { host: job.host, path: shown });
  }
  if (hash) {
    const sum = hash.digest('hex');
    const remoteSum = await remoteSha256(job, partPath, local.size);
    if (sum !== remoteSum) {
      await ops.removeQuietly(partPath);
      await forgetPart(job, part);
      throw mismatch(job, target, sum, remoteSum, 'upload');
    }
    job.link?.checksums.set(display, { remote: target, sha256: sum, size: local.size });
  }
  await ops.setMode(partPath, file.mode, request.preserve ? file.times : undefined);
  await ops.rename(partPath, target);
  await forgetPart(job, part);
  job.fileEnd({ ...record, transferred: true }, display);
  return job.result(used);
}
