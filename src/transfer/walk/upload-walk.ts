/**
 * The one upload walker, the same for both transports: probe → layout → steps, then for each step ask the
 * transport to create directories and send content, then place the finished temporaries, finish the
 * directories' modes and times, and after a failure place what was finished and remove the rest. Every
 * decision a user can see is taken here, once:
 * - overwrite: refused (EEXIST) or skipped from what the probe found, before anything is sent;
 * - atomic: content goes to temporary names (recorded in the leftover journal first) and is placed once
 *   the content session is over; a file is never seen half-written at its final name;
 * - preserve: modes and times of files and directories; directories stay writable while they fill;
 * - progress: fileStart before a file's content, fileEnd once its content was sent (or it was skipped);
 * - partial failure: files whose content was sent before the failure are placed, the failing file and
 *   those after it never appear; temporaries are removed (or stay journaled when the server is gone).
 */
import { TransferError } from '../../errors';
import type { Readable } from 'stream';
import type { Job } from '../job/job';
import type { Leftover } from '../leftovers/journal';
import { releaseContent } from '../local/local-content';
import { uploadedFileRecord, type UploadPlan } from './upload-plan';
import { asChangedSource, checkContentSize } from '../local/changed-source';
import { joinRemote, remoteText, showRemote } from '../remote-path';
import type { TransferResult, UploadRequest } from '../types';
import {
  buildStep,
  candidatePaths,
  mayBeIncomplete,
  resolveLayout,
  stage,
  temporariesOf,
  type DirectoryStep,
  type FileStep,
  type RemoteKind,
  type StagingStep,
  type Step,
} from './upload-layout';
import { adoptLoneTarget, loneUpload } from './lone-upload';
import type { DirectoryFinish, EnterDirectory, PlaceOutcome, Placement, Unavailable, UploadTransport } from './upload-transport';
import { shapedContent } from '../link/upload-content';

/** What the walk has put on the server so far. */
interface Progress {
  /** temporaries (files and staging directories) the server may have created and that are not yet placed */
  sent: Leftover[];
  /** finished temporaries waiting to be placed */
  finished: Placement[];
  /** without atomic: the final path being written while a file is in flight */
  writing?: Buffer;
}

/** Runs the upload over `transport` and releases it; 'unavailable' when the server proved it cannot run there. */
export async function runUpload(
  job: Job,
  request: UploadRequest,
  plan: UploadPlan,
  remote: Buffer,
  transport: UploadTransport,
): Promise<TransferResult | Unavailable> {
  try {
    return await planAndCarryOut(job, request, plan, remote, transport);
  } finally {
    transport.release();
  }
}

async function planAndCarryOut(
  job: Job,
  request: UploadRequest,
  plan: UploadPlan,
  remote: Buffer,
  transport: UploadTransport,
): Promise<TransferResult | Unavailable> {
  const shown = showRemote(remote);
  const entries = plan.entries;
  if (entries.length === 0) throw new TransferError('EINVAL', 'nothing to upload', { host: job.host, path: shown });

  // Candidate paths, valid if `remote` turns out to be an existing directory; when it is not, a single
  // file lands at `remote` itself (probed first).
  const inside = candidatePaths(entries, remote);
  const lone = loneUpload(job, request, remote, entries, shown);
  const probed = await transport.probe([remote, ...inside], shown, lone);
  if (probed === 'unavailable') return probed;
  const remoteKind = probed[0];
  const existing = new Map<string, RemoteKind>();
  const single = entries.length === 1 ? entries[0] : undefined;
  const layout = resolveLayout(job, remote, remoteKind, single, entries, shown);
  if (remoteKind === 'directory') inside.forEach((path, index) => existing.set(path.toString('latin1'), probed[index + 1]));
  else if (single?.kind === 'file') existing.set(joinRemote(layout.targetDir, layout.top[0].name).toString('latin1'), remoteKind);

  let steps: Step[] = layout.top.map(({ entry, name }) =>
    buildStep(entry, name, layout.targetDir, request.atomic, existing, request.overwrite, job),
  );
  adoptLoneTarget(steps, lone);
  if (request.atomic && request.overwrite !== 'fail') steps = stage(steps, layout.targetDir, (name) => transport.canStage(name));
  job.totalSize = plan.totalSize;

  return carryOut(job, request, transport, steps, layout.targetDir, { sent: [], finished: [] }, shown);
}

async function carryOut(
  job: Job,
  request: UploadRequest,
  transport: UploadTransport,
  steps: Step[],
  targetDir: Buffer,
  progress: Progress,
  shown: string,
): Promise<TransferResult | Unavailable> {
  try {
    if (request.atomic) await job.temporaries.record(temporariesOf(steps));
    if ((await transport.open({ steps, targetDir, preserve: request.preserve }, shown)) === 'unavailable') {
      await job.temporaries.gone(); // nothing was sent
      return 'unavailable';
    }
    await walk(job, request, transport, steps, progress);
    await transport.close();
  } catch (error) {
    throw await afterFailure(job, request, transport, progress, error, shown);
  }

  await placeFinished(job, request, transport, progress, shown);
  if (request.atomic) {
    const finishing: DirectoryFinish[] = [];
    collectDirectoryFinish(steps, request.preserve, progress.finished.length > 0, finishing);
    if (finishing.length > 0) await transport.finishDirectories(finishing, shown);
  }
  return job.result(transport.name);
}

