/**
 * The remote toolbox over SFTP: each operation is SFTP requests on one session, the requests for several
 * paths in flight together (a round of pipelined requests, not a message per path). Names that are not
 * valid UTF-8 cannot travel through ssh2's SFTP client intact: a listing leaves them out and says so.
 */
import type { Stats } from 'ssh2';
import { TransferError } from '../errors';
import type { SftpSession } from '../sftp';
import { cleanText } from '../text';
import { type Job, openSftp, sftpPath, showRemote, splitRemote } from '../transfer';
import { checkName, isDotEntry, makeEntry, tooManyEntries, typeOfMode } from './entries';
import { failure, inBatches, type Outcome } from './outcomes';
import type { ListOptions, RemoteEntry, RemoteRequest } from './types';

type Mutation = Exclude<RemoteRequest, { operation: 'list' } | { operation: 'stat' }>;

/** The raw listing (before filters): every entry down to the depth cap, bounded by the entry cap. */
export async function sftpList(job: Job, root: Buffer, options: ListOptions): Promise<{ entries: RemoteEntry[]; skipped: { path: string; reason: 'notUtf8' }[] }> {
  const { lease, session } = await openSftp(job, showRemote(root), true);
  try {
    const entries: RemoteEntry[] = [];
    const skipped: { path: string; reason: 'notUtf8' }[] = [];
    const rootStats = await session.stat(sftpPath(root, job));
    if (!rootStats) throw new TransferError('ENOENT', 'the remote directory does not exist', { host: job.host, path: showRemote(root) });
    if (!rootStats.isDirectory()) throw new TransferError('ENOTDIR', 'the remote path is not a directory', { host: job.host, path: showRemote(root) });
    let level: Buffer[] = [root];
    for (let depth = 1; level.length > 0; depth += 1) {
      const next: Buffer[] = [];
      for (const dir of level) {
        job.checkActive(showRemote(dir));
        // '.' and '..' come in every listing: two more than the entries the budget allows.
        const budget = options.maxEntries - entries.length + 3;
        let listing;
        try {
          listing = await session.readdir(sftpPath(dir, job), budget);
        } catch (error) {
          if (error instanceof TransferError && error.code === 'ETOOBIG') throw tooManyEntries(job.host, root, options.maxEntries);
          throw error;
        }
        for (const item of listing) {
          const name = Buffer.from(item.filename, 'utf8');
          if (isDotEntry(name)) continue;
          // ssh2 decodes names as UTF-8: U+FFFD marks bytes it could not.
          if (item.filename.includes('\ufffd')) {
            skipped.push({ path: cleanText(`${showRemote(dir)}/${item.filename}`, 4096), reason: 'notUtf8' });
            continue;
          }
          checkName(name, job.host, dir);
          const attrs = item.attrs as Stats;
          const made = makeEntry(dir, name, { mode: attrs.mode, size: attrs.size, mtime: attrs.mtime }, job.host);
          entries.push(made.entry);
          if (entries.length > options.maxEntries) throw tooManyEntries(job.host, root, options.maxEntries);
          if (options.recursive && depth < options.maxDepth && made.entry.type === 'directory') next.push(made.path);
        }
      }
      level = next;
    }
    return { entries, skipped };
  } finally {
    lease.release();
  }
}

/** The entry of one path (not following a symlink), or null when nothing is there. */
export async function sftpStat(job: Job, path: Buffer): Promise<RemoteEntry | null> {
  const { lease, session } = await openSftp(job, showRemote(path), true);
  try {
    const stats = await session.lstat(sftpPath(path, job));
    if (!stats) return null;
    const { dir, base } = splitRemote(path);
    return makeEntry(dir, base, { mode: stats.mode, size: stats.size, mtime: stats.mtime }, job.host).entry;
  } finally {
    lease.release();
  }
}

/** What is at a path: its type, or 'missing'. */
async function kindAt(session: SftpSession, path: string): Promise<ReturnType<typeof typeOfMode> | 'missing'> {
  const stats = await session.lstat(path);
  return stats ? typeOfMode(stats.mode) : 'missing';
}

