/**
 * Removes the temporary names that an earlier job on this server could not remove (its connection was
 * lost, or Node-RED stopped): run at the start of every job, bounded by CLEANUP_TIMEOUT_MS. A failure is
 * only logged; the names stay recorded for a later job. The transport removes them through its sweep hook
 * (removeLeftoversOverScp, removeLeftoversOverSftp), which transfer/index.ts picks.
 */
import type { Leftover, LeftoverJournal } from './journal';

/** What the sweep needs of a job (transfer/job/job.ts's Job has it). */
export interface SweepingJob {
  readonly host: string;
  readonly ctx: { leftovers?: LeftoverJournal; debug?: (message: string) => void };
}

/** A transport's way to remove leftovers (its sweep hook): resolves with the ones it removed. */
export type RemoveLeftovers<J extends SweepingJob> = (job: J, orphans: Leftover[]) => Promise<Leftover[]>;

export async function sweepLeftovers<J extends SweepingJob>(job: J, remove: RemoveLeftovers<J>): Promise<void> {
  const journal = job.ctx.leftovers;
  if (!journal) return;
  const orphans = await journal.takeOrphans();
  if (orphans.length === 0) return;
  let removed: Leftover[] = [];
  try {
    removed = await remove(job, orphans);
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
