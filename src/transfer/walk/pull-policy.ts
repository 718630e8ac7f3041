/**
 * The two decisions of a scheduled pull, once for both transports: whether a remote file is unchanged
 * since the last pull (skipped), and what happens to the remote files whose local copies are complete
 * (kept, deleted or moved), batched by remote directory.
 */
import { promises as fs } from 'fs';
import { TransferError, type TransferErrorCode } from '../../errors';
import type { Job } from '../job/job';
import { joinRemote, showRemote, splitRemote } from '../remote-path';
import type { AfterAction, DownloadRequest, TransferredFile } from '../types';
import type { DownloadTransport } from './download-transport';

/**
 * True when the file needs no fetch: its size and mtime (whole seconds) equal those of the local copy
 * at `localPath`, or those the record kept from an earlier successful pull.
 */
export async function isUnchanged(
  request: DownloadRequest,
  remotePath: string,
  localPath: string | undefined,
  size: number,
  mtime: number | undefined,
): Promise<boolean> {
  if (!request.onlyChanged || mtime === undefined) return false;
  const seen = request.onlyChanged.record?.get(remotePath);
  if (seen && seen.size === size && seen.mtime === mtime) return true;
  if (localPath === undefined) return false;
  const local = await fs.stat(localPath).catch(() => undefined);
  return local !== undefined && local.isFile() && local.size === size && Math.floor(local.mtimeMs / 1000) === mtime;
}

/** Files placed by this pull, waiting for the after-action. */
export class AfterActions {
  private readonly byDirectory = new Map<string, { dir: Buffer; names: Buffer[]; files: TransferredFile[] }>();

  constructor(private readonly action: AfterAction | undefined) {}

  /** Called only once the file is complete and renamed into place (or complete in memory). */
  placed(remote: Buffer, file: TransferredFile): void {
    if (this.action === undefined || this.action.kind === 'keep') return;
    const { dir, base } = splitRemote(remote);
    const key = dir.toString('latin1');
    let group = this.byDirectory.get(key);
    if (!group) {
      group = { dir, names: [], files: [] };
      this.byDirectory.set(key, group);
    }
    group.names.push(base);
    group.files.push(file);
  }

  /**
   * Runs the after-action for every placed file, writing what happened into each file's result; the
   * first failure is returned (the job's error), after every directory had its turn.
   */
  async run(job: Job, transport: DownloadTransport): Promise<TransferError | undefined> {
    const action = this.action;
    if (action === undefined || action.kind === 'keep') return undefined;
    let first: TransferError | undefined;
    for (const group of this.byDirectory.values()) {
      job.checkActive();
      const fetched = group.files.map((file) => ({ size: file.size, ...(file.mtime !== undefined ? { mtime: file.mtime } : {}) }));
      const outcomes = await transport.afterAction(action, group.dir, group.names, fetched);
      group.files.forEach((file, index) => {
        const outcome = outcomes[index];
        if (outcome === undefined) return;
        if ('removed' in outcome) file.removed = true;
        else if ('movedTo' in outcome) file.movedTo = showRemote(outcome.movedTo);
        else {
          file.afterError = { code: outcome.error.code, message: outcome.error.message };
          // A file still being written stays for the next pull: said in its result, not a failed message.
          if (outcome.error.code !== 'ECHANGED') first ??= outcome.error;
        }
      });
    }
    this.byDirectory.clear();
    return first;
  }
}

/**
 * The error for one file whose after-action failed, the same over both transports: what failed, the
 * file, and the server's reason (`Permission denied`) with the code the transport read from it.
 */
export function afterActionError(
  job: Job,
  action: AfterAction,
  dir: Buffer,
  name: Buffer,
  failure?: { reason: string; code: TransferErrorCode },
): TransferError {
  const what = action.kind === 'move' ? 'could not move the remote file after the download' : 'could not delete the remote file after the download';
  const known = failure?.reason ? failure : undefined;
  return new TransferError(known?.code ?? 'EPROTO', what, {
    host: job.host,
    path: showRemote(joinRemote(dir, name)),
    ...(known ? { detail: known.reason } : {}),
  });
}

/**
 * The remote file changed between its fetch and the after-action (a writer still appends to it): it was
 * neither deleted nor moved, the same over both transports. `keptAs`: its name was taken meanwhile (the
 * writer started a new file), so it stays under the name it was checked under.
 */
export function changedAfterFetch(job: Job, dir: Buffer, name: Buffer, keptAs?: Buffer): TransferError {
  return new TransferError('ECHANGED', 'the remote file changed after it was fetched: it was neither deleted nor moved', {
    host: job.host,
    path: showRemote(joinRemote(dir, name)),
    detail: keptAs ? `its size or modification time differs from what was fetched; kept as ${showRemote(keptAs)}` : 'its size or modification time differs from what was fetched',
  });
}
