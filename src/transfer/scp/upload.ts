/**
 * Upload over SCP. Everything goes through ONE `scp -t -d <existing directory>` channel whose records
 * carry names we chose: with `atomic`, temporary names that one later command renames into place.
 * Before that, one probe command tells what exists at the target (directory or not, files already
 * there) so the overwrite policy is applied before anything is sent.
 */
import { TransferError, isTransferError } from '../../errors';
import { ScpSource, buildScpCommand, codeForServerMessage, isNoScpError, type ScpStepResult } from '../../scp';
import type { Job } from '../job';
import type { Leftover } from '../leftovers';
import { NO_SCP, closeChannelQuietly, openScpChannel, watchClose } from './channel';
import { watchConnection } from '../watch-connection';
import { afterTheJob, moveStagedFiles, probeRemote, removeRemoteQuietly, renameRemote, finishRemoteDirectories } from './remote-exec';
import { joinRemote, remoteText, showRemote } from '../remote-path';
import { releaseContent, uploadedFileRecord, type PlannedEntry, type UploadPlan } from '../local/sources';
import { recordSafeName, stagingName } from '../temp-name';
import type { TransferResult, UploadRequest } from '../types';
import { directoryRefused, fileRefused } from '../plan/refusal';
import { buildStep, mayBeIncomplete, resolveLayout, temporariesOf, type FileStep, type RemoteKind, type StagingStep, type Step } from '../plan/upload-layout';







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



function hasDirectories(steps: Step[]): boolean {
  return steps.some((step) => step.kind !== 'file');
}

function recordSafe(name: Buffer): boolean {
  return !name.some((byte) => byte < 0x20 || byte === 0x7f);
}

/**
 * Groups the files of each directory level into a staging directory (atomic uploads that may replace:
 * with overwrite=fail each file needs its own `ln`). Names a record line cannot carry keep their own
 * temporary name and rename.
 */
function stage(steps: Step[], parent: Buffer): Step[] {
  const staged: Step[] = [];
  const group: FileStep[] = [];
  // The group goes where its first file was (the files come before the subdirectories: buildStep).
  let groupAt = -1;
  for (const step of steps) {
    if (step.kind === 'directory') staged.push({ ...step, steps: stage(step.steps, step.remotePath) });
    else if (step.kind === 'file' && !step.skip && recordSafe(step.name)) {
      if (groupAt < 0) groupAt = staged.length;
      group.push(step);
    } else staged.push(step);
  }
  if (group.length >= 2) {
    const name = stagingName();
    const path = joinRemote(parent, name);
    for (const file of group) {
      file.wireName = file.name;
      file.wirePath = joinRemote(path, file.name);
    }
    staged.splice(groupAt, 0, { kind: 'staging', name, parent, path, files: group });
  } else if (group.length > 0) {
    staged.splice(groupAt, 0, ...group);
  }
  return staged;
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
  else if (request.atomic && request.overwrite !== 'fail') steps = stage(steps, targetDir);
  const command = lone
    ? buildScpCommand(lone.wirePath, { role: 'sink', preserve: request.preserve })
    : buildScpCommand(targetDir, {
        role: 'sink',
        recursive: hasDirectories(steps),
        preserve: request.preserve,
        targetIsDirectory: true,
      });
  const { lease, channel } = await openScpChannel(job, command, shown);
  const source = new ScpSource(
    { stdout: channel, stdin: channel, stderr: channel.stderr },
    { idleTimeoutMs: job.idleTimeoutMs, signal: job.signal, host: job.host, path: shown },
  );
  const stopWatching = watchConnection(channel, lease, (error) => source.destroy(error));
  const closeWatch = watchClose(channel);
  const sentTemps: Buffer[] = [];
  const renames: { from: Buffer; to: Buffer }[] = [];
  const stagings: StagingStep[] = [];
  const sent: Sent = { sentTemps, renames, stagings, finished: new Map() };
  try {
    if (request.atomic) await job.temporaries.record(temporariesOf(steps));
    try {
      await source.ready();
    } catch (error) {
      // With transport 'scp' the session's own (cleaned) explanation is the better error.
      if (isNoScpError(error) && job.ctx.transport === 'auto') {
        await job.temporaries.gone(); // nothing was sent
        return NO_SCP;
      }
      throw error;
    }
    await walk(job, request, source, steps, sent);
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
    const lost = lease.connectionError();
    const failure = mayBeIncomplete(job.normalise(lost ?? error, shown), sent.writing);
    // With the connection gone there is nobody to ask: the server's scp removes nothing either. Otherwise
    // the removal waits for the server's close; without it the names stay recorded for the next sweep.
    if (request.atomic && !lost) {
      // A server that went silent (idle timeout) will not close either: no wait for it then.
      const silent = !job.signal.aborted && failure.code === 'ETIMEDOUT';
      const serverDone = await closeWatch.closed(silent ? 0 : CHANNEL_CLOSE_WAIT_MS);
      if (serverDone) await placeFinished(job, sent, request.overwrite !== 'fail', shown);
      await removeTemporaries(job, sentTemps, stagings, serverDone);
    }
    throw failure;
  } finally {
    stopWatching();
    closeChannelQuietly(channel);
  }

  if (stagings.length > 0) {
    try {
      await moveStagedFiles(job, stagings, shown);
    } catch (error) {
      await removeTemporaries(job, sentTemps, stagings);
      throw job.normalise(error, shown);
    }
  }
  if (request.atomic && renames.length > 0) {
    let outcome;
    try {
      outcome = await renameRemote(job, renames, request.overwrite !== 'fail', shown);
    } catch (error) {
      await removeTemporaries(job, sentTemps, []);
      throw job.normalise(error, shown);
    }
    // Each temporary was renamed, or removed when its rename failed.
    await job.temporaries.gone();
    outcome.outcomes.forEach((result, index) => {
      if (result === 'ok') return;
      const path = showRemote(renames[index].to);
      if (result === 'exists') throw new TransferError('EEXIST', 'the remote file exists', { host: job.host, path });
      if (result === 'directory') throw new TransferError('EISDIR', 'a directory is in the way of a file', { host: job.host, path });
      throw new TransferError(outcome.stderr ? codeForServerMessage(outcome.stderr) : 'EACCES', 'could not move the uploaded file into place', {
        host: job.host,
        path,
        detail: outcome.stderr,
      });
    });
  }
  await job.temporaries.gone();
  if (request.atomic && (renames.length > 0 || stagings.length > 0)) {
    const finishing: DirectoryFinish[] = [];
    collectDirectoryFinish(steps, request.preserve, finishing);
    if (finishing.length > 0) await finishRemoteDirectories(job, finishing, shown);
  }
  return job.result('scp');
}

