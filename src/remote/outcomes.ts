/**
 * Per-path outcomes of delete/rename/mkdir/rmdir/chmod, the same for both transports: what was done, or
 * the code and message of what stopped it. A message whose paths did not all succeed fails with the code
 * of the first failure; the error carries every outcome, so the node can list them for a Catch node.
 */
import { TransferError, type TransferErrorCode } from '../errors';
import { type Job, showRemote } from '../transfer';
import { nameOf } from './entries';
import type { PathOutcome } from './types';

/** An outcome while the engine works: paths still raw bytes. */
export type Outcome =
  | { path: Buffer; to?: Buffer; done: 'deleted' | 'renamed' | 'created' | 'existed' | 'removed' | 'changed' }
  | { path: Buffer; to?: Buffer; error: TransferError };

/** SFTP requests for this many paths are in flight at once (the shell batches by command length instead). */
const IN_FLIGHT = 32;

export function failure(job: Job, path: Buffer, code?: TransferErrorCode, summary?: string, error?: TransferError, to?: Buffer): Outcome {
  const shown = showRemote(path);
  const reason = error ?? new TransferError(code ?? 'EPROTO', summary ?? 'failed', { host: job.host, path: shown });
  return { path, ...(to ? { to } : {}), error: reason };
}

/** Runs `each` for every item, at most IN_FLIGHT at once; results in the items' order. */
export async function inBatches<T, R>(items: T[], each: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const at = next;
      next += 1;
      results[at] = await each(items[at] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, items.length) }, worker));
  return results;
}

export function publicOutcome(outcome: Outcome): PathOutcome {
  const to = outcome.to ? { to: nameOf(outcome.to) } : {};
  if ('done' in outcome) return { path: nameOf(outcome.path), ...to, done: outcome.done };
  return { path: nameOf(outcome.path), ...to, error: { code: outcome.error.code, message: outcome.error.message } };
}

/** A message whose paths did not all succeed: the first failure's code, every outcome attached. */
export type PartialFailure = TransferError & { outcomes: PathOutcome[] };

export function isPartialFailure(error: unknown): error is PartialFailure {
  return error instanceof TransferError && Array.isArray((error as Partial<PartialFailure>).outcomes);
}

export function checkOutcomes(job: Job, outcomes: Outcome[]): PathOutcome[] {
  const shown = outcomes.map(publicOutcome);
  const failed = outcomes.filter((outcome): outcome is Extract<Outcome, { error: TransferError }> => 'error' in outcome);
  const first = failed[0];
  if (!first) return shown;
  const summary =
    outcomes.length === 1 ? first.error.summary : `${failed.length} of ${outcomes.length} paths failed, the first: ${first.error.summary}`;
  const error = new TransferError(first.error.code, summary, {
    host: job.host,
    path: showRemote(first.path),
    ...(first.error.detail ? { detail: first.error.detail } : {}),
    ...(first.error.reason ? { reason: first.error.reason } : {}),
  });
  throw Object.assign(error, { outcomes: shown });
}
