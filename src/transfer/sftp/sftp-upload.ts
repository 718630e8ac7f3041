/**
 * The SFTP side of an upload (the walk itself is walk/upload-walk.ts), for servers without a usable scp:
 * requests instead of records and shell commands. Final paths are never written directly with atomic
 * (no fastPut): content goes to the temporary name, then a rename.
 */
import { TransferError, type TransferErrorCode } from '../../errors';
import type { SftpSession } from '../../sftp';
import type { SftpLease } from '../../ssh/types';
import type { Job } from '../job/job';
import type { Leftover } from '../leftovers/journal';
import { localChunks } from '../local/local-content';
import type { UploadPlan } from '../walk/upload-plan';
import { directoryRefused, fileRefused } from '../walk/refusal';
import type { RemoteKind } from '../walk/upload-layout';
import type { DirectoryFinish, EnterDirectory, PlaceOutcome, Placement, SendFile, UploadSession, UploadTransport } from '../walk/upload-transport';
import { changedDetail } from '../local/changed-source';
import { remoteText, showRemote } from '../remote-path';
import { SHARED_SESSION_MAX_BYTES, cleanupSession, openSftp, sftpPath, unlinkQuietly } from './sftp-channel';

/** How many requests are in flight at once while checking what exists, or renaming into place. */
const STAT_BATCH = 32;

/** One round trip for what is not a symlink (a missing path, the usual case, included); a link is followed. */
async function kindOf(session: SftpSession, path: string): Promise<RemoteKind> {
  const own = await session.lstat(path);
  if (!own) return 'missing';
  if (!own.isSymbolicLink()) return own.isDirectory() ? 'directory' : 'other';
  // A dangling symlink is still something in the way.
  return (await session.stat(path))?.isDirectory() ? 'directory' : 'other';
}

/** Runs `each` over `items`, STAT_BATCH at a time, results in order. */
async function inBatches<T, R>(items: T[], each: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let at = 0; at < items.length; at += STAT_BATCH) out.push(...(await Promise.all(items.slice(at, at + STAT_BATCH).map(each))));
  return out;
}

export class SftpUploadTransport implements UploadTransport {
  readonly name = 'sftp' as const;
  private opened: { lease: SftpLease; session: SftpSession } | undefined;
  private preserve = false;
  /** directories this upload created (their mode is set exactly once their entries are in) */
  private readonly made = new Set<string>();

  constructor(
    private readonly job: Job,
    /** use the connection's kept session (small jobs) */
    private readonly shared = false,
  ) {}

  /** The transport for this plan: small files only use the kept session; a big upload gets a server process of its own. */
  static forPlan(job: Job, plan: UploadPlan): SftpUploadTransport {
    return new SftpUploadTransport(job, plan.totalSize <= SHARED_SESSION_MAX_BYTES && plan.entries.every((entry) => entry.kind === 'file'));
  }

  private async sftp(shown: string): Promise<SftpSession> {
    this.opened ??= await openSftp(this.job, shown, this.shared);
    return this.opened.session;
  }

  private session(): SftpSession {
    if (!this.opened) throw new TransferError('EPROTO', 'the SFTP session is not open', { host: this.job.host });
    return this.opened.session;
  }

  async probe(paths: Buffer[], shown: string): Promise<RemoteKind[]> {
    // SFTP names paths as UTF-8: a path that is not fails before a session is opened.
    const names = paths.map((path) => sftpPath(path, this.job));
    const session = await this.sftp(shown);
    return inBatches(names, (name) => kindOf(session, name));
  }

  /** One rename per file costs no process here: no staging directories. */
  canStage(): boolean {
    return false;
  }

  async open(session: UploadSession, shown: string): Promise<void> {
    this.preserve = session.preserve;
    await this.sftp(shown);
  }

  async enterDirectory(dir: EnterDirectory): Promise<void> {
    const session = this.session();
    const path = sftpPath(dir.path, this.job);
    const before = await session.stat(path);
    if (!before) {
      // Writable while it fills; its own mode comes last.
      await session.mkdir(path, (dir.mode | 0o700) & 0o777).catch((error: unknown) => {
        throw directoryRefused(error, dir.path, this.job);
      });
      this.made.add(path);
    } else if (!before.isDirectory()) {
      throw new TransferError('ENOTDIR', 'a file is in the way of a directory', { host: this.job.host, path: showRemote(dir.path) });
    }
  }

