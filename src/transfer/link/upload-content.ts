/**
 * An uploaded file's content through the job's link options: cut into the bucket's pieces, each sent once
 * the limit allows it, and hashed with verify. The transports read it as any stream (SCP writes each
 * piece as it comes, SFTP puts it into its requests). Only built when an option is on.
 */
import { createHash } from 'crypto';
import { Readable } from 'stream';
import type { Job } from '../job/job';
import { localChunks } from '../local/local-content';
import { remoteText } from '../remote-path';

/** Without a limit (verify only) pieces are as the source gives them, up to this. */
const UNLIMITED_PIECE_BYTES = 256 * 1024;

export function shapedContent(job: Job, content: Readable | Buffer, localPath: string | undefined, finalPath: Buffer): Readable | Buffer {
  const link = job.link;
  if (!link?.shapesData) return content;
  const bucket = link.bucket;
  const hash = link.verify ? createHash('sha256') : undefined;
  const step = bucket?.piece ?? UNLIMITED_PIECE_BYTES;
  // A local file's chunks are views into two buffers it reuses: what is queued in the stream is a copy.
  const reused = !Buffer.isBuffer(content) && localPath !== undefined;
  let size = 0;
  async function* pieces(): AsyncGenerator<Buffer> {
    for await (const chunk of localChunks(content, job, localPath)) {
      for (let at = 0; at < chunk.length; at += step) {
        const piece = chunk.subarray(at, Math.min(chunk.length, at + step));
        if (bucket) await bucket.take(piece.length, job);
        hash?.update(piece);
        size += piece.length;
        yield reused ? Buffer.from(piece) : piece;
      }
    }
    if (hash) link?.checksums.set(remoteText(finalPath), { remote: finalPath, sha256: hash.digest('hex'), size });
  }
  // One piece queued ahead at most: the limit is kept where the bytes leave, not where they are read.
  return Readable.from(pieces(), { highWaterMark: 1 });
}
