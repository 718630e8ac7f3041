/**
 * The shape of an upload on the server, the same for both transports: which existing remote directory
 * receives which top-level names, the step tree (directories, files, staging folders) with final and
 * temporary names, and the overwrite decisions taken from what a probe found.
 */
import { TransferError } from '../../errors';
import type { Job } from '../job/job';
import type { Leftover } from '../leftovers/journal';
import { endsWithSlash, joinRemote, showRemote, splitRemote } from '../remote-path';
import type { PlannedEntry, PlannedFile } from './upload-plan';
import { remoteTempName, stagingName } from '../leftovers/temp-name';
import type { UploadRequest } from '../types';

/** What a probe found at a remote path. */
export type RemoteKind = 'directory' | 'other' | 'missing';

export interface FileStep {
  kind: 'file';
  file: PlannedFile;
  /** the final name */
  name: Buffer;
  /** the name in the C record (temporary when atomic) */
  wireName: Buffer;
  finalPath: Buffer;
  wirePath: Buffer;
  skip: boolean;
}

export interface DirectoryStep {
  kind: 'directory';
  name: Buffer;
  mode: number;
  times?: { mtime: number; atime: number };
  remotePath: Buffer;
  /** the probe found a directory there already (it is not created) */
  existed: boolean;
  steps: Step[];
}

/**
 * A hidden directory (`.scp-<random>.part`) inside a target directory that receives that directory's
 * files under their final names; one `mv` then moves them all into place (one process instead of one
 * per file: the difference between 1 s and 0.05 s for 200 small files).
 */
export interface StagingStep {
  kind: 'staging';
  name: Buffer;
  /** the real directory the files belong in */
  parent: Buffer;
  path: Buffer;
  files: FileStep[];
}

export type Step = FileStep | DirectoryStep | StagingStep;

/** Where the plan lands: an existing remote directory and the top-level names inside it. */
export interface Layout {
  targetDir: Buffer;
  /** top-level entries with their final names */
  top: { entry: PlannedEntry; name: Buffer }[];
}

export function resolveLayout(
  job: Job,
  remote: Buffer,
  kind: RemoteKind,
  single: PlannedEntry | undefined,
  entries: PlannedEntry[],
  shown: string,
): Layout {
  const fail = (code: TransferError['code'], summary: string): never => {
    throw new TransferError(code, summary, { host: job.host, path: shown });
  };
  if (single?.kind === 'file') {
    if (kind === 'directory') {
      if (!single.name) fail('EISDIR', 'the remote path is a directory and the content has no file name');
      return { targetDir: remote, top: [{ entry: single, name: single.name as Buffer }] };
    }
    if (endsWithSlash(remote)) fail(kind === 'missing' ? 'ENOENT' : 'ENOTDIR', 'the remote directory does not exist');
    const { dir, base } = splitRemote(remote);
    if (base.length === 0 || base.equals(Buffer.from('.')) || base.equals(Buffer.from('..'))) {
      fail('EINVAL', 'the remote path does not name a file');
    }
    return { targetDir: dir, top: [{ entry: single, name: base }] };
  }
  if (single?.kind === 'directory') {
    if (kind === 'directory') return { targetDir: remote, top: [{ entry: single, name: single.name }] };
    if (kind === 'other') fail('ENOTDIR', 'the remote path exists and is not a directory');
    const { dir, base } = splitRemote(remote);
    if (base.length === 0 || base.equals(Buffer.from('.')) || base.equals(Buffer.from('..'))) {
      fail('EINVAL', 'the remote path does not name a directory');
    }
    return { targetDir: dir, top: [{ entry: single, name: base }] };
  }
  if (kind !== 'directory') {
    fail(kind === 'missing' ? 'ENOENT' : 'ENOTDIR', 'several sources need an existing remote directory');
  }
  const seen = new Set<string>();
  const top = entries.map((entry) => {
    if (!entry.name) fail('EINVAL', 'with several sources every buffer or stream needs a name');
    const name = entry.name as Buffer;
    if (seen.has(name.toString('latin1'))) fail('EINVAL', `two sources have the same name ${showRemote(name)}`);
    seen.add(name.toString('latin1'));
    return { entry, name };
  });
  return { targetDir: remote, top };
}

function filesFirst(entries: PlannedEntry[]): PlannedEntry[] {
  return [...entries.filter((entry) => entry.kind !== 'directory'), ...entries.filter((entry) => entry.kind === 'directory')];
}

