/**
 * The job interface the nodes call: `upload` and `download`, over SCP or SFTP per
 * `TransferContext.transport`. With 'auto' a small job (auto/small-jobs.ts) goes over the SFTP session the
 * connection keeps once the server proved that SFTP sees the shell's paths (auto/same-paths.ts, once per
 * ChannelProvider); any other job tries SCP first. When the server proves it has no usable scp (exit
 * status 127, "not found", OpenSSH's "sftp connections only" refusal: src/scp/no-scp.ts) the job runs
 * over SFTP and the decision is remembered for that ChannelProvider, so later jobs go straight to SFTP.
 * Any other failure (a banner, a hostile reply) is that job's error and teaches nothing: the next job
 * tries SCP again.
 *
 * The transports are plug-ins: this module builds the one a job uses (scp/, sftp/) and hands it to the
 * walker (walk/upload-walk.ts, walk/download-walk.ts), which carries the job out the same way over both.
 */
import { TransferError } from '../errors';
import { Job } from './job/job';
import { remotePathOf, showRemote, splitRemote } from './remote-path';
import { openScpDownload } from './scp/scp-download';
import { ScpUploadTransport } from './scp/scp-upload';
import { openSftpDownload } from './sftp/sftp-download';
import { SftpUploadTransport } from './sftp/sftp-upload';
import { checkDownloadTarget } from './walk/download-target';
import { runDownload } from './walk/download-walk';
import { downloadWhenStable } from './walk/settle';
import { downloadClaimed } from './claim/claims';
import { severalIntoMemory, type MemoryResult } from './local/into-memory';
import { runUpload } from './walk/upload-walk';
import { planUpload, type UploadPlan } from './walk/upload-plan';
import { sweepLeftovers, type RemoveLeftovers } from './leftovers/sweep';
import { removeLeftoversOverScp } from './scp/shell-scripts';
import { removeLeftoversOverSftp } from './sftp/sftp-channel';
import { linkStateFor } from './link/link-state';
import { verifyUploads } from './link/verify-upload';
import { resumeDownload, resumeUpload } from './link/resume';
import { sweepOldParts } from './link/resume/sweep-parts';
import { knowsTransport, learnTransport } from './transport-memory';
import { smallDownloadCandidate, smallJobOverSftp, smallUpload } from './auto/small-jobs';
import type { DownloadRequest, OverwritePolicy, TransferContext, TransferResult, TransportUsed, UploadRequest } from './types';

export * from './types';
export { INSTANCE_ID } from './claim/claims';
export { MAX_STABLE_INTERVAL_MS } from './walk/settle';
export type { MemoryFile, MemoryResult } from './local/into-memory';
export type { Leftover, LeftoverJournal } from './leftovers/journal';
export { FileLeftoverJournal, leftoverJournalFor } from './leftovers/journal-file';
export { FilePullRecord, MAX_PULL_RECORD_ENTRIES } from './pull-record/pull-record-file';
export { Glob, matchGlob } from '../glob';
// What the remote toolbox (src/remote) builds on: it imports nothing past this file.
export { Job } from './job/job';
export { joinRemote, remotePathOf, showRemote, splitRemote, stripTrailingSlashes } from './remote-path';
export { openSftp, sftpPath, sftpSubsystemRefused } from './sftp/sftp-channel';
export { batchCommands, runRemote, type StdoutStream } from './scp/remote-exec';
export { forgetTransport, knowsTransport, learnTransport } from './transport-memory';

const NEWLINE = 0x0a;

function firstTransport(ctx: TransferContext): TransportUsed {
  if (ctx.transport === 'sftp') return 'sftp';
  if (ctx.transport === 'scp') return 'scp';
  return knowsTransport(ctx.channels, 'noScp') ? 'sftp' : 'scp';
}

/** How the transport a job starts with removes what earlier jobs left behind. */
function sweepHook(ctx: TransferContext): RemoveLeftovers<Job> {
  return firstTransport(ctx) === 'sftp' ? removeLeftoversOverSftp : removeLeftoversOverScp;
}

/** What earlier jobs on the server left: their temporaries, and kept parts past their age (link/resume/). */
async function sweep(job: Job, ctx: TransferContext): Promise<void> {
  await sweepLeftovers(job, sweepHook(ctx));
  await sweepOldParts(job, sweepHook(ctx)).catch(() => undefined);
}

function checkPolicy(overwrite: OverwritePolicy, host: string): void {
  if (overwrite !== 'overwrite' && overwrite !== 'skip' && overwrite !== 'fail') {
    throw new TransferError('EINVAL', 'overwrite must be "overwrite", "skip" or "fail"', { host });
  }
}

function noScp(job: Job, path: string): TransferError {
  return new TransferError('EPROTO', 'the server has no usable scp (use transport "sftp" or "auto")', { host: job.host, path });
}

