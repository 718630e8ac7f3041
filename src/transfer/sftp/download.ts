/**
 * Download over SFTP: the same targets, caps and local safety as the SCP path. Listings are hostile
 * input exactly like SCP records: every name is validated before it becomes a local path component.
 */
import { promises as fs } from 'fs';
import type { FileEntry, Stats } from 'ssh2';
import { TransferError } from '../../errors';
import { unsafeNameReason } from '../../scp';
import type { SftpSession } from '../../sftp';
import { cleanText } from '../../text';
import { Glob } from '../../glob';
import { readRefused } from '../plan/refusal';
import type { Job } from '../job';
import { ensureLocalDirectory, insideTarget } from '../local/local-files';
import { PlacementSet, finishDirectory, placeFile } from '../local/place';
import { joinRemote, remoteText, showRemote, splitRemote } from '../remote-path';
import { fileCap } from '../plan/download-target';
import { openSftp, sftpPath } from './session';
import { DEFAULT_MAX_DIRECTORIES, DEFAULT_MAX_LISTING_ENTRIES, type DownloadRequest, type TransferResult } from '../types';

const MAX_NAME_BYTES = 255;

interface Walk {
  job: Job;
  request: DownloadRequest;
  session: SftpSession;
  placements: PlacementSet;
  files: number;
  directories: number;
  totalBytes: number;
  /** the first entry the server refused (see PASSABLE); the job fails with it once the rest arrived */
  refused?: TransferError;
}

function checkName(name: string, job: Job, where: Buffer): void {
  const bytes = Buffer.from(name, 'utf8');
  // ssh2 decodes names as UTF-8: U+FFFD marks bytes that were not valid UTF-8.
  const reason = name.includes('\ufffd') ? 'a name that is not valid UTF-8' : unsafeNameReason(bytes, MAX_NAME_BYTES);
  if (reason !== undefined) {
    throw new TransferError('EPROTO', `the server listed ${reason}`, { host: job.host, path: cleanText(`${showRemote(where)}/${name}`) });
  }
}

/**
 * One remote directory's entries, read in capped pieces, every name checked before any of them is
 * used (a hostile listing fails before anything from it is written), in the server's order. `.` and `..`
 * are dropped; a name listed twice is a protocol violation (it would be fetched twice). Only the
 * `wanted` names are checked and kept (a glob: an odd name that does not match is none of our business).
 */
async function listDirectory(walk: Walk, remote: Buffer, wanted: (name: string) => boolean = () => true): Promise<FileEntry[]> {
  const { job, request, session } = walk;
  const listing = await session.readdir(sftpPath(remote, job), request.limits.maxListingEntries ?? DEFAULT_MAX_LISTING_ENTRIES);
  const entries = listing.filter((entry) => entry.filename !== '.' && entry.filename !== '..' && wanted(entry.filename));
  const seen = new Set<string>();
  for (const entry of entries) {
    checkName(entry.filename, job, remote);
    if (seen.has(entry.filename)) {
      throw new TransferError('EPROTO', 'the server listed the same name twice', { host: job.host, path: cleanText(`${showRemote(remote)}/${entry.filename}`) });
    }
    seen.add(entry.filename);
  }
  return entries;
}

/** Byte-wise, as the C locale the remote command's shell expands in. */
function byName(a: FileEntry, b: FileEntry): number {
  return Buffer.compare(Buffer.from(a.filename), Buffer.from(b.filename));
}

/**
 * Codes a server's scp reports for one entry of a tree or glob before it goes on with the next ("scp -r",
 * like "cp -r"): over SFTP too the rest arrives, and the first such refusal fails the job at the end.
 */
const PASSABLE = new Set(['EACCES', 'ENOENT']);
const remoteRefusals = new WeakSet<object>();

/** A listing or an open the server refused, in the words SCP's path uses (plan/refusal.ts). */
function refusedRead(error: unknown, path: Buffer, job: Job): unknown {
  if (!(error instanceof TransferError) || !PASSABLE.has(error.code)) return error;
  const refused = readRefused(error.code, showRemote(path), error.detail, job, error);
  remoteRefusals.add(refused);
  return refused;
}

