/**
 * Claims (issue 16): several Node-RED instances pulling one remote folder with delete or move, each file
 * fetched by exactly one of them. The server's atomic rename is the only coordination:
 *   1. a first look at the pattern (plan/settle.ts's walk that fetches nothing) names the candidates and
 *      tells which transport serves this server;
 *   2. claim folders older than the timeout (their instance died mid-pull) have their files put back;
 *   3. each candidate is renamed into `<dir>/.scp-claims/<instance>~<seconds>~<random>/`: only the instance
 *      whose rename succeeded owns the file;
 *   4. the pattern is pulled from that folder (delete or move as asked, minimum age and stable size apply);
 *   5. whatever is still in the folder afterwards (skipped, failed, changed while fetched) goes back under
 *      its name, and the folder is removed, also when the pull failed.
 * A live instance slower than the timeout loses its claim to the release: choose a timeout longer than the
 * longest pull.
 */
import { randomBytes } from 'crypto';
import { TransferError } from '../../errors';
import { Job } from '../job/job';
import type { DownloadRequest, TransferContext, TransferResult } from '../types';
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
    try {
      // Each instance starts at a random place in the list: instances pulling at once mostly claim different files.
      const listed = look.files.map((file) => file.remotePath.slice(file.remotePath.lastIndexOf('/') + 1));
      const start = listed.length > 0 ? randomBytes(4).readUInt32BE(0) % listed.length : 0;
      const names = [...listed.slice(start), ...listed.slice(0, start)];
      const won = await ops.claim(dir, folder, names);
      if (!won.includes(true)) return { transport: look.transport, files: [], directories: [], bytes: 0, durationMs: 0, rate: 0 };
      const result = await once(ctx, { ...plain, remotePath: join(folder, pattern) });
      // The files by the names the user knows; where they were fetched from is an implementation detail.
      const shownFolder = `${folder}/`;
      return { ...result, files: result.files.map((file) => (file.remotePath.startsWith(shownFolder) ? { ...file, remotePath: join(dir, file.remotePath.slice(shownFolder.length)) } : file)) };
    } finally {
      // Also after a failure or a stop: nothing stays claimed by a live instance.
      await ops.release(folder, dir).catch((error: unknown) => ctx.debug?.(`could not release the claim folder ${folder}: ${String(error)}`));
    }
  } catch (error) {
    throw job.normalise(error, request.remotePath);
  } finally {
    ops?.close();
    job.dispose();
  }
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
