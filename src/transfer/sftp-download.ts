/**
 * Download over SFTP: the same targets, caps and local safety as the SCP path. Listings are hostile
 * input exactly like SCP records: every name is validated before it becomes a local path component.
 */
import type { Stats } from 'ssh2';
import { TransferError } from '../errors';
import { unsafeNameReason } from '../scp';
import type { SftpSession } from '../sftp';
import { cleanText } from '../text';
import { matchGlob } from './glob';
import type { Job } from './job';
import { ensureLocalDirectory, insideTarget } from './local-files';
import { PlacementSet, finishDirectory, placeFile } from './place';
import { joinRemote, remoteText, showRemote, splitRemote } from './remote-path';
import { fileCap } from './scp-download';
import { openSftp, sftpPath } from './sftp-upload';
import type { DownloadRequest, TransferResult } from './types';

const MAX_NAME_BYTES = 255;

interface Walk {
  job: Job;
  request: DownloadRequest;
  session: SftpSession;
  placements: PlacementSet;
  files: number;
  totalBytes: number;
}

function checkName(name: string, job: Job, where: Buffer): void {
  const bytes = Buffer.from(name, 'utf8');
  // ssh2 decodes names as UTF-8: U+FFFD marks bytes that were not valid UTF-8.
  const reason = name.includes('\ufffd') ? 'a name that is not valid UTF-8' : unsafeNameReason(bytes, MAX_NAME_BYTES);
  if (reason !== undefined) {
    throw new TransferError('EPROTO', `the server listed ${reason}`, { host: job.host, path: cleanText(`${showRemote(where)}/${name}`) });
  }
}

export async function sftpDownload(job: Job, request: DownloadRequest, remote: Buffer): Promise<TransferResult> {
  const shown = showRemote(remote);
  const { dir, base } = splitRemote(remote);
  if (base.length === 0 || base.equals(Buffer.from('.')) || base.equals(Buffer.from('..'))) {
    throw new TransferError('EINVAL', 'the remote path does not name a file or directory', { host: job.host, path: shown });
  }
  const baseText = sftpPath(base, job);
  const { lease, session } = await openSftp(job, shown);
  const walk: Walk = { job, request, session, placements: new PlacementSet(), files: 0, totalBytes: 0 };
  try {
    if (request.glob) {
      const listing = await session.readdir(sftpPath(dir, job));
      const matches = listing
        .filter((entry) => matchGlob(baseText, entry.filename))
        .sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
      if (matches.length === 0) throw new TransferError('ENOENT', 'no remote file matches the pattern', { host: job.host, path: shown });
      for (const entry of matches) {
        checkName(entry.filename, job, dir);
        const path = joinRemote(dir, entry.filename);
        const stats = await followLinks(session, path, entry.attrs as Stats, job);
        if (!stats) continue;
        // A matching directory without "recursive" fails (EISDIR) in visit(), as it does over SCP.
        await visit(walk, [entry.filename], path, stats, 1);
      }
    } else {
      const stats = await session.stat(sftpPath(remote, job));
      if (!stats) throw new TransferError('ENOENT', 'the remote path does not exist', { host: job.host, path: shown });
      await visit(walk, [baseText], remote, stats, 1);
    }
    return job.result('sftp');
  } catch (error) {
    await walk.placements.discardAll();
    throw job.normalise(lease.connectionError() ?? error, shown);
  } finally {
    lease.release();
  }
}

/** Listing attributes describe a symlink itself; what it points at decides (dangling links are skipped). */
async function followLinks(session: SftpSession, path: Buffer, attrs: Stats, job: Job): Promise<Stats | undefined> {
  if (typeof attrs.isSymbolicLink === 'function' && !attrs.isSymbolicLink()) return attrs;
  return session.stat(sftpPath(path, job));
}

async function visit(walk: Walk, components: string[], remote: Buffer, stats: Stats, depth: number): Promise<void> {
  const { job, request, session } = walk;
  job.checkActive();
  const shown = showRemote(remote);
  if (stats.isDirectory()) {
    if (!request.recursive || request.target.kind !== 'directory') {
      throw new TransferError('EISDIR', 'the remote path is a directory', { host: job.host, path: shown });
    }
    if (depth > request.limits.maxDepth) {
      throw new TransferError('ETOOBIG', `the remote tree is deeper than ${request.limits.maxDepth} levels`, { host: job.host, path: shown });
    }
    const local = insideTarget(request.target.path, components, job);
    const created = await ensureLocalDirectory(local, job);
    if (created) job.directories.push(local);
    const listing = await session.readdir(sftpPath(remote, job));
    listing.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
    for (const entry of listing) {
      if (entry.filename === '.' || entry.filename === '..') continue;
      checkName(entry.filename, job, remote);
      const path = joinRemote(remote, entry.filename);
      const childStats = await followLinks(session, path, entry.attrs as Stats, job);
      if (!childStats) continue;
      if (!childStats.isDirectory() && !childStats.isFile()) continue;
      await visit(walk, [...components, entry.filename], path, childStats, depth + 1);
    }
    await finishDirectory(job, request, {
      path: local,
      mode: stats.mode & 0o777,
      times: { mtime: stats.mtime, atime: stats.atime },
      created,
    });
    return;
  }
  if (!stats.isFile()) {
    throw new TransferError('EPROTO', 'the remote path is not a regular file', { host: job.host, path: shown });
  }
  walk.files += 1;
  const maxFiles = request.target.kind === 'directory' ? request.limits.maxFiles : Math.min(request.limits.maxFiles, 1);
  if (walk.files > maxFiles) throw new TransferError('ETOOBIG', `more than ${maxFiles} files`, { host: job.host, path: shown });
  const cap = fileCap(request);
  if (stats.size > cap) throw new TransferError('ETOOBIG', `the remote file has ${stats.size} bytes, more than the cap of ${cap}`, { host: job.host, path: shown });
  walk.totalBytes += stats.size;
  const totalCap = request.target.kind === 'buffer' ? Math.min(request.limits.maxTotalBytes, request.target.maxBytes) : request.limits.maxTotalBytes;
  if (walk.totalBytes > totalCap) throw new TransferError('ETOOBIG', `more than ${totalCap} bytes in total`, { host: job.host, path: shown });
  const path = sftpPath(remote, job);
  await placeFile(
    job,
    request,
    {
      components,
      remotePath: remoteText(remote),
      mode: stats.mode,
      size: stats.size,
      times: { mtime: stats.mtime, atime: stats.atime },
    },
    {
      pump: async (write) => {
        const handle = await session.open(path, 'r');
        try {
          await session.readAll(handle, path, stats.size, write);
        } finally {
          await session.close(handle, path).catch(() => undefined);
        }
      },
      skip: async () => undefined,
    },
    walk.placements,
  );
}
