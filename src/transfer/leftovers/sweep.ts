/**
 * Removes the temporary names that an earlier job on this server could not remove (its connection was
 * lost, or Node-RED stopped): run at the start of every job, bounded by CLEANUP_TIMEOUT_MS. A failure is
 * only logged; the names stay recorded for a later job.
 */
import { isValidUtf8 } from '../../text';
import type { Job } from '../job';
import type { Leftover } from './journal';
import { removeRemoteQuietly } from '../scp/shell-scripts';
import { openSftp, unlinkQuietly } from '../sftp/sftp-channel';
import type { TransportUsed } from '../types';

/** Over SFTP only files can go (staging directories come from SCP, whose shell removes them later). */
async function removeOverSftp(job: Job, orphans: Leftover[]): Promise<Leftover[]> {
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

export async function sweepLeftovers(job: Job, transport: TransportUsed): Promise<void> {
  const journal = job.ctx.leftovers;
  if (!journal) return;
  const orphans = await journal.takeOrphans();
  if (orphans.length === 0) return;
  let removed: Leftover[] = [];
  try {
    if (transport === 'sftp') removed = await removeOverSftp(job, orphans);
    else if (await removeRemoteQuietly(job, orphans)) removed = orphans;
  } catch {
    // reported below: nothing was removed
  }
  const kept = orphans.filter((item) => !removed.includes(item));
  await journal.forget(removed);
  journal.release(kept);
  job.ctx.debug?.(
    `temporary files left by an earlier transfer on ${job.host}: ${removed.length} removed` +
      (kept.length > 0 ? `, ${kept.length} kept for a later try` : ''),
  );
}
