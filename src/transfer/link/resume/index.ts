/**
 * When a job is resumable: the resume option on, a leftover journal to remember parts in, and one file
 * (a local file uploaded, or a remote file downloaded to a local file). Anything else (payloads, trees,
 * patterns) runs as without the option. SFTP transfers resume with offsets; SCP ones with shell commands.
 */
import type { Job } from '../../job/job';
import type { UploadPlan } from '../../walk/upload-plan';
import type { DownloadRequest, TransferResult, TransportUsed, UploadRequest } from '../../types';
import type { PartOps } from './part-ops';
import { releaseParts } from './kept-parts';
import { resumableDownload } from './resume-download';
import { resumableUpload } from './resume-upload';
import { sftpPartOps } from './sftp-part-ops';
import { shellPartOps, shellPartOpsWork } from './shell-part-ops';

function resumeOn(job: Job): boolean {
  return job.link?.resumeMaxAgeMs !== undefined && job.ctx.leftovers?.parts !== undefined;
}

async function withOps<T>(job: Job, used: TransportUsed, shown: string, run: (ops: PartOps) => Promise<T>): Promise<T | undefined> {
  if (used !== 'sftp' && !(await shellPartOpsWork(job, shown))) return undefined;
  const ops = used === 'sftp' ? await sftpPartOps(job, shown) : shellPartOps(job);
  try {
    return await run(ops);
  } finally {
    ops.release();
    releaseParts(job);
  }
}

/** The upload's result when it was one to resume; undefined when it runs as usual. */
export async function resumeUpload(job: Job, request: UploadRequest, plan: UploadPlan, remote: Buffer, used: TransportUsed, shown: string): Promise<TransferResult | undefined> {
  const [entry] = plan.entries;
  if (!resumeOn(job) || plan.entries.length !== 1 || entry?.kind !== 'file' || entry.localPath === undefined || request.sources[0]?.kind !== 'path') return undefined;
  return withOps(job, used, shown, (ops) => resumableUpload(job, request, entry, remote, used, ops));
}

/**
 * A pull with rules of its own (a first look or minimum age, delete/move after, only changed files) takes the
 * ordinary walk, which applies them: the resumed path fetches one file and knows none of them.
 */
function pullRules(request: DownloadRequest): boolean {
  const afterAction = request.afterAction !== undefined && request.afterAction.kind !== 'keep';
  return request.survey === true || request.settle !== undefined || afterAction || request.onlyChanged !== undefined || request.claim !== undefined;
}

/** The download's result when it was one to resume; undefined when it runs as usual. */
export async function resumeDownload(job: Job, request: DownloadRequest, remote: Buffer, used: TransportUsed, shown: string): Promise<TransferResult | undefined> {
  if (!resumeOn(job) || request.target.kind !== 'file' || request.glob || request.recursive || pullRules(request)) return undefined;
  return withOps(job, used, shown, (ops) => resumableDownload(job, request, remote, used, ops));
}