/** Each path's operation, several in flight at once; one outcome per path, in order. */
export async function sftpMutate(job: Job, request: Mutation): Promise<Outcome[]> {
  const first = request.operation === 'rename' ? request.pairs[0]?.from : request.paths[0];
  const { lease, session } = await openSftp(job, first ? showRemote(first) : '', true);
  try {
    if (request.operation === 'rename') {
      return await inBatches(request.pairs, (pair) => renameOne(job, session, pair.from, pair.to, request.overwrite));
    }
    return await inBatches(request.paths, async (raw): Promise<Outcome> => {
      const path = sftpPath(raw, job);
      const shown = showRemote(raw);
      try {
        switch (request.operation) {
          case 'delete': {
            const kind = await kindAt(session, path);
            if (kind === 'missing') return failure(job, raw, 'ENOENT', 'no such file');
            if (kind === 'directory') return failure(job, raw, 'EISDIR', 'a directory (use rmdir)');
            await session.unlink(path);
            return { path: raw, done: 'deleted' };
          }
          case 'rmdir': {
            const kind = await kindAt(session, path);
            if (kind === 'missing') return failure(job, raw, 'ENOENT', 'no such directory');
            if (kind !== 'directory') return failure(job, raw, 'ENOTDIR', 'not a directory');
            await session.rmdir(path).catch((error: unknown) => {
              if (error instanceof TransferError && error.code === 'EEXIST') throw new TransferError('EEXIST', 'the directory is not empty', { host: job.host, path: shown });
              throw error;
            });
            return { path: raw, done: 'removed' };
          }
          case 'mkdir':
            return await mkdirOne(job, session, raw, request.parents);
          case 'chmod':
            // chmod follows a symlink: a dangling one is missing, as `chmod` says.
            if (!(await session.stat(path))) return failure(job, raw, 'ENOENT', 'no such file');
            await session.setstat(path, { mode: request.mode });
            return { path: raw, done: 'changed' };
        }
      } catch (error) {
        return failure(job, raw, undefined, undefined, job.normalise(error, shown));
      }
    });
  } finally {
    lease.release();
  }
}

async function mkdirOne(job: Job, session: SftpSession, raw: Buffer, parents: boolean): Promise<Outcome> {
  const kind = await kindAt(session, sftpPath(raw, job));
  if (kind === 'directory') return { path: raw, done: 'existed' };
  if (kind !== 'missing') return failure(job, raw, 'EEXIST', 'something other than a directory is there');
  if (parents) {
    // The missing ancestors, from the top down (a symlink to a directory counts as a directory, as for mkdir -p).
    const missing: Buffer[] = [];
    for (let at = splitRemote(raw).dir; ; at = splitRemote(at).dir) {
      const stats = await session.stat(sftpPath(at, job));
      if (stats) {
        if (!stats.isDirectory()) return failure(job, raw, 'ENOTDIR', 'a part of the path is not a directory');
        break;
      }
      missing.unshift(at);
      if (at.length <= 1) break;
    }
    for (const dir of missing) {
      await session.mkdir(sftpPath(dir, job), 0o777).catch(async (error: unknown) => {
        // Made by someone else in the meantime: fine, as for mkdir -p.
        if (!(await session.stat(sftpPath(dir, job)))?.isDirectory()) throw error;
      });
    }
  }
  try {
    await session.mkdir(sftpPath(raw, job), 0o777);
  } catch (error) {
    // OpenSSH reports a parent that is a file as "no such file": mkdir(2) says ENOTDIR.
    const parent = error instanceof TransferError && error.code === 'ENOENT' ? await session.stat(sftpPath(splitRemote(raw).dir, job)) : undefined;
    if (parent && !parent.isDirectory()) return failure(job, raw, 'ENOTDIR', 'cannot create the remote directory');
    throw error;
  }
  return { path: raw, done: 'created' };
}

async function renameOne(job: Job, session: SftpSession, from: Buffer, to: Buffer, overwrite: boolean): Promise<Outcome> {
  try {
    const source = await kindAt(session, sftpPath(from, job));
    if (source === 'missing') return failure(job, from, 'ENOENT', 'no such file', undefined, to);
    // A directory (or a link to one) at the new name is refused: `mv` would put the path inside it.
    if ((await session.stat(sftpPath(to, job)))?.isDirectory()) return failure(job, from, 'EISDIR', 'a directory is at the new name', undefined, to);
    const target = await kindAt(session, sftpPath(to, job));
    if (target !== 'missing' && !overwrite) return failure(job, from, 'EEXIST', 'the new name exists (allow overwriting to replace it)', undefined, to);
    await session.rename(sftpPath(from, job), sftpPath(to, job), overwrite).catch((error: unknown) => {
      if (error instanceof TransferError) throw new TransferError(error.code, 'cannot rename the remote path', { host: job.host, path: showRemote(from), detail: error.detail });
      throw error;
    });
    return { path: from, to, done: 'renamed' };
  } catch (error) {
    return failure(job, from, undefined, undefined, job.normalise(error, showRemote(from)), to);
  }
}
