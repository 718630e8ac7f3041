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

/**
 * Keys of the parts a running job looks at or writes, with how many jobs do: the sweep of old parts
 * (sweep-parts.ts) leaves them alone, however old their mark, until the jobs end (releaseParts).
 */
const partsInUse = new Map<string, number>();
const heldByJob = new WeakMap<Job, string[]>();

function holdPart(job: Job, key: string): void {
  const held = heldByJob.get(job) ?? [];
  if (held.includes(key)) return;
  held.push(key);
  heldByJob.set(job, held);
  partsInUse.set(key, (partsInUse.get(key) ?? 0) + 1);
}

/** Lets the sweep see the job's parts again: called once the job is done with them, on every path. */
export function releaseParts(job: Job): void {
  for (const key of heldByJob.get(job) ?? []) {
    const count = (partsInUse.get(key) ?? 1) - 1;
    if (count > 0) partsInUse.set(key, count);
    else partsInUse.delete(key);
  }
  heldByJob.delete(job);
}

export function partInUse(key: string): boolean {
  return partsInUse.has(key);
}

/** The part kept for `key`, if the journal has one; held from now on for the job (see releaseParts). */
export async function findPart(job: Job, key: string): Promise<Leftover | undefined> {
  holdPart(job, key);
  const parts = (await job.ctx.leftovers?.parts?.()) ?? [];
  return parts.find((item) => item.part?.key === key);
}

/** Records (or re-records, with a new time: each try starts the age anew) the part, before any byte of it is written. */
export async function keepPart(job: Job, path: Buffer, mark: Omit<PartMark, 'since'>): Promise<Leftover> {
  holdPart(job, mark.key);
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
