/**
 * Kept parts nobody came back for: at the start of every job on the server (after the other leftovers), a
 * part older than the job's resume age (or the default, 24 h, for jobs without resume) is removed, on the
 * server through the transport's sweep hook or here, and forgotten. A removal that fails leaves it recorded;
 * a part a running job holds (kept-parts.ts) is left alone.
 */
import { promises as fs } from 'fs';
import type { Job } from '../../job/job';
import type { RemoveLeftovers } from '../../leftovers/sweep';
import { DEFAULT_RESUME_MAX_AGE_MS } from '../link-state';
import { partInUse } from './kept-parts';

export async function sweepOldParts(job: Job, remove: RemoveLeftovers<Job>): Promise<void> {
  const journal = job.ctx.leftovers;
  const maxAge = job.link?.resumeMaxAgeMs ?? DEFAULT_RESUME_MAX_AGE_MS;
  // A part a running job reads or writes is not old, whatever its mark says (that job may be slow).
  const old = ((await journal?.parts?.()) ?? []).filter((part) => part.part !== undefined && !partInUse(part.part.key) && Date.now() - part.part.since > maxAge);
  if (!journal || old.length === 0) return;
  const local = old.filter((part) => part.part?.side === 'local');
  const remote = old.filter((part) => part.part?.side === 'remote');
  for (const part of local) await fs.rm(part.path.toString('utf8'), { force: true }).catch(() => undefined);
  // The hooks remove temporary files: a remote part is one, by name and by kind.
  const removed = remote.length === 0 ? [] : await remove(job, remote.map((part) => ({ path: part.path, kind: 'file' as const }))).catch(() => []);
  const gone = [...local, ...remote.filter((part) => removed.some((item) => item.path.equals(part.path)))];
  await journal.forget(gone);
  job.ctx.debug?.(`resumable parts older than ${Math.round(maxAge / 60_000)} min on ${job.host}: ${gone.length} of ${old.length} removed`);
}