/** visit(), noting a refused entry and going on with the next. */
async function visitOrNote(walk: Walk, components: string[], remote: Buffer, stats: Stats, depth: number): Promise<void> {
  try {
    await visit(walk, components, remote, stats, depth);
  } catch (error) {
    if (!remoteRefusals.has(error as object)) throw error;
    await walk.placements.discardAll();
    walk.refused ??= error as TransferError;
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
  const walk: Walk = { job, request, session, placements: new PlacementSet(), files: 0, directories: 0, totalBytes: 0 };
  try {
    if (request.glob) {
      const glob = Glob.parse(baseText, job.host);
      // Matches in the order the server's shell expands them (sorted); a tree's entries come in listing order, as over SCP.
      const matches = (await listDirectory(walk, dir, (name) => glob.matches(name))).sort(byName);
      if (matches.length === 0) throw new TransferError('ENOENT', 'no remote file matches the pattern', { host: job.host, path: shown });
      for (const entry of matches) {
        const path = joinRemote(dir, entry.filename);
        const stats = await followLinks(session, path, entry.attrs as Stats, job);
        if (!stats) continue;
        // A matching directory without "recursive" fails (EISDIR) in visit(), as it does over SCP.
        await visitOrNote(walk, [entry.filename], path, stats, 1);
      }
    } else {
      const stats = await session.stat(sftpPath(remote, job));
      if (!stats) throw new TransferError('ENOENT', 'the remote path does not exist', { host: job.host, path: shown });
      await visit(walk, [baseText], remote, stats, 1);
    }
    if (walk.refused) throw walk.refused;
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
      throw readRefused('EISDIR', shown, undefined, job);
    }
    if (depth > request.limits.maxDepth) {
      throw new TransferError('ETOOBIG', `the remote tree is deeper than ${request.limits.maxDepth} levels`, { host: job.host, path: shown });
    }
    const maxDirectories = request.limits.maxDirectories ?? DEFAULT_MAX_DIRECTORIES;
    walk.directories += 1;
    if (walk.directories > maxDirectories) {
      throw new TransferError('ETOOBIG', `the remote tree has more than the limit of ${maxDirectories} directories`, { host: job.host, path: shown });
    }
    const local = insideTarget(request.target.path, components, job);
    const created = await ensureLocalDirectory(local, job);
    if (created) job.directories.push(local);
    const entries = await listDirectory(walk, remote).catch(async (error: unknown) => {
      const refused = refusedRead(error, remote, job);
      // A directory the server will not list is no directory SCP's server would send (no D record): the
      // local one made for it goes again. A hostile listing keeps it, as a D record before a bad name would.
      if (created && remoteRefusals.has(refused as object)) {
        await fs.rmdir(local).catch(() => undefined);
        job.directories.splice(job.directories.indexOf(local), 1);
      }
      throw refused;
    });
    for (const entry of entries) {
      const path = joinRemote(remote, entry.filename);
      const childStats = await followLinks(session, path, entry.attrs as Stats, job);
      if (!childStats) continue;
      if (!childStats.isDirectory() && !childStats.isFile()) continue;
      await visitOrNote(walk, [...components, entry.filename], path, childStats, depth + 1);
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
  if (walk.files > maxFiles) throw new TransferError('ETOOBIG', `more than the limit of ${maxFiles} files`, { host: job.host, path: shown });
  const cap = fileCap(request);
  if (stats.size > cap) throw new TransferError('ETOOBIG', `the remote file has ${stats.size} bytes, over the limit of ${cap}`, { host: job.host, path: shown });
  walk.totalBytes += stats.size;
  const totalCap = request.target.kind === 'buffer' ? Math.min(request.limits.maxTotalBytes, request.target.maxBytes) : request.limits.maxTotalBytes;
  if (walk.totalBytes > totalCap) throw new TransferError('ETOOBIG', `the files add up to more than the limit of ${totalCap} bytes`, { host: job.host, path: shown });
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
        const handle = await session.open(path, 'r').catch((error: unknown) => {
          throw refusedRead(error, remote, job);
        });
        let read = false;
        try {
          await session.readAll(handle, path, stats.size, write);
          read = true;
        } finally {
          // After a failure (a stalled server) the close is sent but not awaited: no second timeout.
          const closing = session.close(handle, path).catch(() => undefined);
          if (read) await closing;
        }
      },
      skip: async () => undefined,
    },
    walk.placements,
  );
}