interface DirectoryFinish {
  path: Buffer;
  mode?: number;
  times?: { mtime: number; atime: number };
}

/** Modes for directories sent writable (see sentDirectoryMode); times when preserving. Deepest first. */
function collectDirectoryFinish(steps: Step[], preserve: boolean, out: DirectoryFinish[]): void {
  for (const step of steps) {
    if (step.kind !== 'directory') continue;
    collectDirectoryFinish(step.steps, preserve, out);
    const mode = (step.mode & 0o700) !== 0o700 ? step.mode : undefined;
    const times = preserve ? step.times : undefined;
    if (mode !== undefined || times) out.push({ path: step.remotePath, ...(mode !== undefined ? { mode } : {}), ...(times ? { times } : {}) });
  }
}

/**
 * With atomic uploads the files are renamed into their directories after the SCP session, which has
 * already given each directory its final mode: a directory without owner write permission would
 * refuse them. Such directories are sent with rwx for the owner and get their mode afterwards.
 */
function sentDirectoryMode(mode: number, atomic: boolean): number {
  return atomic ? mode | 0o700 : mode;
}

interface Sent {
  sentTemps: Buffer[];
  renames: { from: Buffer; to: Buffer }[];
  stagings: StagingStep[];
  /** the staged files that arrived whole, by staging folder */
  finished: Map<StagingStep, FileStep[]>;
  /** without atomic: the final path being written while a file is in flight */
  writing?: Buffer;
}



/**
 * Removes what was sent (unsent names never existed); once removed, the journal forgets them all. When
 * that fails the journal keeps them, for the next job on this server.
 */
/** How long a failed upload waits for the server to close its scp channel before removing temporaries. */
const CHANNEL_CLOSE_WAIT_MS = 1_000;

/**
 * After a failure (or a stop) the files that arrived whole are moved into place, as over SFTP, where each
 * is renamed as soon as it is complete: each file is atomic, not the job. Best effort: what cannot be
 * moved is removed with the other temporaries.
 */
