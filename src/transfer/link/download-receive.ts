/**
 * A downloaded file's bytes through the job's link options: throttled by pausing the reads (the transport
 * awaits each write, so the channel fills and stops: nothing piles up here), hashed with verify and checked
 * against the server's sha256 before the walker may place the file. A mismatch rejects, so the temporary
 * is discarded and nothing reaches the final path.
 */
import { createHash } from 'crypto';
import type { Job } from '../job/job';
import type { DownloadTransport } from '../walk/download-transport';
import { mismatch, remoteSha256 } from './remote-checksum';

export type Write = (chunk: Buffer) => void | Promise<void>;

/** Pieces handed on at once when only hashing (no limit): as the transports deliver them. */
const UNLIMITED = Number.MAX_SAFE_INTEGER;

export async function receiveFile(job: Job, transport: DownloadTransport, remote: Buffer, remotePath: string, size: number, write: Write): Promise<void> {
  const link = job.link;
  if (!link?.shapesData) return transport.receive(write);
  const bucket = link.bucket;
  const hash = link.verify ? createHash('sha256') : undefined;
  const step = bucket?.piece ?? UNLIMITED;
  await transport.receive(async (chunk) => {
    for (let at = 0; at < chunk.length; at += step) {
      const piece = step >= chunk.length ? chunk : chunk.subarray(at, Math.min(chunk.length, at + step));
      if (bucket) await bucket.take(piece.length, job);
      hash?.update(piece);
      await write(piece);
    }
  });
  if (!hash) return;
  const local = hash.digest('hex');
  const remoteSum = await remoteSha256(job, remote, size);
  if (remoteSum !== local) throw mismatch(job, remote, local, remoteSum, 'download');
  link.checksums.set(remotePath, { remote, sha256: local, size });
}
