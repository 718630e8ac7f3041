/**
 * One download, whichever transport carries it: the plan (what is selected, under which caps) and the
 * walker that executes it over a DownloadTransport. The walker owns every policy decision: which names
 * may land where (inside the target only), the caps, overwrite, atomic placement and preserve (through
 * local/place.ts), progress, and what a failure leaves behind: files already placed stay, the file in
 * flight is discarded, and an entry the server cannot send fails the job at the end, after
 * everything else was fetched (OpenSSH's `scp -f` goes on the same way).
 */
import { TransferError } from '../../errors';
import { Glob } from '../../glob';
import type { Job } from '../job/job';
import { ensureLocalDirectory, insideTarget } from '../local/local-files';
import { PlacementSet, finishDirectory, placeFile, prepareFile, type OpenDirectory } from '../local/place';
import { PlaceLater } from '../local/place-later';
import { joinRemote, remoteText, showRemote, splitRemote } from '../remote-path';
import type { DownloadRequest, TransferResult, TransferredFile } from '../types';
import { downloadCaps, type DownloadPlan, type DownloadSelection } from './download-target';
import type { DownloadTransport, OpenedDownload, RemoteEntry, Unavailable } from './download-transport';
import { AfterActions, isUnchanged } from './pull-policy';
import { readRefused } from './refusal';
import { receiveFile, type Write } from '../link/download-receive';
import { passOverReason, surveyWalk } from './settle';

export type { DownloadPlan, DownloadSelection };

/** Opens a transport for the plan (openScpDownload, openSftpDownload); 'unavailable': it cannot serve this plan. */
export type OpenDownload = (plan: DownloadPlan) => Promise<OpenedDownload | Unavailable>;

export function planDownload(job: Job, request: DownloadRequest, remote: Buffer): DownloadPlan {
  const shown = showRemote(remote);
  const { dir, base } = splitRemote(remote);
  if (base.length === 0 || base.equals(Buffer.from('.')) || base.equals(Buffer.from('..'))) {
    throw new TransferError('EINVAL', 'the remote path does not name a file or directory', { host: job.host, path: shown });
  }
  const name = base.toString('utf8');
  const select: DownloadSelection = request.glob
    ? { kind: 'glob', pattern: name, glob: Glob.parse(name, job.host) }
    : request.recursive
      ? { kind: 'tree', name }
      : { kind: 'exact', name };
  return { remote, shown, dir, base, select, caps: downloadCaps(request) };
}

/**
 * Plans the download, opens the transport for the plan (`open`, picked by transfer/index.ts), walks it and
 * closes it; 'unavailable' when the server proved that transport cannot serve it (or, for the small jobs of
 * transport 'auto', the SFTP session declined a plan that is not one small file).
 */
export async function runDownload(job: Job, request: DownloadRequest, remote: Buffer, open: OpenDownload): Promise<TransferResult | Unavailable> {
  const plan = planDownload(job, request, remote);
  const opened = await open(plan);
  if (opened === 'unavailable') return opened;
  try {
    return await walkDownload(job, request, plan, opened.transport);
  } catch (error) {
    const meaning = opened.failed(error);
    if (meaning === 'unavailable') return meaning;
    throw meaning;
  } finally {
    opened.close();
  }
}

/** Runs the plan over the transport; on failure removes the file in flight and throws the job's error. */
export async function walkDownload(job: Job, request: DownloadRequest, plan: DownloadPlan, transport: DownloadTransport): Promise<TransferResult> {
  if (request.survey) return surveyWalk(job, request, plan, transport);
  const walk = new DownloadWalk(job, request, plan, transport);
  try {
    await walk.run();
    return job.result(transport.used);
  } catch (thrown) {
    // Files whose content arrived whole are still placed (unless the job was stopped); a placement that
    // failed came first, so its error wins.
    const placing = await walk.later.settle();
    const error = placing ? placing.error : thrown;
    await walk.placements.discardAll();
    // Files complete and in place before the failure still get their after-action (over SCP an entry
    // the server could not send surfaces only here), unless the connection is gone.
    if (!transport.connectionError()) await walk.afterActionsQuietly();
    throw job.normalise(transport.connectionError() ?? error, plan.shown);
  }
}

type Announced<K extends RemoteEntry['kind']> = Extract<RemoteEntry, { kind: K }>;

/** Files up to this size are received into memory and placed behind the wire (local/place-later.ts)... */
const PLACE_LATER_FILE_BYTES = 128 * 1024;
/** ...written this many at a time (libuv's threads), with at most this many files and bytes waiting. */
const PLACE_LATER_WRITES = 4;
const PLACE_LATER_FILES = 64;
const PLACE_LATER_BYTES = 4 * 1024 * 1024;

