/**
 * Upload over SCP. Everything goes through ONE `scp -t -d <existing directory>` channel whose records
 * carry names we chose: with `atomic`, temporary names that one later command renames into place.
 * Before that, one probe command tells what exists at the target (directory or not, files already
 * there) so the overwrite policy is applied before anything is sent.
 */
import type { ClientChannel } from 'ssh2';
import { TransferError, isTransferError } from '../errors';
import { ScpSource, buildScpCommand, codeForServerMessage, isNoScpError } from '../scp';
import type { ExecLease } from '../ssh/types';
import type { Job } from './job';
import { closeChannelQuietly } from './scp-session';
import { probeRemote, removeRemoteQuietly, renameRemote, restoreDirectoryTimes, type RemoteKind } from './remote-exec';
import { endsWithSlash, joinRemote, remoteText, showRemote, splitRemote } from './remote-path';
import type { PlannedEntry, PlannedFile, UploadPlan } from './sources';
import { recordSafeName, remoteTempName } from './temp-name';
import type { TransferResult, UploadRequest } from './types';

/** Returned instead of a result when the server has no usable scp and nothing was written. */
export const NO_SCP = Symbol('noScp');

export interface FileStep {
  kind: 'file';
  file: PlannedFile;
  /** the name in the C record (temporary when atomic) */
  wireName: Buffer;
  finalPath: Buffer;
  wirePath: Buffer;
  skip: boolean;
}

export interface DirectoryStep {
  kind: 'directory';
  name: Buffer;
  mode: number;
  times?: { mtime: number; atime: number };
  remotePath: Buffer;
  steps: Step[];
}

export type Step = FileStep | DirectoryStep;

/** Where the plan lands: an existing remote directory and the top-level names inside it. */
export interface Layout {
  targetDir: Buffer;
  /** top-level entries with their final names */
  top: { entry: PlannedEntry; name: Buffer }[];
}

function remoteFilePaths(entry: PlannedEntry, path: Buffer, out: Buffer[]): void {
  if (entry.kind === 'file') {
    out.push(path);
    return;
  }
  for (const child of entry.entries) remoteFilePaths(child, joinRemote(path, child.name ?? Buffer.alloc(0)), out);
}

export async function scpUpload(job: Job, request: UploadRequest, plan: UploadPlan, remote: Buffer): Promise<TransferResult | typeof NO_SCP> {
  const shown = showRemote(remote);
  const entries = plan.entries;
  if (entries.length === 0) throw new TransferError('EINVAL', 'nothing to upload', { host: job.host, path: shown });

  // Candidate final paths, valid if `remote` turns out to be an existing directory.
  const inside: Buffer[] = [];
  for (const entry of entries) {
    if (entry.name) remoteFilePaths(entry, joinRemote(remote, entry.name), inside);
  }
  const single = entries.length === 1 ? entries[0] : undefined;
  // When `remote` is not a directory a single file lands at `remote` itself (probed as kinds[0]).
  const probed = await probeRemote(job, [remote, ...inside], shown);
  if (probed === 'noShell') return NO_SCP;
  const remoteKind = probed[0];
  const existing = new Map<string, RemoteKind>();
  inside.forEach((path, index) => existing.set(path.toString('latin1'), probed[index + 1]));

  const layout = resolveLayout(job, remote, remoteKind, single, entries, shown);
  if (remoteKind !== 'directory') {
    existing.clear();
    if (single?.kind === 'file') existing.set(joinRemote(layout.targetDir, layout.top[0].name).toString('latin1'), remoteKind);
  }

  const steps: Step[] = layout.top.map(({ entry, name }) =>
    buildStep(entry, name, layout.targetDir, request.atomic, existing, request.overwrite, job),
  );
  return sendSteps(job, request, layout.targetDir, steps, shown, plan.totalSize);
}

