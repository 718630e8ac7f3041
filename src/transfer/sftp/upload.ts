/**
 * Upload over SFTP, for servers without a usable scp: the same plan, layout, temporary names and
 * overwrite policy as the SCP path, with SFTP requests instead of records and shell commands. Final
 * paths are never written directly (no fastPut): content goes to the temporary name, then a rename.
 */
import { TransferError } from '../../errors';
import { SftpSession } from '../../sftp';
import type { Job } from '../job';
import { directoryRefused, fileRefused } from '../plan/refusal';
import type { RemoteKind } from '../plan/upload-layout';
import { joinRemote, remoteText, showRemote } from '../remote-path';
import { buildStep, mayBeIncomplete, resolveLayout, temporariesOf, type Step } from '../plan/upload-layout';
import { localChunks, releaseContent, uploadedFileRecord, type PlannedEntry, type UploadPlan } from '../local/sources';
import type { TransferResult, UploadRequest } from '../types';
import { openSftp, sftpPath, unlinkQuietly } from './session';

/** How many stat requests are in flight at once while checking what exists at the target. */
const STAT_BATCH = 32;



async function kindOf(session: SftpSession, path: string): Promise<RemoteKind> {
  const stats = await session.stat(path);
  if (stats) return stats.isDirectory() ? 'directory' : 'other';
  // stat fails on a dangling symlink: it is still something in the way.
  return (await session.lstat(path)) ? 'other' : 'missing';
}

function filePaths(entry: PlannedEntry, path: Buffer, out: Buffer[]): void {
  if (entry.kind === 'file') out.push(path);
  else for (const child of entry.entries) filePaths(child, joinRemote(path, child.name as Buffer), out);
}

export async function sftpUpload(job: Job, request: UploadRequest, plan: UploadPlan, remote: Buffer): Promise<TransferResult> {
  const shown = showRemote(remote);
  const remoteString = sftpPath(remote, job);
  const { lease, session } = await openSftp(job, shown);
  const created: string[] = [];
  const writing: { path?: Buffer } = {};
  try {
    const remoteKind = await kindOf(session, remoteString);
    const single = plan.entries.length === 1 ? plan.entries[0] : undefined;
    const layout = resolveLayout(job, remote, remoteKind, single, plan.entries, shown);
    const finals: Buffer[] = [];
    for (const { entry, name } of layout.top) filePaths(entry, joinRemote(layout.targetDir, name), finals);
    const existing = new Map<string, RemoteKind>();
    for (let at = 0; at < finals.length; at += STAT_BATCH) {
      const batch = finals.slice(at, at + STAT_BATCH);
      const kinds = await Promise.all(batch.map((path) => kindOf(session, sftpPath(path, job))));
      batch.forEach((path, index) => existing.set(path.toString('latin1'), kinds[index]));
    }
    const steps = layout.top.map(({ entry, name }) => buildStep(entry, name, layout.targetDir, request.atomic, existing, request.overwrite, job));
    job.totalSize = plan.totalSize;
    if (request.atomic) await job.temporaries.record(temporariesOf(steps));
    await walk(job, request, session, steps, created, writing);
    await job.temporaries.gone();
    return job.result('sftp');
  } catch (error) {
    // Without the connection the leftover journal keeps the names for the next job on this server.
    if (!lease.connectionError() && (await unlinkQuietly(job, lease.sftp, created))) await job.temporaries.gone();
    throw mayBeIncomplete(job.normalise(lease.connectionError() ?? error, shown), writing.path);
  } finally {
    lease.release();
  }
}


/**
 * A rename that failed because a directory appeared at the final name after the probe says so (the
 * server's FAILURE status alone reads like a permission problem); the caller removes the temporary.
 */
