/**
 * Download over SCP: one `scp -f` channel; every record the server sends is validated by the sink
 * (names, sizes, order, caps) and then placed by this module inside the user's target only.
 */
import { TransferError } from '../../errors';
import { DEFAULT_RECORD_LIMITS, ScpSink, buildScpCommand, buildScpGlobCommand, isNoScpError, type SinkExpectation, type SinkLimits } from '../../scp';
import { isValidUtf8 } from '../../text';
import { Glob } from '../../glob';
import type { Job } from '../job';
import { ensureLocalDirectory, insideTarget } from '../local/local-files';
import { PlacementSet, finishDirectory, placeFile, type OpenDirectory } from '../local/place';
import { joinRemote, remoteText, showRemote, splitRemote } from '../remote-path';
import { readRefused } from '../plan/refusal';
import { NO_SCP, closeChannelQuietly, openScpChannel } from './channel';
import { watchConnection } from '../watch-connection';
import { fileCap } from '../plan/download-target';
import { DEFAULT_MAX_DIRECTORIES, type DownloadRequest, type TransferResult } from '../types';



function sinkLimits(request: DownloadRequest): SinkLimits {
  const limits = request.limits;
  const totalCap = request.target.kind === 'buffer' ? Math.min(limits.maxTotalBytes, request.target.maxBytes) : limits.maxTotalBytes;
  return {
    ...DEFAULT_RECORD_LIMITS,
    maxFileBytes: fileCap(request),
    maxTotalBytes: totalCap,
    maxFiles: request.target.kind === 'directory' ? limits.maxFiles : Math.min(limits.maxFiles, 1),
    maxDepth: limits.maxDepth,
    maxDirectories: limits.maxDirectories ?? DEFAULT_MAX_DIRECTORIES,
  };
}

export async function scpDownload(job: Job, request: DownloadRequest, remote: Buffer): Promise<TransferResult | typeof NO_SCP> {
  const shown = showRemote(remote);
  const { dir, base } = splitRemote(remote);
  if (base.length === 0 || base.equals(Buffer.from('.')) || base.equals(Buffer.from('..'))) {
    throw new TransferError('EINVAL', 'the remote path does not name a file or directory', { host: job.host, path: shown });
  }
  if (!isValidUtf8(base)) {
    throw new TransferError('EINVAL', 'SCP downloads need a remote name that is valid UTF-8', { host: job.host, path: shown });
  }
  const baseText = base.toString('utf8');
  let command: Buffer;
  let expect: SinkExpectation;
  if (request.glob) {
    expect = { kind: 'glob', pattern: baseText };
    command = buildScpGlobCommand(dir, Glob.parse(baseText, job.host), { recursive: request.recursive, preserve: request.preserve });
  } else {
    expect = request.recursive ? { kind: 'tree', name: baseText } : { kind: 'exact', name: baseText };
    command = buildScpCommand(remote, { role: 'source', recursive: request.recursive, preserve: request.preserve });
  }

  const { lease, channel } = await openScpChannel(job, command, shown);
  const sink = new ScpSink(
    { stdout: channel, stdin: channel, stderr: channel.stderr },
    {
      idleTimeoutMs: job.idleTimeoutMs,
      signal: job.signal,
      host: job.host,
      path: shown,
      expect,
      recursive: request.recursive,
      limits: sinkLimits(request),
    },
  );
  const stopWatching = watchConnection(channel, lease, (error) => sink.destroy(error));
  const placements = new PlacementSet();
  const directories: OpenDirectory[] = [];
  let first = true;
  try {
    for (;;) {
      let entry;
      try {
        entry = await sink.next();
      } catch (error) {
        // The first reply decides whether the server speaks SCP at all: the sink flags proof of a
        // missing scp (exit 127, "not found", the "sftp connections only" refusal) as noScp; then 'auto'
        // gives SFTP its turn and 'scp' says so plainly. A banner or a hostile first record (a `../x`
        // name) stays the protocol error it is instead of a quiet retry.
        if (first && isNoScpError(error)) return NO_SCP;
        throw error;
      }
      first = false;
      if (entry === null) break;
      if (entry.type === 'endDirectory') {
        const finished = directories.pop();
        if (finished) await finishDirectory(job, request, finished);
        continue;
      }
      const remoteEntry = joinRemote(dir, [...entry.parents, entry.name].join('/'));
      if (entry.type === 'directory') {
        if (request.target.kind !== 'directory') {
          throw new TransferError('EISDIR', 'the remote path is a directory', { host: job.host, path: showRemote(remoteEntry) });
        }
        const local = insideTarget(request.target.path, [...entry.parents, entry.name], job);
        const created = await ensureLocalDirectory(local, job);
        if (created) job.directories.push(local);
        directories.push({ path: local, mode: entry.mode & 0o777, times: entry.times, created });
        await sink.accept();
        continue;
      }
      await placeFile(
        job,
        request,
        {
          components: [...entry.parents, entry.name],
          remotePath: remoteText(remoteEntry),
          mode: entry.mode,
          size: entry.size,
          ...(entry.times ? { times: entry.times } : {}),
        },
        { pump: (write) => sink.receive(write), skip: () => sink.skip('file exists, skipped') },
        placements,
      );
    }
    await sink.finish();
  } catch (error) {
    sink.destroy();
    closeChannelQuietly(channel);
    await placements.discardAll();
    throw capAtItsPath(inServerWords(notRegularAsEisdir(job.normalise(lease.connectionError() ?? error, shown), request), request, job), dir, shown);
  } finally {
    stopWatching();
    closeChannelQuietly(channel);
  }
  return job.result('scp');
}


/**
 * OpenSSH's `scp -f` answers a directory requested without -r with "not a regular file"; for the user
 * that is "a directory where a file was expected" (a FIFO or device gets the same text and is refused
 * just the same).
 */
function notRegularAsEisdir(error: TransferError, request: DownloadRequest): TransferError {
  if (error.code !== 'EPROTO' || request.recursive || !/not a regular file/iu.test(error.message)) return error;
  return new TransferError('EISDIR', 'the remote path is a directory (or not a regular file)', {
    host: error.host,
    path: error.path,
    detail: error.detail,
    cause: error,
  });
}

/**
 * The server's scp names the path it could not read ("scp: PATH: Permission denied"): the error names
 * that path, in the words SFTP's path uses for the same refusal (plan/refusal.ts).
 */
function inServerWords(error: TransferError, request: DownloadRequest, job: Job): TransferError {
  const first = error.detail?.split('; ')[0];
  const match = first === undefined ? null : /^scp: (.+): ([^:]+)$/u.exec(first);
  if (!match || !(error.code === 'ENOENT' || error.code === 'EACCES' || error.code === 'EISDIR')) return error;
  if (request.glob && error.code === 'ENOENT' && error.path !== undefined && match[1] === error.path) {
    return new TransferError('ENOENT', 'no remote file matches the pattern', { host: error.host, path: error.path, cause: error });
  }
  return readRefused(error.code, match[1], match[2], job, error);
}

/** The sink names the entry that broke a cap by its path below the requested one's directory: the error names it in full, as over SFTP. */
function capAtItsPath(error: TransferError, dir: Buffer, shown: string): TransferError {
  // (the sink's errors carry the requested path; a local file system's "file too large" does not)
  if (error.code !== 'ETOOBIG' || error.detail === undefined || error.path !== shown) return error;
  return new TransferError('ETOOBIG', error.summary, { host: error.host, path: showRemote(joinRemote(dir, Buffer.from(error.detail))), cause: error });
}
