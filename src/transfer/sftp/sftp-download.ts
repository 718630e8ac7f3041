/**
 * Download over SFTP: the remote tree walked by listings and handed to the download walker
 * (walk/download-walk.ts) as entries. Listings are hostile input exactly like SCP records: every name of a
 * listing is checked before any of them is used. Entries are announced as `scp -f` sends them: a file
 * only once it is open, and what `scp -f` could not send (a file the server will not open, a special
 * file, a directory without recursive) as a failed entry, the walk going on.
 */
import type { FileEntry, Stats } from 'ssh2';
import { TransferError } from '../../errors';
import { unsafeNameReason } from '../../scp';
import type { SftpSession } from '../../sftp';
import type { SftpLease } from '../../ssh/types';
import { cleanText } from '../../text';
import type { Job } from '../job/job';
import type { DownloadPlan } from '../walk/download-target';
import type { AfterOutcome, DownloadTransport, FetchedState, OpenedDownload, RemoteEntry, Unavailable } from '../walk/download-transport';
import { sftpAfterAction } from './sftp-after-action';
import { readRefused } from '../walk/refusal';
import { joinRemote, showRemote } from '../remote-path';
import { SHARED_SESSION_MAX_BYTES, openSftp, sftpPath } from './sftp-channel';
import { DEFAULT_MAX_LISTING_ENTRIES, type AfterAction, type DownloadRequest } from '../types';

const MAX_NAME_BYTES = 255;

/** One entry of a listing (or the requested path itself); `stats` once links are followed. */
interface Child {
  name: string;
  path: Buffer;
  attrs: Stats;
  followed: boolean;
}

/** A directory being walked: its checked, sorted entries. */
interface Level {
  children: Child[];
  next: number;
}

/** A directory's listing, read when it is announced; a failure that ends the job waits for `enter`. */
type Listing = { children: Child[] } | { error: unknown };

type Announced = { kind: 'file'; path: string; size: number; handle: Buffer } | { kind: 'directory'; listing: Listing };

/** What the server may refuse for one entry while the rest stays readable: the walk goes on. */
function entryFailure(error: unknown): error is TransferError {
  return error instanceof TransferError && (error.code === 'EACCES' || error.code === 'ENOENT');
}

function checkName(name: string, job: Job, where: Buffer): void {
  const bytes = Buffer.from(name, 'utf8');
  // ssh2 decodes names as UTF-8: U+FFFD marks bytes that were not valid UTF-8.
  const reason = name.includes('\ufffd') ? 'a name that is not valid UTF-8' : unsafeNameReason(bytes, MAX_NAME_BYTES);
  if (reason !== undefined) {
    throw new TransferError('EPROTO', `the server listed ${reason}`, { host: job.host, path: cleanText(`${showRemote(where)}/${name}`) });
  }
}

class SftpEntries implements DownloadTransport {
  readonly used = 'sftp';
  private levels: Level[] | undefined;
  private announced: Announced | undefined;

  constructor(
    private readonly job: Job,
    private readonly request: DownloadRequest,
    private readonly plan: DownloadPlan,
    private readonly session: SftpSession,
    private readonly lease: SftpLease,
    /** what a stat of the requested path already found (undefined: nothing there), when one was made */
    private readonly rootStat?: { stats: Stats | undefined },
  ) {}

  /**
   * One remote directory's entries, read in capped pieces, every name checked before any of them is
   * used (a hostile listing fails before anything from it is written), in the server's order (the order
   * `scp -r` sends them in: the same files finished when a tree fails part way). `.` and `..`
   * are dropped; a name listed twice is a protocol violation (it would be fetched twice). Only the
   * `wanted` names are checked and kept (a glob: an odd name that does not match is none of our business).
   */
  private async list(remote: Buffer, wanted: (name: string) => boolean = () => true): Promise<Child[]> {
    const { job, request, session } = this;
    const listing = await session.readdir(sftpPath(remote, job), request.limits.maxListingEntries ?? DEFAULT_MAX_LISTING_ENTRIES);
    const entries: FileEntry[] = listing.filter((entry) => entry.filename !== '.' && entry.filename !== '..' && wanted(entry.filename));
    const seen = new Set<string>();
    for (const entry of entries) {
      checkName(entry.filename, job, remote);
      if (seen.has(entry.filename)) {
        throw new TransferError('EPROTO', 'the server listed the same name twice', { host: job.host, path: cleanText(`${showRemote(remote)}/${entry.filename}`) });
      }
      seen.add(entry.filename);
    }
    return entries.map((entry) => ({ name: entry.filename, path: joinRemote(remote, entry.filename), attrs: entry.attrs as Stats, followed: false }));
  }

