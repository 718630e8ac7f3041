/** Opening an SFTP session on a pooled connection, its paths, and quiet removal of what a job made. */
import { TransferError } from '../../errors';
import { SftpSession, type SftpContext } from '../../sftp';
import type { SftpLease } from '../../ssh/types';
import { isValidUtf8 } from '../../text';
import { CLEANUP_TIMEOUT_MS, type Job } from '../job/job';
import type { Leftover } from '../leftovers/journal';
import { showRemote } from '../remote-path';
import { watchConnection } from '../job/watch-connection';

/** SFTP names paths as UTF-8 strings: a path that is not valid UTF-8 cannot be named. */
export function sftpPath(remote: Buffer, job: Job): string {
  if (!isValidUtf8(remote)) {
    throw new TransferError('EINVAL', 'SFTP needs remote paths that are valid UTF-8', { host: job.host, path: showRemote(remote) });
  }
  return remote.toString('utf8');
}

/** True for the pool's error when the server has no SFTP subsystem (OpenSSH without `Subsystem sftp`). */
export function sftpSubsystemRefused(error: unknown): boolean {
  return error instanceof TransferError && error.code === 'EPROTO' && /subsystem/i.test(`${error.detail ?? ''} ${error.summary}`);
}

/**
 * Up to this many bytes, an upload without directories or a single-file download uses the SFTP session its
 * connection keeps for small jobs (no channel open, no server process per job); a bigger one opens a session
 * of its own, so that the server reads and writes its data in a process of its own while the small jobs go
 * on (two 64 MiB downloads at once took about twice as long on one shared session as on two).
 */
export const SHARED_SESSION_MAX_BYTES = 1024 * 1024;

/**
 * A session for the job: with `shared` a use of the session the connection keeps (when the provider keeps
 * one), else one of its own. Released through the returned lease: a shared session the job left with an
 * unanswered request is discarded, so that the next job does not wait on it too.
 */
export async function openSftp(job: Job, path: string, shared = false): Promise<{ lease: SftpLease; session: SftpSession }> {
  let lease: SftpLease;
  try {
    lease = await job.channels.sftp({ signal: job.signal, ...(shared ? { shared } : {}) });
  } catch (error) {
    throw job.normalise(error, path, 'EPROTO');
  }
  // A shared session has its listener from the pool; a listener per job would pile up on it.
  if (!lease.shared) lease.sftp.on('error', () => undefined);
  const session = new SftpSession(lease.sftp, sessionContext(job, lease, job.signal));
  // ssh2 may leave a dead connection's SFTP channel open: the pool's report fails the session instead.
  const stopWatching = watchConnection(undefined, lease, (lost) => session.fail(lost));
  const release = (): void => {
    stopWatching();
    if (session.unanswered && lease.discard) lease.discard();
    else lease.release();
  };
  return {
    lease: {
      sftp: lease.sftp,
      ...(lease.shared ? { shared: true } : {}),
      connectionError: () => lease.connectionError(),
      release,
    },
    session,
  };
}

function sessionContext(job: Job, lease: SftpLease, signal: AbortSignal): SftpContext {
  return {
    host: job.host,
    idleTimeoutMs: job.idleTimeoutMs,
    signal,
    stopError: (p) => job.stopError(p),
    ...(lease.shared ? { shared: true } : {}),
  };
}

/** Requests on the job's session after it failed or stopped: bounded by CLEANUP_TIMEOUT_MS, whatever the job's signal. */
export function cleanupSession(job: Job, lease: SftpLease): SftpSession {
  return new SftpSession(lease.sftp, sessionContext(job, lease, AbortSignal.timeout(CLEANUP_TIMEOUT_MS)));
}

/**
 * Best effort: removes temporary files within CLEANUP_TIMEOUT_MS, even when the job was aborted. True when
 * none of them is left (already missing counts as removed).
 */
export async function unlinkQuietly(job: Job, lease: SftpLease, paths: string[]): Promise<boolean> {
  if (paths.length === 0) return true;
  const cleanup = cleanupSession(job, lease);
  let removed = true;
  for (const path of paths) {
    await cleanup.unlink(path).catch((error: unknown) => {
      if ((error as TransferError).code !== 'ENOENT') removed = false;
    });
  }
  return removed;
}

/** Over SFTP only files can go (staging directories come from SCP, whose shell removes them later). */
export async function removeLeftoversOverSftp(job: Job, orphans: Leftover[]): Promise<Leftover[]> {
  const files = orphans.filter((item) => item.kind === 'file' && isValidUtf8(item.path));
  if (files.length === 0) return [];
  const { lease } = await openSftp(job, '', true);
  try {
    const removed = await unlinkQuietly(
      job,
      lease,
      files.map((item) => item.path.toString('utf8')),
    );
    return removed ? files : [];
  } finally {
    lease.release();
  }
}