  /**
   * As scp's sink does: with preserve any directory gets its mode and times; without, a created one keeps
   * what mkdir gave it (the server's umask applies) unless it was made writable for its owner to fill it.
   */
  async leaveDirectory(dir: EnterDirectory): Promise<void> {
    const path = sftpPath(dir.path, this.job);
    const made = this.made.has(path);
    if (this.preserve) {
      await this.session().setstat(path, { mode: dir.mode & 0o777, ...(dir.times ? { atime: dir.times.atime, mtime: dir.times.mtime } : {}) });
    } else if (made && (dir.mode & 0o700) !== 0o700) {
      await this.session().setstat(path, { mode: dir.mode & 0o777 });
    }
  }

  async sendFile(send: SendFile): Promise<void> {
    const session = this.session();
    const { step, file, content } = send;
    const display = remoteText(step.finalPath);
    const wirePath = sftpPath(step.wirePath, this.job);
    sftpPath(step.finalPath, this.job); // the rename will need it: EINVAL before anything is created
    // 'wx' (exclusive) where the walker asks for it; 'w' truncates an existing file.
    const handle = await session
      .open(wirePath, send.exclusive ? 'wx' : 'w', file.mode & 0o777, send.exclusive ? 'EEXIST' : 'EISDIR')
      .catch((error: unknown) => {
        throw fileRefused(error, 'create', step.finalPath, this.job);
      });
    send.accepted();
    try {
      // (errors name the file the user asked for, as over SCP, not its temporary name)
      const written = await session.writeAll(handle, display, localChunks(content, this.job, file.localPath), (n) => send.onBytes(n));
      if (written !== file.size) {
        throw new TransferError('ECHANGED', 'the local source changed size while it was sent', { host: this.job.host, path: display, detail: changedDetail(written > file.size ? 'more' : 'fewer', file.size) });
      }
      if (this.preserve) {
        await session.fsetstat(handle, wirePath, { mode: file.mode & 0o777, ...(send.times ? { atime: send.times.atime, mtime: send.times.mtime } : {}) });
      }
    } catch (error) {
      await session.close(handle, wirePath).catch(() => undefined);
      throw error;
    }
    await session.close(handle, wirePath);
  }

  async close(): Promise<void> {
    // Every request was answered: nothing to end.
  }

  async abandon(): Promise<boolean> {
    // A failed request ends the walk; nothing of it is still on its way to the server.
    return true;
  }

  async place(placements: Placement[], replace: boolean, _shown: string, cleanup: boolean): Promise<PlaceOutcome[]> {
    const session = cleanup ? cleanupSession(this.job, this.requireLease()) : this.session();
    return inBatches(placements, (placement) => this.placeOne(session, placement, replace));
  }

  /** A rename; when it fails the temporary is removed (a failed removal rejects: the walker removes it later). */
  private async placeOne(session: SftpSession, placement: Placement, replace: boolean): Promise<PlaceOutcome> {
    const from = sftpPath(placement.from, this.job);
    const to = sftpPath(placement.to, this.job);
    try {
      await session.rename(from, to, replace);
      return { kind: 'ok' };
    } catch (error) {
      const failed = error as TransferError;
      await session.unlink(from).catch((unlinkError: unknown) => {
        if ((unlinkError as TransferError).code !== 'ENOENT') throw failed;
      });
      // The server's FAILURE status alone reads like a permission problem: a directory that appeared at the
      // final name after the probe says so.
      const stats = await session.stat(to).catch(() => undefined);
      if (stats?.isDirectory()) return { kind: 'directory' };
      if (!replace && failed.code === 'EEXIST') return { kind: 'exists' };
      return { kind: 'failed', code: (failed.code ?? 'EACCES') as TransferErrorCode, ...(failed.detail ? { detail: failed.detail } : {}) };
    }
  }

  private requireLease(): SftpLease {
    if (!this.opened) throw new TransferError('EPROTO', 'the SFTP session is not open', { host: this.job.host });
    return this.opened.lease;
  }

  async finishDirectories(directories: DirectoryFinish[]): Promise<void> {
    const session = this.session();
    for (const dir of directories) {
      await session.setstat(sftpPath(dir.path, this.job), {
        ...(dir.mode !== undefined ? { mode: dir.mode & 0o777 } : {}),
        ...(dir.times ? { atime: dir.times.atime, mtime: dir.times.mtime } : {}),
      });
    }
  }

  async removeQuietly(items: Leftover[]): Promise<boolean> {
    if (items.length === 0) return true;
    // Staging directories are an SCP device: SFTP never makes them.
    if (!this.opened || items.some((item) => item.kind !== 'file')) return false;
    return unlinkQuietly(
      this.job,
      this.opened.lease,
      items.map((item) => item.path.toString('utf8')),
    );
  }

  connectionError(): TransferError | undefined {
    return this.opened?.lease.connectionError();
  }

  release(): void {
    this.opened?.lease.release();
  }
}
