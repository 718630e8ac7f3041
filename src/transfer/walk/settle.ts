/**
 * Pulls that leave files still being written (issue 16): "minimum age" skips a file modified in the last N
 * seconds; "stable size" looks at the selection twice, an interval apart, and skips a file whose size or
 * mtime changed in between (or that was not there at the first look). The first look is a walk of the
 * selection over the same transport that fetches nothing (SCP: every file record is declined, so it works
 * on any server with `scp`, no shell tools needed; SFTP: the same listings), then the real download runs
 * with what the first look saw. Skipped files are in the result with `skipped` set to the reason.
 */
import { TransferError } from '../../errors';
import type { Job } from '../job/job';
import { remoteText, joinRemote, showRemote } from '../remote-path';
import type { DownloadRequest, PassedOverReason, TransferContext, TransferResult, TransferredFile } from '../types';
import type { DownloadPlan } from './download-walk';
import type { DownloadTransport } from './download-transport';

/** The longest wait between the two looks: a bound on every wait (the node refuses more). */
export const MAX_STABLE_INTERVAL_MS = 60 * 60 * 1000;

/** Why this file is left alone, or undefined to fetch it. `nowMs` is this machine's clock. */
export function passOverReason(request: DownloadRequest, remotePath: string, size: number, mtime: number | undefined, nowMs: number): PassedOverReason | undefined {
  const settle = request.settle;
  if (!settle) return undefined;
  const minimumAge = settle.minimumAgeSeconds ?? 0;
  // A file without a time cannot prove its age: left alone.
  if (minimumAge > 0 && (mtime === undefined || nowMs / 1000 - mtime < minimumAge)) return 'minimumAge';
  if ((settle.stableIntervalMs ?? 0) > 0 && request.firstSight) {
    const seen = request.firstSight.get(remotePath);
    if (seen === undefined || seen.size !== size || seen.mtime !== mtime) return 'notStable';
  }
  return undefined;
}

/**
 * The first look: every file of the selection with its size and mtime, nothing fetched or created
 * locally. Entries the server cannot send are left for the real download to report.
 */
export async function surveyWalk(job: Job, request: DownloadRequest, plan: DownloadPlan, transport: DownloadTransport): Promise<TransferResult> {
  const open: string[] = [];
  const files: TransferredFile[] = [];
  for (;;) {
    job.checkActive();
    let entry;
    try {
      entry = await transport.next();
    } catch (error) {
      // Over SCP the files the server could not send (gone since the pattern was expanded: another instance
      // claimed them) surface at the end of the stream: what was seen before stands.
      if (files.length > 0 && error instanceof TransferError && (error.code === 'ENOENT' || error.code === 'EACCES')) break;
      throw error;
    }
    if (entry === null) break;
    if (entry.kind === 'leave') open.pop();
    else if (entry.kind === 'failed') continue;
    else {
      if (open.length === 0 && !isSelected(plan, entry.name)) {
        throw new TransferError('EPROTO', 'the server sent an entry that was not requested', { host: job.host, path: showRemote(joinRemote(plan.dir, entry.name)) });
      }
      if (entry.kind === 'directory') {
        if (!request.recursive || open.length + 1 > plan.caps.maxDepth) {
          await transport.skip('not walked');
          continue;
        }
        open.push(entry.name);
        await transport.enter();
        continue;
      }
      if (files.length + 1 > plan.caps.maxFiles) throw new TransferError('ETOOBIG', `more than the limit of ${plan.caps.maxFiles} files`, { host: job.host, path: plan.shown });
      const remotePath = remoteText(joinRemote(plan.dir, [...open, entry.name].join('/')));
      await transport.skip('looked at, not fetched');
      files.push({ remotePath, size: entry.size, mode: entry.mode, ...(entry.times ? { mtime: entry.times.mtime } : {}), transferred: false });
    }
  }
  return { transport: transport.used, files, directories: [], bytes: 0, durationMs: 0, rate: 0 };
}

function isSelected(plan: DownloadPlan, name: string): boolean {
  return plan.select.kind === 'glob' ? plan.select.glob.matches(name) : name === plan.select.name;
}

/**
 * Stable size: the first look, the interval (aborted with the caller's signal), then the download with
 * what the first look saw. With no stable interval, the download alone.
 */
export async function downloadWhenStable(
  ctx: TransferContext,
  request: DownloadRequest,
  once: (ctx: TransferContext, request: DownloadRequest) => Promise<TransferResult>,
): Promise<TransferResult> {
  const interval = request.settle?.stableIntervalMs ?? 0;
  if (interval <= 0 || request.survey) return once(ctx, request);
  const started = Date.now();
  const { onProgress: _progress, ...quiet } = ctx;
  const first = await once(quiet, { ...request, survey: true, afterAction: { kind: 'keep' }, onlyChanged: undefined });
  await pause(Math.min(interval, MAX_STABLE_INTERVAL_MS), ctx.signal);
  const firstSight = new Map(first.files.map((file) => [file.remotePath, { size: file.size, mtime: file.mtime }]));
  const result = await once(ctx, { ...request, firstSight });
  return { ...result, durationMs: Date.now() - started };
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const stopped = (): void => {
      clearTimeout(timer);
      reject(new TransferError('EABORTED', 'stopped while waiting to look at the files again'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', stopped);
      resolve();
    }, ms);
    if (signal?.aborted) stopped();
    else signal?.addEventListener('abort', stopped, { once: true });
  });
}
