/**
 * Claims (issue 16): several Node-RED instances pulling one remote folder with delete or move, each file
 * fetched by exactly one of them. The server's atomic rename is the only coordination:
 *   1. a first look at the pattern (plan/settle.ts's walk that fetches nothing) names the candidates and
 *      tells which transport serves this server;
 *   2. claim folders older than the timeout (their instance died mid-pull) have their files put back;
 *   3. each candidate (not the files minimum age passes over: never claimed) is renamed into
 *      `<dir>/.scp-claims/<instance>~<seconds>~<random>/`: only the instance whose rename succeeded owns it;
 *   4. the pattern is pulled from that folder (delete or move as asked, minimum age and stable size apply);
 *   5. whatever is still in the folder afterwards (skipped, failed, changed while fetched) goes back under
 *      its name, and the folder is removed, also when the pull failed; a file whose name was taken meanwhile
 *      stays there and its result says so (afterError ECHANGED, naming where it is kept).
 * A live instance slower than the timeout loses its claim to the release: choose a timeout longer than the
 * longest pull.
 */
import { randomBytes } from 'crypto';
import { TransferError } from '../../errors';
import { Job } from '../job/job';
import type { DownloadRequest, TransferContext, TransferredFile, TransferResult } from '../types';
import { passOverReason } from '../walk/settle';
import { openClaimOps, type ClaimOps } from './claim-ops';

export const CLAIMS_FOLDER = '.scp-claims';
/** An instance id: letters, digits, `.`, `_`, `-` (it becomes part of a remote folder name). */
export const INSTANCE_ID = /^[A-Za-z0-9._-]{1,64}$/u;
const CLAIM_FOLDER_NAME = /^[A-Za-z0-9._-]{1,64}~(\d{1,12})~[0-9a-f]+$/u;

type Once = (ctx: TransferContext, request: DownloadRequest) => Promise<TransferResult>;

function refuse(request: DownloadRequest, ctx: TransferContext, summary: string): TransferError {
  return new TransferError('EINVAL', summary, { host: ctx.channels.label, path: request.remotePath });
}