  /** The selected top-level entries: the requested path itself, or the matches of the pattern. */
  private async roots(): Promise<Child[]> {
    const { job, plan, session } = this;
    const select = plan.select;
    if (select.kind === 'glob') {
      const matches = await this.list(plan.dir, (name) => select.glob.matches(name));
      if (matches.length === 0) throw new TransferError('ENOENT', 'no remote file matches the pattern', { host: job.host, path: plan.shown });
      // In the order the server's shell expands the pattern for `scp -f`: sorted.
      return matches.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    }
    const stats = this.rootStat ? this.rootStat.stats : await session.stat(sftpPath(plan.remote, job));
    if (!stats) throw new TransferError('ENOENT', 'the remote path does not exist', { host: job.host, path: plan.shown });
    return [{ name: select.name, path: plan.remote, attrs: stats, followed: true }];
  }

  /** Listing attributes describe a symlink itself; what it points at decides (dangling links: undefined). */
  private async follow(child: Child): Promise<Stats | undefined> {
    const attrs = child.attrs;
    if (child.followed || (typeof attrs.isSymbolicLink === 'function' && !attrs.isSymbolicLink())) return attrs;
    return this.session.stat(sftpPath(child.path, this.job));
  }

  async next(): Promise<RemoteEntry | null> {
    this.levels ??= [{ children: await this.roots(), next: 0 }];
    for (;;) {
      const level = this.levels[this.levels.length - 1];
      if (!level) return null;
      if (level.next >= level.children.length) {
        this.levels.pop();
        return this.levels.length > 0 ? { kind: 'leave' } : null;
      }
      const child = level.children[level.next];
      level.next += 1;
      const entry = await this.announce(child);
      if (entry) return entry;
    }
  }

  /** The entry for one child, or undefined when it is passed over (a dangling link). */
  private async announce(child: Child): Promise<RemoteEntry | undefined> {
    const { job } = this;
    const shown = showRemote(child.path);
    const failed = (error: TransferError): RemoteEntry => ({ kind: 'failed', name: child.name, error });
    // A refusal in the words SCP's path reports it in (walk/refusal.ts).
    const refused = (error: TransferError): RemoteEntry => failed(readRefused(error.code, shown, error.detail, job, error));
    let stats: Stats | undefined;
    try {
      stats = await this.follow(child);
    } catch (error) {
      if (entryFailure(error)) return refused(error);
      throw error;
    }
    if (!stats) return undefined;
    const times = { times: { mtime: stats.mtime, atime: stats.atime } };
    if (stats.isDirectory()) {
      if (!this.request.recursive) return failed(readRefused('EISDIR', shown, undefined, job));
      // Listed before it is announced, as `scp -r` opens a directory before sending its D record: one it
      // may not read is a failed entry and nothing is made of it locally. A hostile or stalled listing
      // fails the job when the directory is entered (its local directory made first, as before).
      let listing: Listing;
      try {
        listing = { children: await this.list(child.path) };
      } catch (error) {
        if (entryFailure(error)) return refused(error);
        listing = { error };
      }
      this.announced = { kind: 'directory', listing };
      return { kind: 'directory', name: child.name, mode: stats.mode, ...times };
    }
    if (!stats.isFile()) return failed(new TransferError('EPROTO', 'the remote path is not a regular file', { host: job.host, path: shown }));
    const path = sftpPath(child.path, job);
    let handle: Buffer;
    try {
      handle = await this.session.open(path, 'r');
    } catch (error) {
      if (entryFailure(error)) return refused(error);
      throw error;
    }
    this.announced = { kind: 'file', path, size: stats.size, handle };
    return { kind: 'file', name: child.name, size: stats.size, mode: stats.mode, ...times };
  }