async function placeFinished(job: Job, sent: Sent, replace: boolean, shown: string): Promise<void> {
  const placing = afterTheJob(job);
  const stagings = [...sent.finished].map(([staging, files]) => ({ parent: staging.parent, path: staging.path, files }));
  if (stagings.length > 0) await moveStagedFiles(placing, stagings, shown).catch(() => undefined);
  if (sent.renames.length > 0) await renameRemote(placing, sent.renames, replace, shown).catch(() => undefined);
}

async function removeTemporaries(job: Job, temps: Buffer[], stagings: StagingStep[], serverDone = true): Promise<void> {
  const sent: Leftover[] = [
    ...temps.map((path) => ({ path, kind: 'file' as const })),
    ...stagings.map((staging) => ({ path: staging.path, kind: 'staging' as const })),
  ];
  if ((await removeRemoteQuietly(job, sent)) && serverDone) await job.temporaries.gone();
}

async function walk(job: Job, request: UploadRequest, source: ScpSource, steps: Step[], sent: Sent): Promise<void> {
  for (const step of steps) {
    job.checkActive();
    if (step.kind === 'directory' || step.kind === 'staging') {
      const staging = step.kind === 'staging';
      const where = showRemote(staging ? step.parent : step.remotePath);
      // Noted before the D record goes out: the server may create it even if no answer comes back.
      if (staging) sent.stagings.push(step);
      const entered = await source.enterDirectory(
        staging
          ? { name: step.name, mode: 0o700 }
          : { name: step.name, mode: sentDirectoryMode(step.mode, request.atomic), ...(request.preserve && step.times ? { times: step.times } : {}) },
      );
      if (!entered.ok) {
        const refused = entered.error.withContext({ host: job.host, path: where });
        // A staging folder is refused for its files' sake: the error names the first of them, as over SFTP.
        throw staging ? fileRefused(refused, 'create', step.files[0].finalPath, job) : directoryRefused(refused, step.remotePath, job);
      }
      if (!staging) job.directories.push(remoteText(step.remotePath));
      await walk(job, request, source, staging ? step.files : step.steps, sent);
      const left = await source.leaveDirectory();
      if (!left.ok) throw left.error.withContext({ host: job.host, path: where });
      continue;
    }
    const file = step.file;
    const display = remoteText(step.finalPath);
    const record = uploadedFileRecord(file, display);
    job.fileStart(display, file.size);
    if (step.skip) {
      job.fileEnd({ ...record, transferred: false }, display);
      continue;
    }
    // An empty file needs no reader (and a stream that ends at once gains nothing from being opened).
    // A local file is opened before its record goes out: if it vanished, the session is still in step.
    const content = file.size === 0 ? Buffer.alloc(0) : await file.open();
    const staged = !step.wirePath.equals(step.finalPath) && step.wireName.equals(step.name);
    if (request.atomic && !staged) sent.sentTemps.push(step.wirePath);
    if (!request.atomic) sent.writing = step.finalPath;
    let result: ScpStepResult;
    let dataSent = false;
    try {
      result = await source.sendFile({
        name: step.wireName,
        mode: file.mode,
        size: file.size,
        ...(request.preserve && file.times ? { times: file.times } : {}),
        content,
        onBytes: (n: number) => {
          dataSent = true;
          job.addBytes(n);
        },
      });
    } catch (error) {
      // A fatal reply, EOF, timeout or abort: the local file must not stay open.
      releaseContent(content);
      throw error;
    }
    if (!result.ok) {
      releaseContent(content);
      // Refused before any data: the server did not write the file.
      if (!dataSent) sent.writing = undefined;
      const refused = (isTransferError(result.error) ? result.error : job.normalise(result.error)).withContext({
        host: job.host,
        path: showRemote(step.finalPath),
      });
      throw fileRefused(refused, dataSent ? 'write' : 'create', step.finalPath, job);
    }
    sent.writing = undefined;
    if (request.atomic && !staged) sent.renames.push({ from: step.wirePath, to: step.finalPath });
    if (staged) {
      // A staging folder holds files only: the one being filled is the last one entered.
      const staging = sent.stagings[sent.stagings.length - 1];
      sent.finished.set(staging, [...(sent.finished.get(staging) ?? []), step]);
    }
    job.fileEnd({ ...record, transferred: true }, display);
  }
}
