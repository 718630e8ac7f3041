/**
 * The parts kept for resume, in the leftover journal (kind 'part', see leftovers.ts): found by the key of
 * direction, device, source and target; kept when a transfer fails, forgotten once used or dropped.
 */
import { createHash } from 'crypto';
import type { Job } from '../../job/job';
import type { Leftover, PartMark } from '../../leftovers/journal';

export function resumeKey(direction: 'upload' | 'download', device: string, source: string | Buffer, target: string | Buffer): string {
  const hash = createHash('sha256').update(`${direction}\0${device}\0`);
  hash.update(source).update('\0').update(target);
  return hash.digest('hex');
}

/** The part kept for `key`, if the journal has one. */
export async function findPart(job: Job, key: string): Promise<Leftover | undefined> {
  const parts = (await job.ctx.leftovers?.parts?.()) ?? [];
  return parts.find((item) => item.part?.key === key);
}

/** Records (or re-records, with a new time) the part, before any byte of it is written. */
export async function keepPart(job: Job, path: Buffer, mark: Omit<PartMark, 'since'>): Promise<Leftover> {
  const item: Leftover = { path, kind: 'part', part: { ...mark, since: Date.now() } };
  const journal = job.ctx.leftovers;
  await journal?.record([item]);
  // Recorded, not held: a part is never an orphan for the sweep.
  journal?.release([item]);
  return item;
}

export async function forgetPart(job: Job, item: Leftover): Promise<void> {
  await job.ctx.leftovers?.forget([item]);
}

/** Whether a kept part may be continued: the same source (size, mtime) and young enough. */
export function partStillFits(job: Job, item: Leftover, size: number, mtime: number): boolean {
  const mark = item.part;
  const maxAge = job.link?.resumeMaxAgeMs ?? 0;
  return mark !== undefined && mark.size === size && mark.mtime === mtime && Date.now() - mark.since <= maxAge;
}

/** Bytes at the end of the part compared on both sides before it is continued. */
export const TAIL_CHECK_BYTES = 1024 * 1024;
