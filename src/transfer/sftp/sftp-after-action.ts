/**
 * The after-action of a pull over SFTP, on the download's own channel: unlink each file, or rename it
 * into a directory (created with its parents when missing) under a free name: the name itself, else
 * `name.1`, `name.2`, ... A plain SFTP rename refuses an existing target, so nothing is ever replaced.
 */
import { TransferError } from '../../errors';
import { codeForServerMessage } from '../../scp';
import type { SftpSession } from '../../sftp';
import type { Job } from '../job/job';
import type { AfterOutcome, FetchedState } from '../walk/download-transport';
import { afterActionError, changedAfterFetch } from '../walk/pull-policy';
import { randomBytes } from 'crypto';
import { joinRemote } from '../remote-path';
import type { AfterAction } from '../types';
import { sftpPath } from './sftp-channel';

const MAX_MOVE_SUFFIX = 999;

/** `mkdir -p`: each missing component of `directory`, outermost first. */
async function ensureRemoteDirectory(session: SftpSession, job: Job, directory: string): Promise<void> {
  const parts = directory.split('/');
  for (let end = 1; end <= parts.length; end += 1) {
    const path = parts.slice(0, end).join('/');
    if (path === '' || path === '.') continue;
    const stats = await session.stat(path);
    if (stats?.isDirectory()) continue;
    if (stats) throw new TransferError('ENOTDIR', 'the directory to move the files into is not a directory', { host: job.host, path });
    await session.mkdir(path, 0o755);
  }
}

async function moveOne(session: SftpSession, job: Job, from: string, directory: Buffer, name: Buffer): Promise<Buffer> {
  for (let suffix = 0; suffix <= MAX_MOVE_SUFFIX; suffix += 1) {
    const candidate = joinRemote(directory, suffix === 0 ? name : Buffer.concat([name, Buffer.from(`.${suffix}`)]));
    const to = sftpPath(candidate, job);
    if (await session.lstat(to)) continue;
    try {
      await session.rename(from, to, false);
      return candidate;
    } catch (error) {
      // Taken in the meantime: the next suffix.
      if ((error as TransferError).code !== 'EEXIST' || !(await session.lstat(to))) throw error;
    }
  }
  throw new TransferError('EEXIST', 'no free name in the directory to move the file into', { host: job.host, path: sftpPath(joinRemote(directory, name), job) });
}

/** Whether the file at `path` still has the size and mtime (whole seconds) it was fetched with; undefined when it is gone. */
async function stillAsFetched(session: SftpSession, path: string, fetched: FetchedState): Promise<boolean | undefined> {
  const stats = await session.lstat(path);
  if (!stats) return undefined;
  if (!stats.isFile()) return false;
  return stats.size === fetched.size && (fetched.mtime === undefined || stats.mtime === fetched.mtime);
}

/**
 * Delete, never losing what a writer appends: the file is renamed aside first (a writer that appends by
 * name then starts a new file), checked there, and removed, or put back under its name when it changed
 * (left aside when that name was taken meanwhile). A file already gone counts as removed.
 */
async function deleteOne(session: SftpSession, job: Job, dir: Buffer, name: Buffer, fetched: FetchedState): Promise<AfterOutcome> {
  const from = sftpPath(joinRemote(dir, name), job);
  if (!(await session.lstat(from))) return { removed: true };
  const aside = joinRemote(dir, Buffer.concat([name, Buffer.from(`.scp-check.${randomBytes(4).toString('hex')}`)]));
  const asidePath = sftpPath(aside, job);
  await session.rename(from, asidePath, false);
  if (await stillAsFetched(session, asidePath, fetched)) {
    await session.unlink(asidePath);
    return { removed: true };
  }
  const back = await session.rename(asidePath, from, false).then(
    () => true,
    () => false,
  );
  return { error: changedAfterFetch(job, dir, name, back ? undefined : aside) };
}

export async function sftpAfterAction(
  session: SftpSession,
  job: Job,
  action: Exclude<AfterAction, { kind: 'keep' }>,
  dir: Buffer,
  names: Buffer[],
  fetched: FetchedState[],
): Promise<AfterOutcome[]> {
  const destination = action.kind === 'move' ? Buffer.from(action.directory, 'utf8') : undefined;
  if (destination) await ensureRemoteDirectory(session, job, sftpPath(destination, job));
  const outcomes: AfterOutcome[] = [];
  for (const [index, name] of names.entries()) {
    job.checkActive();
    const from = sftpPath(joinRemote(dir, name), job);
    try {
      if (!destination) outcomes.push(await deleteOne(session, job, dir, name, fetched[index]));
      else if ((await stillAsFetched(session, from, fetched[index])) === false) outcomes.push({ error: changedAfterFetch(job, dir, name) });
      else outcomes.push({ movedTo: await moveOne(session, job, from, destination, name) });
    } catch (error) {
      if (!(error instanceof TransferError) || !['EACCES', 'ENOENT', 'EEXIST', 'EISDIR', 'ENOTDIR'].includes(error.code)) throw error;
      const reason = error.detail ?? error.summary;
      outcomes.push({ error: afterActionError(job, action, dir, name, { reason, code: codeForServerMessage(reason) }) });
    }
  }
  return outcomes;
}