  private take<K extends Announced['kind']>(kind: K): Extract<Announced, { kind: K }> {
    const announced = this.announced;
    if (announced?.kind !== kind) throw new TransferError('EINVAL', `there is no announced ${kind} to answer`, { host: this.job.host, path: this.plan.shown });
    this.announced = undefined;
    return announced as Extract<Announced, { kind: K }>;
  }

  async receive(write: (chunk: Buffer) => void | Promise<void>): Promise<void> {
    const { path, size, handle } = this.take('file');
    let read = false;
    try {
      // With a bandwidth limit only a quarter of a second is asked for ahead of the pace (link/throttle.ts).
      await this.session.readAll(handle, path, size, write, 0, this.job.link?.bucket?.ahead);
      read = true;
    } finally {
      // After a failure (a stalled server) the close is sent but not awaited: no second timeout.
      const closing = this.session.close(handle, path).catch(() => undefined);
      if (read) await closing;
    }
  }

  async skip(): Promise<void> {
    const announced = this.announced;
    this.announced = undefined;
    if (announced?.kind === 'file') await this.session.close(announced.handle, announced.path).catch(() => undefined);
  }

  async enter(): Promise<void> {
    const { listing } = this.take('directory');
    if ('error' in listing) throw listing.error;
    this.levels?.push({ children: listing.children, next: 0 });
  }

  /** After a failure: a file opened and announced but never read is closed (sent, not awaited). */
  abandon(): void {
    const announced = this.announced;
    this.announced = undefined;
    if (announced?.kind === 'file') this.session.close(announced.handle, announced.path).catch(() => undefined);
  }

  afterAction(action: Exclude<AfterAction, { kind: 'keep' }>, dir: Buffer, names: Buffer[], fetched: FetchedState[]): Promise<AfterOutcome[]> {
    return sftpAfterAction(this.session, this.job, action, dir, names, fetched);
  }

  connectionError(): Error | undefined {
    return this.lease.connectionError();
  }
}

/**
 * A single small file comes over the connection's kept session; anything else (a big file, a pattern, a tree)
 * over a session of its own, so that the server reads its data in a process of its own while the small jobs
 * go on. Whether the file is small is learnt on the kept session, and that stat is not repeated. With
 * `smallOnly` (transport 'auto': auto/small-jobs.ts) anything but one small regular file is 'unavailable'.
 */
async function openForDownload(
  job: Job,
  request: DownloadRequest,
  plan: DownloadPlan,
  smallOnly: boolean,
): Promise<{ lease: SftpLease; session: SftpSession; rootStat?: { stats: Stats | undefined } } | Unavailable> {
  if (request.recursive || plan.select.kind === 'glob') return smallOnly ? 'unavailable' : openSftp(job, plan.shown);
  const kept = await openSftp(job, plan.shown, true);
  let rootStat: { stats: Stats | undefined };
  try {
    rootStat = { stats: await kept.session.stat(sftpPath(plan.remote, job)) };
  } catch (error) {
    kept.lease.release();
    // SCP says what is wrong in its own words; a lost, frozen or stopped connection is the job's error.
    if (smallOnly && !['ECONNRESET', 'ETIMEDOUT', 'EABORTED'].includes((error as TransferError).code)) return 'unavailable';
    throw error;
  }
  const size = rootStat.stats?.isFile() ? rootStat.stats.size : 0;
  if (size <= SHARED_SESSION_MAX_BYTES && (!smallOnly || rootStat.stats?.isFile())) return { ...kept, rootStat };
  kept.lease.release();
  if (smallOnly) return 'unavailable';
  return { ...(await openSftp(job, plan.shown)), rootStat };
}

/** Opens the SFTP session for the plan: the download walker's transport over SFTP (see OpenedDownload). */
export async function openSftpDownload(job: Job, request: DownloadRequest, plan: DownloadPlan, options: { smallOnly?: boolean } = {}): Promise<OpenedDownload | Unavailable> {
  sftpPath(plan.base, job);
  const opened = await openForDownload(job, request, plan, options.smallOnly === true);
  if (opened === 'unavailable') return opened;
  const { lease, session, rootStat } = opened;
  const entries = new SftpEntries(job, request, plan, session, lease, rootStat);
  return {
    transport: entries,
    failed: (error: unknown): unknown => error,
    close(): void {
      entries.abandon();
      lease.release();
    },
  };
}
