/** Opening an SFTP session on a pooled connection, its paths, and quiet removal of what a job made. */
import type { SFTPWrapper } from 'ssh2';
import { TransferError } from '../../errors';
import { SftpSession } from '../../sftp';
import type { SftpLease } from '../../ssh/types';
import { isValidUtf8 } from '../../text';
import { CLEANUP_TIMEOUT_MS, type Job } from '../job';
import { showRemote } from '../remote-path';
import { watchConnection } from '../watch-connection';

/** SFTP names paths as UTF-8 strings: a path that is not valid UTF-8 cannot be named. */
export function sftpPath(remote: Buffer, job: Job): string {
  if (!isValidUtf8(remote)) {
    throw new TransferError('EINVAL', 'SFTP needs remote paths that are valid UTF-8', { host: job.host, path: showRemote(remote) });
  }
  return remote.toString('utf8');
}

export async function openSftp(job: Job, path: string): Promise<{ lease: SftpLease; session: SftpSession }> {
  let lease: SftpLease;
  try {
    lease = await job.channels.sftp({ signal: job.signal });
  } catch (error) {
    throw job.normalise(error, path, 'EPROTO');
  }
  lease.sftp.on('error', () => undefined);
  const session = new SftpSession(lease.sftp, {
    host: job.host,
    idleTimeoutMs: job.idleTimeoutMs,
    signal: job.signal,
    stopError: (p) => job.stopError(p),
  });
  // ssh2 may leave a dead connection's SFTP channel open: the pool's report fails the session instead.
  const stopWatching = watchConnection(undefined, lease, (lost) => session.fail(lost));
  const release = lease.release.bind(lease);
  return {
    lease: {
      sftp: lease.sftp,
      connectionError: () => lease.connectionError(),
      release: () => {
        stopWatching();
        release();
      },
    },
    session,
  };
}

/**
 * Best effort: removes temporary files within CLEANUP_TIMEOUT_MS, even when the job was aborted. True when
 * none of them is left (already missing counts as removed).
 */
export async function unlinkQuietly(job: Job, sftp: SFTPWrapper, paths: string[]): Promise<boolean> {
  if (paths.length === 0) return true;
  const cleanup = new SftpSession(sftp, {
    host: job.host,
    idleTimeoutMs: job.idleTimeoutMs,
    signal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS),
    stopError: (p) => job.stopError(p),
  });
  let removed = true;
  for (const path of paths) {
    await cleanup.unlink(path).catch((error: unknown) => {
      if ((error as TransferError).code !== 'ENOENT') removed = false;
    });
  }
  return removed;
}