class DownloadWalk {
  readonly placements = new PlacementSet();
  readonly later: PlaceLater;
  /** the directories entered and not yet left, outermost first */
  private readonly open: (OpenDirectory & { name: string })[] = [];
  private files = 0;
  private directories = 0;
  private fetchedBytes = 0;
  private topLevelEntries = 0;
  /** the first entry the server could not send: the job's error once the rest is fetched */
  private firstFailure: TransferError | undefined;
  private readonly afterActions: AfterActions;

  constructor(
    private readonly job: Job,
    private readonly request: DownloadRequest,
    private readonly plan: DownloadPlan,
    private readonly transport: DownloadTransport,
  ) {
    this.afterActions = new AfterActions(request.afterAction);
    this.later = new PlaceLater(job, PLACE_LATER_WRITES, PLACE_LATER_FILES, PLACE_LATER_BYTES);
  }

  async run(): Promise<void> {
    for (;;) {
      this.job.checkActive();
      this.later.check();
      const entry = await this.transport.next();
      if (entry === null) break;
      if (entry.kind === 'leave') await this.leave();
      else if (entry.kind === 'failed') this.firstFailure ??= entry.error;
      else if (entry.kind === 'directory') await this.directory(entry);
      else await this.file(entry);
    }
    if (this.open.length > 0) throw this.error('EPROTO', 'the transfer ended inside a directory', this.remotePath(''));
    await this.later.drain();
    // Only files complete and in place get here; an entry the server could not send had none.
    const afterFailure = await this.afterActions.run(this.job, this.transport);
    if (this.firstFailure) throw this.firstFailure;
    if (afterFailure) throw afterFailure;
  }

  /** After a failure: the after-action of the files placed so far; its own failure only in their results. */
  async afterActionsQuietly(): Promise<void> {
    await this.afterActions.run(this.job, this.transport).catch(() => undefined);
  }

  private remotePath(name: string): Buffer {
    return joinRemote(this.plan.dir, [...this.open.map((level) => level.name), name].join('/'));
  }

  private error(code: TransferError['code'], summary: string, remote: Buffer): TransferError {
    return new TransferError(code, summary, { host: this.job.host, path: showRemote(remote) });
  }

  /** A top-level entry must be what the user asked for (CVE-2019-6111), whatever the transport checked. */
  private checkSelected(name: string, remote: Buffer): void {
    if (this.open.length > 0) return;
    const select = this.plan.select;
    const wanted = select.kind === 'glob' ? select.glob.matches(name) : this.topLevelEntries === 0 && name === select.name;
    if (!wanted) throw this.error('EPROTO', 'the server sent an entry that was not requested', remote);
    this.topLevelEntries += 1;
  }

  private async directory(entry: Announced<'directory'>): Promise<void> {
    const { request, plan, job } = this;
    const remote = this.remotePath(entry.name);
    this.checkSelected(entry.name, remote);
    if (!request.recursive || request.target.kind !== 'directory') throw readRefused('EISDIR', showRemote(remote), undefined, job);
    if (this.open.length + 1 > plan.caps.maxDepth) {
      throw this.error('ETOOBIG', `the remote tree is deeper than ${plan.caps.maxDepth} levels`, remote);
    }
    if (this.directories + 1 > plan.caps.maxDirectories) {
      throw this.error('ETOOBIG', `the remote tree has more than the limit of ${plan.caps.maxDirectories} directories`, remote);
    }
    this.directories += 1;
    const local = insideTarget(request.target.path, [...this.open.map((level) => level.name), entry.name], job);
    const created = await ensureLocalDirectory(local, job);
    if (created) job.directories.push(local);
    this.open.push({ name: entry.name, path: local, mode: entry.mode & 0o777, ...(entry.times ? { times: entry.times } : {}), created });
    await this.transport.enter();
  }

  private async leave(): Promise<void> {
    const finished = this.open.pop();
    if (!finished) throw this.error('EPROTO', 'the transfer left a directory it never entered', this.plan.remote);
    // Its files are in place before it gets its own mode (which may take away writing).
    await this.later.drain();
    await finishDirectory(this.job, this.request, finished);
  }

