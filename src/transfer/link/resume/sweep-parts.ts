/**
 * Kept parts nobody came back for: at the start of every job on the server (as the other leftovers), a part
 * older than the job's resume age (or the default, 24 h, for jobs without resume) is removed, on the server
 * over the job's transport or here, and forgotten. A removal that fails leaves the part recorded.
 */
import { promises as fs } from 'fs';
import type { Job } from '../../job';
import type { Leftover } from '../../leftovers';
import { removeRemoteQuietly } from '../../scp/remote-exec';
import { openSftp, unlinkQuietly } from '../../sftp/session';
import type { TransportUsed } from '../../types';
import { DEFAULT_RESUME_MAX_AGE_MS } from '../link-state';

async function removeRemote(job: Job, parts: Leftover[], transport: TransportUsed): Promise<boolean> {
  if (transport === 'scp') return removeRemoteQuietly(job, parts.map((part) => ({ path: part.path, kind: 'file' })));
  const { lease } = await openSftp(job, '', true);
  try {
    return await unlinkQuietly(job, lease, parts.map((part) => part.path.toString('utf8')));
  } finally {
    lease.release();
  }
}

export async function sweepOldParts(job: Job, transport: TransportUsed): Promise<void> {
  const journal = job.ctx.leftovers;
  const maxAge = job.link?.resumeMaxAgeMs ?? DEFAULT_RESUME_MAX_AGE_MS;
  const old = ((await journal?.parts?.()) ?? []).filter((part) => part.part !== undefined && Date.now() - part.part.since > maxAge);
  if (!journal || old.length === 0) return;
  const local = old.filter((part) => part.part?.side === 'local');
  const remote = old.filter((part) => part.part?.side === 'remote');
  for (const part of local) await fs.rm(part.path.toString('utf8'), { force: true }).catch(() => undefined);
  const remoteGone = remote.length === 0 || (await removeRemote(job, remote, transport).catch(() => false));
  await journal.forget(remoteGone ? old : local);
  job.ctx.debug?.(`resumable parts older than ${Math.round(maxAge / 60000)} min on ${job.host}: ${remoteGone ? old.length : local.length} removed`);
}