/**
 * A directory is entered writable for its owner when files are placed into it after the session
 * (atomic); its own mode and times are set once they are in.
 */
function enterOf(step: DirectoryStep | StagingStep, request: UploadRequest): EnterDirectory {
  if (step.kind === 'staging') {
    const first = step.files.find((file) => !file.skip) ?? step.files[0];
    return { name: step.name, path: step.path, mode: 0o700, staging: true, firstFile: first.finalPath };
  }
  return {
    name: step.name,
    path: step.remotePath,
    mode: request.atomic ? step.mode | 0o700 : step.mode,
    ...(request.preserve && step.times ? { times: step.times } : {}),
    staging: false,
  };
}

async function walk(job: Job, request: UploadRequest, transport: UploadTransport, steps: Step[], progress: Progress, staging?: StagingStep): Promise<void> {
  const ahead = new ReadAhead(steps);
  try {
    for (let index = 0; index < steps.length; index += 1) {
      const step = steps[index];
      job.checkActive();
      if (step.kind === 'directory' || step.kind === 'staging') {
        const dir = enterOf(step, request);
        // Noted before it is asked for: the server may create it even if no answer comes back.
        if (step.kind === 'staging') progress.sent.push({ path: step.path, kind: 'staging' });
        await transport.enterDirectory(dir);
        if (step.kind === 'directory') job.directories.push(remoteText(step.remotePath));
        await walk(job, request, transport, step.kind === 'staging' ? step.files : step.steps, progress, step.kind === 'staging' ? step : undefined);
        await transport.leaveDirectory(dir);
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
      // The local side first: a file that vanished since planning fails before a remote name exists.
      const content = await ahead.content(index);
      if (request.atomic && !staging && !isLastSent(progress, step.wirePath)) progress.sent.push({ path: step.wirePath, kind: 'file' });
      // With atomic, the next file's record may go out with this file's end: it only ever names a temporary.
      const following = request.atomic ? ahead.following(index) : undefined;
      if (following && !staging) progress.sent.push({ path: following.step.wirePath, kind: 'file' });
      // The link options' wrapper (throttle, hash) reads the content: on failure both are destroyed.
      let shaped: Readable | Buffer | undefined;
      try {
        checkContentSize(job, file, content, display);
        shaped = shapedContent(job, content, file.localPath, step.finalPath);
        await transport.sendFile({
          step,
          file,
          content: shaped,
          ...(request.preserve && file.times ? { times: file.times } : {}),
          exclusive: request.atomic || request.overwrite === 'fail',
          accepted: () => {
            // Without atomic the final file is open (and, with overwrite, truncated) from here on.
            if (!request.atomic) progress.writing = step.finalPath;
          },
          onBytes: (n) => job.addBytes(n),
          ...(following ? { next: { ...following, ...(request.preserve && following.step.file.times ? { times: following.step.file.times } : {}) } } : {}),
        });
      } catch (error) {
        // A refusal, EOF, timeout or abort: the local file must not stay open, nor the wrapper waiting on it.
        if (shaped !== content) releaseContent(shaped);
        releaseContent(content);
        throw asChangedSource(error, job, file, display);
      }
      // A streamed content was read while it was sent: the files after it are read from now on.
      ahead.readFrom(index + 1);
      progress.writing = undefined;
      if (request.atomic) {
        progress.finished.push({ from: step.wirePath, to: step.finalPath, ...(staging ? { staging: { path: staging.path, parent: staging.parent } } : {}) });
      }
      job.fileEnd({ ...record, transferred: true }, display);
    }
  } finally {
    ahead.release();
  }
}

function isLastSent(progress: Progress, path: Buffer): boolean {
  const last = progress.sent[progress.sent.length - 1];
  return last !== undefined && last.kind === 'file' && last.path.equals(path);
}

/** Files up to this size are read ahead (whole, see local/sources.ts) while earlier ones are on the wire. */
const READ_AHEAD_FILE_BYTES = 256 * 1024;
/** At most this many files and bytes are held read ahead. */
const READ_AHEAD_FILES = 8;
const READ_AHEAD_BYTES = 2 * 1024 * 1024;

/**
 * The contents of one directory level's small files, read a few files ahead of the one being sent, so
 * the local reads overlap the waits for the server's replies instead of adding to them. A content read
 * ahead and never sent (the walk failed) is released.
 */
class ReadAhead {
  private readonly reading = new Map<number, Promise<Readable | Buffer>>();
  /** what each read produced, once it did */
  private readonly settled = new WeakMap<Promise<Readable | Buffer>, Readable | Buffer>();
  private furthest = -1;

  constructor(private readonly steps: Step[]) {}

  /**
   * The content of the file step at `index` (read ahead or opened now). When it is read whole already, the
   * next ones are read from now on; a streamed one is read while it is sent: only after it (readFrom), so
   * no file is read before the one in front of it was.
   */
  async content(index: number): Promise<Readable | Buffer> {
    const step = this.steps[index] as FileStep;
    const reading = this.reading.get(index) ?? step.file.open();
    this.reading.delete(index);
    const content = await reading;
    if (Buffer.isBuffer(content)) this.readFrom(index + 1);
    return content;
  }

  /** The file step right after `index` when its content was read and has the planned size (a record for it may go ahead). */
  following(index: number): { step: FileStep; content: Buffer } | undefined {
    const step = this.steps[index + 1];
    const reading = this.reading.get(index + 1);
    if (step?.kind !== 'file' || step.skip || reading === undefined) return undefined;
    const settled = this.settled.get(reading);
    return Buffer.isBuffer(settled) && settled.length === step.file.size ? { step, content: settled } : undefined;
  }

  /** Starts reading the small files from `start` on, as far as the limits allow. */
  readFrom(start: number): void {
    let bytes = 0;
    for (const index of this.reading.keys()) bytes += (this.steps[index] as FileStep).file.size;
    for (let index = Math.max(start, this.furthest + 1); index < this.steps.length && this.reading.size < READ_AHEAD_FILES; index += 1) {
      const step = this.steps[index];
      if (step.kind !== 'file') break;
      if (step.skip) {
        this.furthest = index;
        continue;
      }
      if (step.file.size > READ_AHEAD_FILE_BYTES || bytes + step.file.size > READ_AHEAD_BYTES) break;
      const reading = step.file.open();
      reading.then(
        (content) => this.settled.set(reading, content),
        () => undefined,
      );
      this.reading.set(index, reading);
      bytes += step.file.size;
      this.furthest = index;
    }
  }

  /** Releases what was read ahead and not taken. */
  release(): void {
    for (const reading of this.reading.values()) reading.then(releaseContent, () => undefined);
    this.reading.clear();
  }
}

/**
 * The error the job fails with, after placing what was finished and removing the other temporaries. With
 * the connection gone there is nobody to ask: the names stay in the journal for the next job.
 */
async function afterFailure(job: Job, request: UploadRequest, transport: UploadTransport, progress: Progress, error: unknown, shown: string): Promise<TransferError> {
  const lost = transport.connectionError();
  const failure = mayBeIncomplete(job.normalise(lost ?? error, shown), progress.writing);
  const serverDone = await transport.abandon(failure, request.atomic && !lost);
  if (!request.atomic || lost) return failure;
  let left = progress.sent;
  if (progress.finished.length > 0) {
    try {
      // Each finished temporary is now placed or removed.
      await transport.place(progress.finished, request.overwrite !== 'fail', shown, true);
      const done = new Set(progress.finished.map((placement) => placement.from.toString('latin1')));
      left = progress.sent.filter((item) => !done.has(item.path.toString('latin1')));
    } catch {
      // not known which: all are removed below (or stay journaled)
    }
  }
  if ((await transport.removeQuietly(left)) && serverDone) await job.temporaries.gone();
  return failure;
}

/** Places the finished temporaries after a successful session; the first refusal is the job's error. */
async function placeFinished(job: Job, request: UploadRequest, transport: UploadTransport, progress: Progress, shown: string): Promise<void> {
  if (progress.finished.length === 0) {
    await job.temporaries.gone();
    return;
  }
  let outcomes: PlaceOutcome[];
  try {
    outcomes = await transport.place(progress.finished, request.overwrite !== 'fail', shown, false);
  } catch (error) {
    if (await transport.removeQuietly(progress.sent)) await job.temporaries.gone();
    throw job.normalise(error, shown);
  }
  // Each temporary was placed, or removed when its placement failed.
  await job.temporaries.gone();
  outcomes.forEach((outcome, index) => {
    if (outcome.kind === 'ok') return;
    const path = showRemote(progress.finished[index].to);
    if (outcome.kind === 'exists') throw new TransferError('EEXIST', 'the remote file exists', { host: job.host, path });
    if (outcome.kind === 'directory') throw new TransferError('EISDIR', 'a directory is in the way of a file', { host: job.host, path });
    throw new TransferError(outcome.code, 'could not move the uploaded file into place', { host: job.host, path, detail: outcome.detail });
  });
}

/**
 * After an atomic upload: the real mode of directories that were entered writable (a created one, or any
 * with preserve), and with preserve their times again (placing a file changes its directory's mtime).
 * Deepest first.
 */
function collectDirectoryFinish(steps: Step[], preserve: boolean, placed: boolean, out: DirectoryFinish[]): void {
  for (const step of steps) {
    if (step.kind !== 'directory') continue;
    collectDirectoryFinish(step.steps, preserve, placed, out);
    const mode = (step.mode & 0o700) !== 0o700 && (!step.existed || preserve) ? step.mode : undefined;
    const times = preserve && placed ? step.times : undefined;
    if (mode !== undefined || times) out.push({ path: step.remotePath, ...(mode !== undefined ? { mode } : {}), ...(times ? { times } : {}) });
  }
}