  private async file(entry: Announced<'file'>): Promise<void> {
    const { caps } = this.plan;
    const remote = this.remotePath(entry.name);
    this.checkSelected(entry.name, remote);
    // The words of the SCP sink's own checks (src/scp/sink.ts, records.ts), which meet a hostile server first.
    if (this.files + 1 > caps.maxFiles) throw this.error('ETOOBIG', `more than the limit of ${caps.maxFiles} files`, remote);
    if (entry.size > caps.maxFileBytes) {
      throw this.error('ETOOBIG', `the remote file has ${entry.size} bytes, over the limit of ${caps.maxFileBytes}`, remote);
    }
    if (this.fetchedBytes + entry.size > caps.maxTotalBytes) {
      throw this.error('ETOOBIG', `the files add up to more than the limit of ${caps.maxTotalBytes} bytes`, remote);
    }
    this.files += 1;
    const transport = this.transport;
    const components = [...this.open.map((level) => level.name), entry.name];
    const remotePath = remoteText(remote);
    if (await this.unchanged(entry, components, remotePath)) return;
    const passOver = passOverReason(this.request, remotePath, entry.size, entry.times?.mtime, Date.now());
    if (passOver !== undefined) return this.passOver(entry, remotePath, { skipped: passOver }, 'file may still be written, skipped');
    const incoming = {
      components,
      remotePath,
      mode: entry.mode,
      size: entry.size,
      ...(entry.times ? { times: entry.times } : {}),
    };
    const receive = (write: Write): Promise<void> => receiveFile(this.job, transport, remote, remotePath, entry.size, write);
    if (this.mayPlaceLater(entry.size)) {
      this.fetchedBytes += entry.size;
      const content = await receiveWhole(receive, entry.size, this.job, remotePath);
      await this.later.add(entry.size, async () => {
        const place = await prepareFile(this.job, this.request, incoming, content, this.placements);
        return async () => {
          await place();
          this.placed(entry, remote, remotePath);
        };
      });
      return;
    }
    // Progress and results stay in order: what was received before is placed first.
    await this.later.drain();
    const placed = await placeFile(
      this.job,
      this.request,
      incoming,
      {
        pump: (write) => {
          this.fetchedBytes += entry.size;
          return receive(write);
        },
        skip: () => transport.skip('file exists, skipped'),
      },
      this.placements,
    );
    if (placed) this.placed(entry, remote, remotePath);
  }

  /**
   * A small file into a target directory, when nothing is decided by what exists locally before its answer
   * (overwrite "skip" declines the file on the wire; "only changed" looks first).
   */
  private mayPlaceLater(size: number): boolean {
    const { request } = this;
    return size <= PLACE_LATER_FILE_BYTES && request.target.kind === 'directory' && request.overwrite !== 'skip' && request.onlyChanged === undefined;
  }

  private placed(entry: Announced<'file'>, remote: Buffer, remotePath: string): void {
    if (entry.times) this.request.onlyChanged?.record?.set(remotePath, { size: entry.size, mtime: entry.times.mtime });
    this.afterActions.placed(remote, this.job.files[this.job.files.length - 1]);
  }

  /** Only new or changed files: one whose size and mtime match is declined and listed as unchanged. */
  private async unchanged(entry: Announced<'file'>, components: string[], remotePath: string): Promise<boolean> {
    const { request, job } = this;
    const target = request.target;
    const localPath = target.kind === 'file' ? target.path : target.kind === 'directory' ? insideTarget(target.path, components, job) : undefined;
    if (!(await isUnchanged(request, remotePath, localPath, entry.size, entry.times?.mtime))) return false;
    await this.passOver(entry, remotePath, { unchanged: true, ...(localPath !== undefined ? { localPath } : {}) }, 'file unchanged, skipped');
    return true;
  }

  /** A file declined on the wire and listed as not transferred, with why. */
  private async passOver(entry: Announced<'file'>, remotePath: string, why: Partial<TransferredFile>, reason: string): Promise<void> {
    // Results stay in the order of the walk: the small files received before it are placed first.
    await this.later.drain();
    this.job.fileStart(remotePath, entry.size);
    await this.transport.skip(reason);
    this.job.fileEnd(
      {
        remotePath,
        size: entry.size,
        mode: entry.mode & 0o777,
        ...(entry.times ? { mtime: entry.times.mtime, atime: entry.times.atime } : {}),
        transferred: false,
        ...why,
      },
      remotePath,
    );
  }
}

/** A small file's exact content, received into memory (the chunks are views the transport reuses). */
async function receiveWhole(receive: (write: Write) => Promise<void>, size: number, job: Job, remotePath: string): Promise<Buffer> {
  const content = Buffer.allocUnsafe(size);
  let filled = 0;
  await receive((chunk) => {
    if (filled + chunk.length > size) throw new TransferError('EPROTO', 'the server sent more data than it announced', { host: job.host, path: remotePath });
    filled += chunk.copy(content, filled);
  });
  if (filled !== size) throw new TransferError('EPROTO', `received ${filled} bytes, expected ${size}`, { host: job.host, path: remotePath });
  return content;
}