export function resolveLayout(
  job: Job,
  remote: Buffer,
  kind: RemoteKind,
  single: PlannedEntry | undefined,
  entries: PlannedEntry[],
  shown: string,
): Layout {
  const fail = (code: TransferError['code'], summary: string): never => {
    throw new TransferError(code, summary, { host: job.host, path: shown });
  };
  if (single?.kind === 'file') {
    if (kind === 'directory') {
      if (!single.name) fail('EISDIR', 'the remote path is a directory and the content has no file name');
      return { targetDir: remote, top: [{ entry: single, name: single.name as Buffer }] };
    }
    if (endsWithSlash(remote)) fail(kind === 'missing' ? 'ENOENT' : 'ENOTDIR', 'the remote directory does not exist');
    const { dir, base } = splitRemote(remote);
    if (base.length === 0 || base.equals(Buffer.from('.')) || base.equals(Buffer.from('..'))) {
      fail('EINVAL', 'the remote path does not name a file');
    }
    return { targetDir: dir, top: [{ entry: single, name: base }] };
  }
  if (single?.kind === 'directory') {
    if (kind === 'directory') return { targetDir: remote, top: [{ entry: single, name: single.name }] };
    if (kind === 'other') fail('ENOTDIR', 'the remote path exists and is not a directory');
    const { dir, base } = splitRemote(remote);
    if (base.length === 0 || base.equals(Buffer.from('.')) || base.equals(Buffer.from('..'))) {
      fail('EINVAL', 'the remote path does not name a directory');
    }
    return { targetDir: dir, top: [{ entry: single, name: base }] };
  }
  if (kind !== 'directory') {
    fail(kind === 'missing' ? 'ENOENT' : 'ENOTDIR', 'several sources need an existing remote directory');
  }
  const seen = new Set<string>();
  const top = entries.map((entry) => {
    if (!entry.name) fail('EINVAL', 'with several sources every buffer or stream needs a name');
    const name = entry.name as Buffer;
    if (seen.has(name.toString('latin1'))) fail('EINVAL', `two sources have the same name ${showRemote(name)}`);
    seen.add(name.toString('latin1'));
    return { entry, name };
  });
  return { targetDir: remote, top };
}

export function buildStep(
  entry: PlannedEntry,
  name: Buffer,
  parent: Buffer,
  atomic: boolean,
  existing: Map<string, RemoteKind>,
  overwrite: UploadRequest['overwrite'],
  job: Job,
): Step {
  const finalPath = joinRemote(parent, name);
  if (entry.kind === 'directory') {
    return {
      kind: 'directory',
      name,
      mode: entry.mode,
      times: entry.times,
      remotePath: finalPath,
      steps: entry.entries.map((child) => buildStep(child, child.name as Buffer, finalPath, atomic, existing, overwrite, job)),
    };
  }
  const kind = existing.get(finalPath.toString('latin1')) ?? 'missing';
  if (kind === 'directory') {
    throw new TransferError('EISDIR', 'a directory is in the way of a file', { host: job.host, path: showRemote(finalPath) });
  }
  if (kind === 'other' && overwrite === 'fail') {
    throw new TransferError('EEXIST', 'the remote file exists', { host: job.host, path: showRemote(finalPath) });
  }
  const wireName = atomic ? remoteTempName(name) : name;
  return {
    kind: 'file',
    file: entry,
    wireName,
    finalPath,
    wirePath: joinRemote(parent, wireName),
    skip: kind === 'other' && overwrite === 'skip',
  };
}

function hasDirectories(steps: Step[]): boolean {
  return steps.some((step) => step.kind === 'directory');
}