export async function downloadClaimed(ctx: TransferContext, request: DownloadRequest, once: Once): Promise<TransferResult> {
  const claim = request.claim;
  if (!claim) return once(ctx, request);
  if (!request.glob || request.recursive) throw refuse(request, ctx, 'claims need a pattern (glob) and no recursive download');
  if (request.afterAction?.kind !== 'delete' && request.afterAction?.kind !== 'move') throw refuse(request, ctx, 'claims need "delete" or "move" after the pull');
  if (!INSTANCE_ID.test(claim.instance)) throw refuse(request, ctx, 'the instance id may hold only letters, digits, ".", "_" and "-" (at most 64)');
  if (request.remotePathBytes) throw refuse(request, ctx, 'claims need a remote path given as text');
  const slash = request.remotePath.lastIndexOf('/');
  const dir = slash < 0 ? '.' : slash === 0 ? '/' : request.remotePath.slice(0, slash);
  const pattern = request.remotePath.slice(slash + 1);
  const join = (parent: string, name: string): string => (parent === '/' ? `/${name}` : `${parent}/${name}`);
  const plain: DownloadRequest = { ...request, claim: undefined };

  const { onProgress: _progress, ...quiet } = ctx;
  const firstLook = (): Promise<TransferResult> => once(quiet, { ...plain, survey: true, afterAction: { kind: 'keep' }, onlyChanged: undefined, settle: undefined });
  let look = await firstLook();
  const job = new Job(ctx);
  let ops: ClaimOps | undefined;
  try {
    ops = await openClaimOps(job, look.transport, request.remotePath);
    const root = join(dir, CLAIMS_FOLDER);
    // Files put back from a dead instance's claim are candidates of this pull too.
    if (await releaseStale(ops, root, dir, claim.timeoutSeconds)) look = await firstLook();
    const folder = join(root, `${claim.instance}~${Math.floor(Date.now() / 1000)}~${randomBytes(4).toString('hex')}`);
    await ops.makeFolder(folder);
    let kept: string[] = [];
    let result: TransferResult | undefined;
    try {
      // Files minimum age passes over are never claimed: a writer writing by name would otherwise make a new
      // file under the old name meanwhile, and the claimed one could not go back.
      const now = Date.now();
      const skipped: TransferredFile[] = [];
      const candidates: TransferredFile[] = [];
      for (const file of look.files) {
        const reason = passOverReason(request, file.remotePath, file.size, file.mtime, now);
        if (reason) skipped.push({ ...file, transferred: false, skipped: reason });
        else candidates.push(file);
      }
      // Each instance starts at a random place in the list: instances pulling at once mostly claim different files.
      const listed = candidates.map((file) => baseName(file.remotePath));
      const start = listed.length > 0 ? randomBytes(4).readUInt32BE(0) % listed.length : 0;
      const names = [...listed.slice(start), ...listed.slice(0, start)];
      const won = names.length > 0 ? await ops.claim(dir, folder, names) : [];
      if (!won.includes(true)) {
        result = { transport: look.transport, files: skipped, directories: [], bytes: 0, durationMs: 0, rate: 0 };
      } else {
        const fetched = await once(ctx, { ...plain, remotePath: join(folder, pattern) });
        // The files by the names the user knows; where they were fetched from is an implementation detail.
        const shownFolder = `${folder}/`;
        const files = fetched.files.map((file) => (file.remotePath.startsWith(shownFolder) ? { ...file, remotePath: join(dir, file.remotePath.slice(shownFolder.length)) } : file));
        result = { ...fetched, files: [...files, ...skipped] };
      }
    } finally {
      // Also after a failure or a stop: nothing stays claimed by a live instance.
      kept = await ops.release(folder, dir).catch((error: unknown) => {
        ctx.debug?.(`could not release the claim folder ${folder}: ${String(error)}`);
        return [];
      });
      if (kept.length > 0 && !result) ctx.debug?.(`claimed files kept in ${folder} (their names were taken meanwhile): ${kept.join(', ')}`);
    }
    return reportKept(result, kept, folder, dir, look);
  } catch (error) {
    throw job.normalise(error, request.remotePath);
  } finally {
    ops?.close();
    job.dispose();
  }
}

function baseName(remotePath: string): string {
  return remotePath.slice(remotePath.lastIndexOf('/') + 1);
}

/**
 * A claimed file that could not go back under its name (a new file took it meanwhile) stays in the claim
 * folder: its result says so, with where it is kept, never silently (ECHANGED: it changed under us).
 */
function reportKept(result: TransferResult, kept: string[], folder: string, dir: string, look: TransferResult): TransferResult {
  if (kept.length === 0) return result;
  const join = (name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);
  const files: TransferredFile[] = [...result.files];
  for (const name of kept) {
    const afterError = {
      code: 'ECHANGED',
      message: `the claimed file could not go back under its name (a new file took it meanwhile): it is kept as ${folder}/${name}`,
    };
    const at = files.findIndex((file) => file.remotePath === join(name));
    if (at >= 0) files[at] = { ...files[at], afterError };
    else {
      const seen = look.files.find((file) => baseName(file.remotePath) === name);
      files.push({ remotePath: join(name), size: seen?.size ?? 0, mode: seen?.mode ?? 0, ...(seen?.mtime === undefined ? {} : { mtime: seen.mtime }), transferred: false, afterError });
    }
  }
  return { ...result, files };
}

/** Claim folders older than the timeout belong to an instance that died: their files go back. */
async function releaseStale(ops: ClaimOps, root: string, dir: string, timeoutSeconds: number): Promise<boolean> {
  const now = Date.now() / 1000;
  let released = false;
  for (const name of await ops.folders(root)) {
    const match = CLAIM_FOLDER_NAME.exec(name);
    if (!match || now - Number(match[1]) <= timeoutSeconds) continue;
    await ops.release(`${root}/${name}`, dir);
    released = true;
  }
  return released;
}
