/**
 * Which jobs 'auto' carries over the SFTP session the connection keeps instead of SCP: small ones, once the
 * server proved that SFTP sees the shell's paths (auto/same-paths.ts), remembered per connection.
 *
 * Small means what fits the kept session (SHARED_SESSION_MAX_BYTES): there a message starts no process on
 * the server. Measured on a 2-core machine through the engine, warm: a 4 KiB upload took 20 ms over SCP and
 * 4 ms over SFTP, 1 MiB 35 ms and 12 ms; from 2 MiB on SFTP needs a session (a process) of its own and
 * is no faster, and a 256 MiB file moved 1.5× (up) and 1.2× (down) faster over SCP. So bigger jobs, trees
 * and patterns stay on SCP, and so does anything SFTP cannot name (a path that is not UTF-8).
 *
 * The verdict lives as long as the provider (a redeploy makes a new one; forgetTransport forgets it): 'same'
 * and 'differ' for good, a probe that could not tell until PROBE_RETRY_MS passed, and one cut short by a lost
 * connection not at all (the next small job probes again).
 */
import { isValidUtf8 } from '../../text';
import type { Job } from '../job/job';
import { SHARED_SESSION_MAX_BYTES } from '../sftp/sftp-channel';
import { knowsTransport, pathsVerdictOf, setPathsVerdict, type PathsVerdict } from '../transport-memory';
import type { DownloadRequest, TransferContext } from '../types';
import type { PlannedEntry, UploadPlan } from '../walk/upload-plan';
import { probeSamePaths, type ProbeOutcome } from './same-paths';

/** After a probe that could not tell, SCP for this long before the next probe. */
export const PROBE_RETRY_MS = 10 * 60_000;

/** An upload of files only (no directory), at most SHARED_SESSION_MAX_BYTES in all, every name UTF-8. */
export function smallUpload(plan: UploadPlan, remote: Buffer): boolean {
  const named = (entry: PlannedEntry): boolean => entry.kind === 'file' && (entry.name === undefined || isValidUtf8(entry.name));
  return plan.totalSize <= SHARED_SESSION_MAX_BYTES && plan.entries.every(named) && isValidUtf8(remote);
}

/** One file by its exact name (its size is learnt on the kept session: sftp/sftp-download.ts). */
export function smallDownloadCandidate(request: DownloadRequest, remote: Buffer): boolean {
  return !request.glob && !request.recursive && isValidUtf8(remote);
}

/**
 * True when this job, small, goes over SFTP: transport 'auto' and the server proved SFTP sees the shell's
 * paths (or, on the way, that it has no scp). The first small job on a connection runs the probe; jobs that ask meanwhile wait for it (each
 * within its own signal), later ones use the verdict.
 */
export async function smallJobOverSftp(job: Job, ctx: TransferContext, small: boolean): Promise<boolean> {
  if (!small || ctx.transport !== 'auto') return false;
  const known = pathsVerdictOf(ctx.channels);
  if (known !== undefined && !(known instanceof Promise)) {
    if (known.kind !== 'unsure' || Date.now() < known.retryAt) return known.kind === 'same';
  }
  const probing = known instanceof Promise ? known : startProbe(ctx);
  const verdict = await untilStopped(job, probing);
  // The probe's command may have met OpenSSH's refusal for an SFTP-only account: then SFTP it is, whatever the paths.
  return verdict?.kind === 'same' || knowsTransport(ctx.channels, 'noScp');
}

function startProbe(ctx: TransferContext): Promise<PathsVerdict | undefined> {
  const host = ctx.channels.label;
  const probing = probeSamePaths(ctx).then((outcome) => {
    const verdict = verdictOf(outcome);
    // Unless forgotten meanwhile (forgetTransport): then this answer is nobody's.
    if (pathsVerdictOf(ctx.channels) === probing) setPathsVerdict(ctx.channels, verdict);
    ctx.debug?.(describe(host, outcome));
    return verdict;
  });
  setPathsVerdict(ctx.channels, probing);
  return probing;
}

function verdictOf(outcome: ProbeOutcome): PathsVerdict | undefined {
  switch (outcome.kind) {
    case 'same':
      return { kind: 'same' };
    case 'differ':
      return { kind: 'differ' };
    case 'unsure':
      return { kind: 'unsure', retryAt: Date.now() + PROBE_RETRY_MS };
    default:
      return undefined;
  }
}

function describe(host: string, outcome: ProbeOutcome): string {
  if (outcome.kind === 'same') return `${host}: SFTP sees the same paths as the shell: small transfers go over the kept SFTP session`;
  const until = outcome.kind === 'unsure' ? ` (probed again in ${PROBE_RETRY_MS / 60_000} min)` : outcome.kind === 'again' ? ' (probed again with the next transfer)' : '';
  return `${host}: small transfers stay on SCP: ${outcome.why}${until}`;
}

/** The probe's verdict, or the job's stop error as soon as the job is stopped (the probe goes on for the others). */
function untilStopped<T>(job: Job, probing: Promise<T>): Promise<T> {
  job.checkActive();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(job.stopError());
    job.signal.addEventListener('abort', onAbort, { once: true });
    void probing.then(
      (value) => {
        job.signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        job.signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