async function sendSteps(
  job: Job,
  request: UploadRequest,
  targetDir: Buffer,
  steps: Step[],
  shown: string,
  totalSize: number,
): Promise<TransferResult | typeof NO_SCP> {
  job.totalSize = totalSize;
  // A single file is sent straight to its (temporary or final) path: the server then ignores the
  // record's name, so any final name works, even one with a newline that no record line can carry.
  const lone = steps.length === 1 && steps[0].kind === 'file' ? steps[0] : undefined;
  if (lone) lone.wireName = recordSafeName(lone.wireName);
  const command = lone
    ? buildScpCommand(lone.wirePath, { role: 'sink', preserve: request.preserve })
    : buildScpCommand(targetDir, {
        role: 'sink',
        recursive: hasDirectories(steps),
        preserve: request.preserve,
        targetIsDirectory: true,
      });
  let lease: ExecLease;
  try {
    lease = await job.channels.exec(command, { signal: job.signal });
  } catch (error) {
    throw job.normalise(error, shown, 'ECONNRESET');
  }
  const channel: ClientChannel = lease.channel;
  channel.on('error', () => undefined);
  channel.stderr.on('error', () => undefined);
  const source = new ScpSource(
    { stdout: channel, stdin: channel, stderr: channel.stderr },
    { idleTimeoutMs: job.idleTimeoutMs, signal: job.signal, host: job.host, path: shown },
  );
  const sentTemps: Buffer[] = [];
  const renames: { from: Buffer; to: Buffer }[] = [];
  try {
    try {
      await source.ready();
    } catch (error) {
      // With transport 'scp' the session's own (cleaned) explanation is the better error.
      if (isNoScpError(error) && job.ctx.transport === 'auto') return NO_SCP;
      throw error;
    }
    await walk(job, request, source, steps, sentTemps, renames);
    const end = await source.finish();
    if (end.exitCode !== 0) {
      const code = end.stderr ? codeForServerMessage(end.stderr) : 'EPROTO';
      throw new TransferError(code, `remote scp ended with exit status ${end.exitCode ?? 'unknown'}`, {
        host: job.host,
        path: shown,
        detail: end.stderr,
      });
    }
  } catch (error) {
    source.destroy();
    closeChannelQuietly(channel);
    const failure = job.normalise(lease.connectionError() ?? error, shown);
    if (request.atomic) await removeRemoteQuietly(job, sentTemps);
    throw failure;
  } finally {
    closeChannelQuietly(channel);
  }

  if (request.atomic && renames.length > 0) {
    let outcome;
    try {
      outcome = await renameRemote(job, renames, request.overwrite !== 'fail', shown);
    } catch (error) {
      await removeRemoteQuietly(job, sentTemps);
      throw job.normalise(error, shown);
    }
    outcome.outcomes.forEach((result, index) => {
      if (result === 'ok') return;
      const path = showRemote(renames[index].to);
      if (result === 'exists') throw new TransferError('EEXIST', 'the remote file exists', { host: job.host, path });
      throw new TransferError(outcome.stderr ? codeForServerMessage(outcome.stderr) : 'EACCES', 'could not move the uploaded file into place', {
        host: job.host,
        path,
        detail: outcome.stderr,
      });
    });
  }
  if (request.atomic && request.preserve && renames.length > 0) {
    const timed: { path: Buffer; times: { mtime: number; atime: number } }[] = [];
    collectDirectoryTimes(steps, timed);
    if (timed.length > 0) await restoreDirectoryTimes(job, timed, shown);
  }
  return job.result('scp');
}

function collectDirectoryTimes(steps: Step[], out: { path: Buffer; times: { mtime: number; atime: number } }[]): void {
  for (const step of steps) {
    if (step.kind !== 'directory') continue;
    collectDirectoryTimes(step.steps, out);
    if (step.times) out.push({ path: step.remotePath, times: step.times });
  }
}

async function walk(
  job: Job,
  request: UploadRequest,
  source: ScpSource,
  steps: Step[],
  sentTemps: Buffer[],
  renames: { from: Buffer; to: Buffer }[],
): Promise<void> {
  for (const step of steps) {
    job.checkActive();
    if (step.kind === 'directory') {
      const entered = await source.enterDirectory({
        name: step.name,
        mode: step.mode,
        ...(request.preserve && step.times ? { times: step.times } : {}),
      });
      if (!entered.ok) throw entered.error.withContext({ host: job.host, path: showRemote(step.remotePath) });
      job.directories.push(remoteText(step.remotePath));
      await walk(job, request, source, step.steps, sentTemps, renames);
      const left = await source.leaveDirectory();
      if (!left.ok) throw left.error.withContext({ host: job.host, path: showRemote(step.remotePath) });
      continue;
    }
    const file = step.file;
    const display = remoteText(step.finalPath);
    const record = {
      remotePath: display,
      ...(file.localPath !== undefined ? { localPath: file.localPath } : {}),
      size: file.size,
      mode: file.mode,
      ...(file.times ? { mtime: file.times.mtime, atime: file.times.atime } : {}),
    };
    job.fileStart(display, file.size);
    if (step.skip) {
      job.fileEnd({ ...record, transferred: false }, display);
      continue;
    }
    // An empty file needs no reader (and a stream that ends at once gains nothing from being opened).
    const content = file.size === 0 ? Buffer.alloc(0) : file.open();
    if (request.atomic) sentTemps.push(step.wirePath);
    const sent = await source.sendFile({
      name: step.wireName,
      mode: file.mode,
      size: file.size,
      ...(request.preserve && file.times ? { times: file.times } : {}),
      content,
      onBytes: (n: number) => job.addBytes(n),
    });
    if (!sent.ok) {
      if (typeof (content as { destroy?: unknown }).destroy === 'function') (content as { destroy(): void }).destroy();
      throw (isTransferError(sent.error) ? sent.error : job.normalise(sent.error)).withContext({
        host: job.host,
        path: showRemote(step.finalPath),
      });
    }
    if (request.atomic) renames.push({ from: step.wirePath, to: step.finalPath });
    job.fileEnd({ ...record, transferred: true }, display);
  }
}