/** Only a probe over SCP can find the server unusable; SFTP's own failures are errors. */
function overSftp<T>(result: T | 'unavailable', job: Job, shown: string): T {
  if (result === 'unavailable') throw new TransferError('EPROTO', 'the server has no usable SFTP', { host: job.host, path: shown });
  return result;
}

export async function upload(ctx: TransferContext, request: UploadRequest): Promise<TransferResult> {
  const job = new Job(ctx);
  let plan: UploadPlan | undefined;
  let shown: string | undefined;
  try {
    checkPolicy(request.overwrite, job.host);
    const remote = remotePathOf(request, job.host);
    job.remotePathGiven(remote);
    shown = showRemote(remote);
    job.link = linkStateFor(request.link, job.host);
    await sweep(job, ctx);
    if (!Array.isArray(request.sources) || request.sources.length === 0) {
      throw new TransferError('EINVAL', 'nothing to upload', { host: job.host, path: shown });
    }
    plan = await planUpload(job, request.sources, request.defaultMode ?? 0o644, { followSymlinks: request.followSymlinks === true });
    const skipped = plan.skipped;
    const resumed = await resumeUpload(job, request, plan, remote, firstTransport(ctx), shown);
    if (resumed) return { ...resumed, skipped };
    const verified = async (result: TransferResult): Promise<TransferResult> => {
      await verifyUploads(job);
      return { ...result, skipped };
    };
    const uploadOverSftp = async (uploadPlan: UploadPlan): Promise<TransferResult> =>
      overSftp(await runUpload(job, request, uploadPlan, remote, SftpUploadTransport.forPlan(job, uploadPlan)), job, showRemote(remote));
    if (firstTransport(ctx) === 'sftp' || (await smallJobOverSftp(job, ctx, smallUpload(plan, remote)))) return await verified(await uploadOverSftp(plan));
    const result = await runUpload(job, request, plan, remote, new ScpUploadTransport(job));
    if (result !== 'unavailable') return await verified(result);
    if (ctx.transport !== 'auto') throw noScp(job, shown);
    learnTransport(ctx.channels, 'noScp');
    return await verified(await uploadOverSftp(plan));
  } catch (error) {
    throw job.normalise(error, shown);
  } finally {
    job.dispose();
    await plan?.cleanup();
  }
}

/**
 * Copies the remote path into the target; with "stable size" a first look at the selection comes first
 * (walk/settle.ts); with a claim, each file is first renamed into this instance's claim folder (claim/claims.ts).
 */
export function download(ctx: TransferContext, request: DownloadRequest): Promise<TransferResult> {
  return downloadClaimed(ctx, request, (c, r) => downloadWhenStable(c, r, downloadOnce));
}

async function downloadOnce(ctx: TransferContext, request: DownloadRequest): Promise<TransferResult> {
  const job = new Job(ctx);
  let shown: string | undefined;
  try {
    checkPolicy(request.overwrite, job.host);
    const remote = remotePathOf(request, job.host);
    job.remotePathGiven(remote);
    shown = showRemote(remote);
    job.link = linkStateFor(request.link, job.host);
    await sweep(job, ctx);
    await checkDownloadTarget(job, request);
    const resumed = await resumeDownload(job, request, remote, firstTransport(ctx), shown);
    if (resumed) return resumed;
    // An SCP record is one line, so a file whose own name holds a newline can only come over SFTP.
    const scpCannotNameIt = !request.glob && splitRemote(remote).base.includes(NEWLINE);
    const downloadOverSftp = async (): Promise<TransferResult> =>
      overSftp(await runDownload(job, request, remote, (plan) => openSftpDownload(job, request, plan)), job, showRemote(remote));
    if (firstTransport(ctx) === 'sftp' || (scpCannotNameIt && ctx.transport === 'auto')) {
      return await downloadOverSftp();
    }
    if (scpCannotNameIt) {
      throw new TransferError('EINVAL', 'SCP cannot download a file whose name contains a newline (use transport "sftp" or "auto")', {
        host: job.host,
        path: shown,
      });
    }
    if (await smallJobOverSftp(job, ctx, smallDownloadCandidate(request, remote))) {
      // 'unavailable': not one small regular file after all (big, missing, a directory): SCP as usual.
      const small = await runDownload(job, request, remote, (plan) => openSftpDownload(job, request, plan, { smallOnly: true }));
      if (small !== 'unavailable') return small;
    }
    const result = await runDownload(job, request, remote, (plan) => openScpDownload(job, request, plan));
    if (result !== 'unavailable') return result;
    if (ctx.transport !== 'auto') throw noScp(job, shown);
    learnTransport(ctx.channels, 'noScp');
    return await downloadOverSftp();
  } catch (error) {
    throw job.normalise(error, shown);
  } finally {
    job.dispose();
  }
}

/** Several files into memory (the node's msg.payload with a glob or a tree): see local/into-memory.ts. */
export function downloadSeveralIntoMemory(ctx: TransferContext, request: DownloadRequest): Promise<MemoryResult> {
  return severalIntoMemory(download, ctx, request);
}