export function buildStep(
  entry: PlannedEntry,
  name: Buffer,
  parent: Buffer,
  atomic: boolean,
  existing: Map<string, RemoteKind>,
  overwrite: UploadRequest['overwrite'],
  job: Job,
): Step {
  const finalPath = joinRemote(parent, name);
  const kind = existing.get(finalPath.toString('latin1')) ?? 'missing';
  if (entry.kind === 'directory') {
    if (kind === 'other') {
      throw new TransferError('ENOTDIR', 'a file is in the way of a directory', { host: job.host, path: showRemote(finalPath) });
    }
    return {
      kind: 'directory',
      name,
      mode: entry.mode,
      times: entry.times,
      remotePath: finalPath,
      existed: kind === 'directory',
      // A directory's files go before its subdirectories, on both transports: a failure deeper in the tree
      // then finds the same files finished over SCP (one staging folder per directory) and SFTP.
      steps: filesFirst(entry.entries).map((child) => buildStep(child, child.name as Buffer, finalPath, atomic, existing, overwrite, job)),
    };
  }
  if (kind === 'directory') {
    throw new TransferError('EISDIR', 'a directory is in the way of a file', { host: job.host, path: showRemote(finalPath) });
  }
  if (kind === 'other' && overwrite === 'fail') {
    throw new TransferError('EEXIST', 'the remote file exists', { host: job.host, path: showRemote(finalPath) });
  }
  const wireName = atomic ? remoteTempName(name) : name;
  return {
    kind: 'file',
    file: entry,
    name,
    wireName,
    finalPath,
    wirePath: joinRemote(parent, wireName),
    skip: kind === 'other' && overwrite === 'skip',
  };
}

/**
 * Without atomic the data goes straight to the final path, whose old content (with overwrite) is gone
 * once the server opened it: a failure then says that the file there may be incomplete.
 */
export function mayBeIncomplete(error: TransferError, finalPath: Buffer | undefined): TransferError {
  if (finalPath === undefined) return error;
  const path = showRemote(finalPath);
  return new TransferError(error.code, `${error.summary}; the remote file ${path} may be incomplete`, {
    host: error.host,
    path: error.path ?? path,
    detail: error.detail,
    cause: error,
  });
}

/**
 * Every remote path the plan would use if `remote` is an existing directory (files and directories): the
 * probe asks about all of them at once, so the overwrite policy and the things in the way are known
 * before anything is sent.
 */
export function candidatePaths(entries: PlannedEntry[], remote: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const visit = (entry: PlannedEntry, path: Buffer): void => {
    out.push(path);
    if (entry.kind === 'directory') for (const child of entry.entries) visit(child, joinRemote(path, child.name as Buffer));
  };
  for (const entry of entries) if (entry.name) visit(entry, joinRemote(remote, entry.name));
  return out;
}

/** The temporary names an atomic upload will use, recorded before the server can create any of them. */
export function temporariesOf(steps: Step[], out: Leftover[] = []): Leftover[] {
  for (const step of steps) {
    if (step.kind === 'staging') out.push({ path: step.path, kind: 'staging' });
    else if (step.kind === 'directory') temporariesOf(step.steps, out);
    else if (!step.skip) out.push({ path: step.wirePath, kind: 'file' });
  }
  return out;
}

/**
 * Groups the files of each directory level into a staging directory when the transport moves such
 * groups in one go (atomic uploads that may replace: with overwrite "fail" each file needs its own
 * refusing rename). Names `canStage` refuses keep their own temporary name. The group stands where its
 * first file stood and keeps skipped files in their place, so progress and results keep the plan's order.
 */
export function stage(steps: Step[], parent: Buffer, canStage: (name: Buffer) => boolean): Step[] {
  const staged: Step[] = [];
  const group: FileStep[] = [];
  let groupAt = -1;
  for (const step of steps) {
    if (step.kind === 'directory') staged.push({ ...step, steps: stage(step.steps, step.remotePath, canStage) });
    else if (step.kind === 'file' && canStage(step.name)) {
      if (groupAt < 0) groupAt = staged.length;
      group.push(step);
    } else staged.push(step);
  }
  if (group.filter((file) => !file.skip).length >= 2) {
    const name = stagingName();
    const path = joinRemote(parent, name);
    for (const file of group) {
      file.wireName = file.name;
      file.wirePath = joinRemote(path, file.name);
    }
    staged.splice(groupAt, 0, { kind: 'staging', name, parent, path, files: group });
  } else if (group.length > 0) {
    staged.splice(groupAt, 0, ...group);
  }
  return staged;
}
