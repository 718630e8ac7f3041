/**
 * The remote toolbox the `scp remote` node calls: list, stat, delete, rename, mkdir, rmdir, chmod on one
 * server, over SFTP requests or, where the server has no SFTP subsystem, POSIX shell commands. `auto`
 * picks SFTP (no process per request on the server) and falls back to the shell when the server refuses
 * the subsystem, remembering that per connection; a name SFTP cannot carry (not valid UTF-8) is listed
 * over the shell where there is one. Never imports Node-RED.
 */
import { TransferError } from '../errors';
import { Job, knowsTransport, learnTransport, remotePathOf, sftpSubsystemRefused, showRemote, stripTrailingSlashes, type TransportUsed } from '../transfer';
import { isValidUtf8 } from '../text';
import { entryFilter, sortAndLimit } from './entries';
import { checkOutcomes, isPartialFailure, type Outcome } from './outcomes';
import { sftpList, sftpMutate, sftpStat } from './sftp-remote';
import { shellList, shellMutate, shellStat } from './shell-remote';
import { DEFAULT_MAX_ENTRIES, MAX_DEPTH_CAP, MAX_ENTRIES_CAP, type ListOptions, type RemoteContext, type RemoteEntry, type RemoteRequest, type RemoteResult } from './types';

export * from './types';
export { isPartialFailure, type PartialFailure } from './outcomes';

function pathsOf(request: RemoteRequest): Buffer[] {
  switch (request.operation) {
    case 'list':
    case 'stat':
      return [request.path];
    case 'rename':
      return request.pairs.flatMap((pair) => [pair.from, pair.to]);
    default:
      return request.paths;
  }
}

/** Checks paths (never empty, never a NUL) and numbers before anything reaches the server. */
function checkRequest(request: RemoteRequest, host: string): void {
  const paths = pathsOf(request);
  if (paths.length === 0) throw new TransferError('EINVAL', 'no remote path given', { host });
  for (const path of paths) remotePathOf({ remotePath: '', remotePathBytes: path }, host);
  if (request.operation === 'chmod' && !(Number.isInteger(request.mode) && request.mode >= 0 && request.mode <= 0o7777)) {
    throw new TransferError('EINVAL', 'the mode must be octal, like 0644', { host, detail: String(request.mode) });
  }
}

function listOptions(options: ListOptions, host: string): ListOptions {
  if (Number.isFinite(options.maxEntries) && options.maxEntries > MAX_ENTRIES_CAP) {
    throw new TransferError('EINVAL', `the entry limit must be at most ${MAX_ENTRIES_CAP}`, { host, detail: String(options.maxEntries) });
  }
  const whole = (value: number, fallback: number, max: number): number => (Number.isFinite(value) && value >= 1 ? Math.min(Math.floor(value), max) : fallback);
  return {
    ...options,
    maxDepth: options.recursive ? whole(options.maxDepth, MAX_DEPTH_CAP, MAX_DEPTH_CAP) : 1,
    maxEntries: whole(options.maxEntries, DEFAULT_MAX_ENTRIES, MAX_ENTRIES_CAP),
  };
}

async function run(job: Job, transport: TransportUsed, request: RemoteRequest, auto: boolean): Promise<RemoteResult> {
  const started = Date.now();
  const durationMs = (): number => Math.max(0, Date.now() - started);
  switch (request.operation) {
    case 'list': {
      const options = listOptions(request.options, job.host);
      const root = stripTrailingSlashes(request.path);
      const keep = entryFilter(options, job.host, Math.floor(Date.now() / 1000));
      let listed: RemoteEntry[];
      let skipped: { path: string; reason: 'notUtf8' }[] = [];
      if (transport === 'sftp') {
        ({ entries: listed, skipped } = await sftpList(job, root, options));
        if (auto && skipped.length > 0) {
          // Names SFTP cannot carry: the shell can, when the server has one.
          const overShell = await shellList(job, root, options).catch(() => undefined);
          if (overShell) {
            listed = overShell;
            skipped = [];
            transport = 'scp';
          }
        }
      } else listed = await shellList(job, root, options);
      const entries = sortAndLimit(listed.filter(keep), options);
      return { transport, entries, listed: listed.length, ...(skipped.length > 0 ? { skipped } : {}), durationMs: durationMs() };
    }
    case 'stat': {
      const entry = transport === 'sftp' ? await sftpStat(job, request.path) : await shellStat(job, request.path);
      return { transport, entries: entry ? [entry] : [], durationMs: durationMs() };
    }
    default: {
      const outcomes: Outcome[] = transport === 'sftp' ? await sftpMutate(job, request) : await shellMutate(job, request);
      return { transport, outcomes: checkOutcomes(job, outcomes), durationMs: durationMs() };
    }
  }
}

/** Runs one toolbox request. A change that failed for some paths rejects with a PartialFailure (every outcome). */
export async function remote(ctx: RemoteContext, request: RemoteRequest): Promise<RemoteResult> {
  const job = new Job(ctx);
  const shown = showRemote(pathsOf(request)[0] ?? Buffer.alloc(0));
  try {
    checkRequest(request, job.host);
    if (ctx.transport === 'scp') return await run(job, 'scp', request, false);
    if (ctx.transport === 'sftp') return await run(job, 'sftp', request, false);
    // SFTP names paths as UTF-8: a path that is not goes over the shell.
    if (knowsTransport(ctx.channels, 'noSftp') || !pathsOf(request).every(isValidUtf8)) return await run(job, 'scp', request, true);
    try {
      return await run(job, 'sftp', request, true);
    } catch (error) {
      if (!sftpSubsystemRefused(error)) throw error;
      learnTransport(ctx.channels, 'noSftp');
      return await run(job, 'scp', request, true);
    }
  } catch (error) {
    if (isPartialFailure(error)) throw error;
    throw job.normalise(error, shown);
  } finally {
    job.dispose();
  }
}
