/**
 * The job interface the nodes call: `upload` and `download`, over SCP or SFTP per
 * `TransferContext.transport`. With 'auto' SCP is tried first; when the server proves it has no usable
 * scp (exit status 127, "not found", OpenSSH's "sftp connections only" refusal: src/scp/no-scp.ts) the
 * job runs over SFTP and the decision is remembered for that ChannelProvider, so later jobs go
 * straight to SFTP. Any other failure (a banner, a hostile reply) is that job's error and teaches
 * nothing: the next job tries SCP again.
 */
import { TransferError } from '../errors';
import type { ChannelProvider } from '../ssh/types';
import { sftpDownload } from './sftp/sftp-download';
import { sftpUpload } from './sftp/sftp-upload';
import { Job } from './job';
import { remotePathOf, showRemote, splitRemote } from './remote-path';
import { checkDownloadTarget } from './walk/download-target';
import { scpDownload } from './scp/scp-download';
import { NO_SCP } from './scp/scp-channel';
import { scpUpload } from './scp/scp-upload';
import { planUpload, type UploadPlan } from './local/sources';
import { sweepLeftovers } from './leftovers/sweep';
import type { DownloadRequest, OverwritePolicy, TransferContext, TransferResult, TransportUsed, UploadRequest } from './types';

export * from './types';
export type { Leftover, LeftoverJournal } from './leftovers/journal';
export { FileLeftoverJournal, leftoverJournalFor } from './leftovers/journal-file';
export { FilePullRecord, MAX_PULL_RECORD_ENTRIES } from './pull-record/pull-record-file';
export { Glob, matchGlob } from '../glob';

const remembered = new WeakMap<ChannelProvider, TransportUsed>();
const NEWLINE = 0x0a;

/** Forgets what 'auto' learned about a provider (e.g. after the connection's settings changed). */
export function forgetTransport(channels: ChannelProvider): void {
  remembered.delete(channels);
}

function firstTransport(ctx: TransferContext): TransportUsed {
  if (ctx.transport === 'sftp') return 'sftp';
  if (ctx.transport === 'scp') return 'scp';
  return remembered.get(ctx.channels) ?? 'scp';
}

function checkPolicy(overwrite: OverwritePolicy, host: string): void {
  if (overwrite !== 'overwrite' && overwrite !== 'skip' && overwrite !== 'fail') {
    throw new TransferError('EINVAL', 'overwrite must be "overwrite", "skip" or "fail"', { host });
  }
}

function noScp(job: Job, path: string): TransferError {
  return new TransferError('EPROTO', 'the server has no usable scp (use transport "sftp" or "auto")', { host: job.host, path });
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
    await sweepLeftovers(job, firstTransport(ctx));
    if (!Array.isArray(request.sources) || request.sources.length === 0) {
      throw new TransferError('EINVAL', 'nothing to upload', { host: job.host, path: shown });
    }
    plan = await planUpload(job, request.sources, request.defaultMode ?? 0o644, { followSymlinks: request.followSymlinks === true });
    const skipped = plan.skipped;
    if (firstTransport(ctx) === 'sftp') return { ...(await sftpUpload(job, request, plan, remote)), skipped };
    const result = await scpUpload(job, request, plan, remote);
    if (result !== NO_SCP) {
      if (ctx.transport === 'auto') remembered.set(ctx.channels, 'scp');
      return { ...result, skipped };
    }
    if (ctx.transport !== 'auto') throw noScp(job, shown);
    remembered.set(ctx.channels, 'sftp');
    return { ...(await sftpUpload(job, request, plan, remote)), skipped };
  } catch (error) {
    throw job.normalise(error, shown);
  } finally {
    job.dispose();
    await plan?.cleanup();
  }
}

export async function download(ctx: TransferContext, request: DownloadRequest): Promise<TransferResult> {
  const job = new Job(ctx);
  let shown: string | undefined;
  try {
    checkPolicy(request.overwrite, job.host);
    const remote = remotePathOf(request, job.host);
    job.remotePathGiven(remote);
    shown = showRemote(remote);
    await sweepLeftovers(job, firstTransport(ctx));
    await checkDownloadTarget(job, request);
    // An SCP record is one line, so a file whose own name holds a newline can only come over SFTP.
    const scpCannotNameIt = !request.glob && splitRemote(remote).base.includes(NEWLINE);
    if (firstTransport(ctx) === 'sftp' || (scpCannotNameIt && ctx.transport === 'auto')) {
      return await sftpDownload(job, request, remote);
    }
    if (scpCannotNameIt) {
      throw new TransferError('EINVAL', 'SCP cannot download a file whose name contains a newline (use transport "sftp" or "auto")', {
        host: job.host,
        path: shown,
      });
    }
    const result = await scpDownload(job, request, remote);
    if (result !== NO_SCP) {
      if (ctx.transport === 'auto') remembered.set(ctx.channels, 'scp');
      return result;
    }
    if (ctx.transport !== 'auto') throw noScp(job, shown);
    remembered.set(ctx.channels, 'sftp');
    return await sftpDownload(job, request, remote);
  } catch (error) {
    throw job.normalise(error, shown);
  } finally {
    job.dispose();
  }
}
