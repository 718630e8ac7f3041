/**
 * Verify for uploads: once every file is in place, the server's sha256 of each is compared with the one
 * taken from the bytes as they were sent. A file that differs is removed (it is not the file the user
 * sent) and the job fails with ECHECKSUM. A server that cannot compute a sha256 fails it too, but the file
 * stays where it is (nothing says it is wrong): the error's detail says so.
 */
import { TransferError } from '../../errors';
import { quoteForShellBytes } from '../../shell-quote';
import type { Job } from '../job/job';
import { runRemote } from '../scp/remote-exec';
import { mismatch, remoteSha256 } from './remote-checksum';

/** The server's "cannot compute" error, telling that the uploaded file was kept at its final path. */
function keptUnchecked(error: unknown): unknown {
  if (!(error instanceof TransferError) || error.code !== 'ECHECKSUM') return error;
  return new TransferError('ECHECKSUM', `${error.summary}: the uploaded file was kept at its final path, unchecked`, {
    ...(error.host === undefined ? {} : { host: error.host }),
    ...(error.path === undefined ? {} : { path: error.path }),
    detail: `the file was kept; the server said: ${error.detail ?? 'nothing'}`,
  });
}

export async function verifyUploads(job: Job): Promise<void> {
  const link = job.link;
  if (!link?.verify) return;
  for (const { remote, sha256, size } of link.checksums.values()) {
    const remoteSum = await remoteSha256(job, remote, size).catch((error: unknown) => {
      throw keptUnchecked(error);
    });
    if (remoteSum === sha256) continue;
    // The failure to report is the mismatch, whether or not the removal went through.
    await runRemote(job, Buffer.concat([Buffer.from('rm -f -- '), quoteForShellBytes(remote)])).catch(() => undefined);
    throw mismatch(job, remote, sha256, remoteSum, 'upload');
  }
}