async function renameIntoPlace(session: SftpSession, job: Job, from: string, to: string, replace: boolean, shown: string): Promise<void> {
  try {
    await session.rename(from, to, replace);
  } catch (error) {
    const stats = await session.stat(to).catch(() => undefined);
    if (stats?.isDirectory()) throw new TransferError('EISDIR', 'a directory is in the way of a file', { host: job.host, path: shown });
    throw error;
  }
}

async function walk(
  job: Job,
  request: UploadRequest,
  session: SftpSession,
  steps: Step[],
  created: string[],
  writing: { path?: Buffer },
): Promise<void> {
  for (const step of steps) {
    job.checkActive();
    if (step.kind === 'directory') {
      const path = sftpPath(step.remotePath, job);
      const before = await session.stat(path);
      let made = false;
      if (!before) {
        await session.mkdir(path, (step.mode | 0o700) & 0o777).catch((error: unknown) => {
          throw directoryRefused(error, step.remotePath, job);
        });
        made = true;
      } else if (!before.isDirectory()) {
        throw new TransferError('ENOTDIR', 'a file is in the way of a directory', { host: job.host, path: showRemote(step.remotePath) });
      }
      job.directories.push(remoteText(step.remotePath));
      await walk(job, request, session, step.steps, created, writing);
      // Directories stay writable while they fill; their own mode and times come last.
      if (request.preserve) {
        await session.setstat(path, { mode: step.mode & 0o777, ...(step.times ? { atime: step.times.atime, mtime: step.times.mtime } : {}) });
      } else if (made && (step.mode & 0o700) !== 0o700) {
        await session.setstat(path, { mode: step.mode & 0o777 });
      }
      continue;
    }
    // Staging directories are an SCP device (one mv for many files); SFTP renames file by file.
    if (step.kind !== 'file') continue;
    const file = step.file;
    const display = remoteText(step.finalPath);
    const record = uploadedFileRecord(file, display);
    job.fileStart(display, file.size);
    if (step.skip) {
      job.fileEnd({ ...record, transferred: false }, display);
      continue;
    }
    const wirePath = sftpPath(step.wirePath, job);
    const finalPath = sftpPath(step.finalPath, job);
    // The local side first: a file that vanished since planning fails before a remote file exists.
    const content = await file.open();
    // 'wx' (exclusive) for temporary names and for overwrite=fail; 'w' truncates an existing file.
    const exclusive = request.atomic || request.overwrite === 'fail';
    // Noted before the open goes out: the server may create the file even if no answer comes back.
    if (request.atomic) created.push(wirePath);
    let handle: Buffer;
    try {
      handle = await session.open(wirePath, exclusive ? 'wx' : 'w', file.mode & 0o777, exclusive ? 'EEXIST' : 'EISDIR');
    } catch (error) {
      releaseContent(content);
      throw fileRefused(error, 'create', step.finalPath, job);
    }
    // Without atomic the final file is open (and, with overwrite, truncated) from here on.
    if (!request.atomic) writing.path = step.finalPath;
    try {
      // (errors name the file the user asked for, as over SCP, not its temporary name)
      const written = await session.writeAll(handle, display, localChunks(content, job, file.localPath), (n) => job.addBytes(n));
      if (written !== file.size) {
        throw new TransferError('EPROTO', `the source changed size: ${written} bytes instead of ${file.size}`, { host: job.host, path: display });
      }
      if (request.preserve) {
        await session.fsetstat(handle, wirePath, {
          mode: file.mode & 0o777,
          ...(file.times ? { atime: file.times.atime, mtime: file.times.mtime } : {}),
        });
      }
    } catch (error) {
      releaseContent(content);
      await session.close(handle, wirePath).catch(() => undefined);
      throw error;
    }
    await session.close(handle, wirePath);
    writing.path = undefined;
    if (request.atomic) {
      await renameIntoPlace(session, job, wirePath, finalPath, request.overwrite !== 'fail', showRemote(step.finalPath));
      created.splice(created.indexOf(wirePath), 1);
    }
    job.fileEnd({ ...record, transferred: true }, display);
  }
}
