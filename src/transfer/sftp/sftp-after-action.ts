/**
 * The after-action of a pull over SFTP, on the download's own channel: unlink each file, or rename it
 * into a directory (created with its parents when missing) under a free name: the name itself, else
 * `name.1`, `name.2`, ... A plain SFTP rename refuses an existing target, so nothing is ever replaced.
 */
import { TransferError } from '../../errors';
import { codeForServerMessage } from '../../scp';
import type { SftpSession } from '../../sftp';
import type { Job } from '../job/job';
import type { AfterOutcome } from '../walk/download-transport';
import { afterActionError } from '../walk/pull-policy';
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

export async function sftpAfterAction(
  session: SftpSession,
  job: Job,
  action: Exclude<AfterAction, { kind: 'keep' }>,
  dir: Buffer,
  names: Buffer[],
): Promise<AfterOutcome[]> {
  const destination = action.kind === 'move' ? Buffer.from(action.directory, 'utf8') : undefined;
  if (destination) await ensureRemoteDirectory(session, job, sftpPath(destination, job));
  const outcomes: AfterOutcome[] = [];
  for (const name of names) {
    job.checkActive();
    const from = sftpPath(joinRemote(dir, name), job);
    try {
      if (destination) outcomes.push({ movedTo: await moveOne(session, job, from, destination, name) });
      else {
        await session.unlink(from);
        outcomes.push({ removed: true });
      }
    } catch (error) {
      if (!(error instanceof TransferError) || !['EACCES', 'ENOENT', 'EEXIST', 'EISDIR', 'ENOTDIR'].includes(error.code)) throw error;
      const reason = error.detail ?? error.summary;
      outcomes.push({ error: afterActionError(job, action, dir, name, { reason, code: codeForServerMessage(reason) }) });
    }
  }
  return outcomes;
}
