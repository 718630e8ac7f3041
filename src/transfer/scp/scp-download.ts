/**
 * Download over SCP: one `scp -f` channel. The sink validates every record the server sends (names,
 * sizes, order, the requested names, caps) and this module hands them to the download walker
 * (walk/download-walk.ts) as entries: C → file, D → directory, E → leave.
 */
import { TransferError, type TransferErrorCode } from '../../errors';
import { DEFAULT_RECORD_LIMITS, ScpSink, buildScpCommand, buildScpGlobCommand, codeForServerMessage, isNoScpError, type SinkExpectation } from '../../scp';
import type { ClientChannel } from 'ssh2';
import type { ExecLease } from '../../ssh/types';
import { isValidUtf8 } from '../../text';
import type { Job } from '../job/job';
import type { DownloadPlan } from '../walk/download-walk';
import type { AfterOutcome, DownloadTransport, FetchedState, OpenedDownload, RemoteEntry } from '../walk/download-transport';
import { afterActionError, changedAfterFetch } from '../walk/pull-policy';
import { joinRemote, showRemote } from '../remote-path';
import { afterActionRemote } from './after-action-remote';
import { closeChannelQuietly, openScpChannel } from './scp-channel';
import { watchConnection } from '../job/watch-connection';
import type { AfterAction, DownloadRequest } from '../types';
import { readRefused } from '../walk/refusal';

/**
 * `scp -f` for the plan: a glob's literal parts quoted, its wildcards left to the remote shell. Always
 * with -p: the times reach the result as they do over SFTP; only "preserve" applies them locally.
 */
function sourceCommand(request: DownloadRequest, plan: DownloadPlan): Buffer {
  if (plan.select.kind !== 'glob') return buildScpCommand(plan.remote, { role: 'source', recursive: request.recursive, preserve: true });
  return buildScpGlobCommand(plan.dir, plan.select.glob, { recursive: request.recursive, preserve: true });
}

/**
 * Answers sent ahead of the records when the walker never skips (overwrite "skip" and "only changed" answer
 * a file with a refusal): about ten small files' worth, so the server streams instead of waiting a round
 * trip per record and trailer (three per file with -p). A failure still ends the session at once.
 */
const ANSWERS_AHEAD = 32;

function mayAnswerAhead(request: DownloadRequest): boolean {
  // (a survey and "minimum age"/"stable size" decline files too)
  return request.overwrite !== 'skip' && request.onlyChanged === undefined && request.settle === undefined && request.survey !== true;
}

/** The sink's records as the walker's entries. */
class ScpEntries implements DownloadTransport {
  readonly used = 'scp';
  /** the first reply proved there is no usable scp (see openScpDownload) */
  noScp = false;
  private first = true;

  constructor(
    private readonly job: Job,
    private readonly sink: ScpSink,
    private readonly lease: ExecLease,
    private readonly channel: ClientChannel,
  ) {}

  async next(): Promise<RemoteEntry | null> {
    let entry;
    try {
      entry = await this.sink.next();
    } catch (error) {
      if (this.first && isNoScpError(error)) this.noScp = true;
      throw error;
    }
    this.first = false;
    if (entry === null) {
      await this.sink.finish();
      return null;
    }
    if (entry.type === 'endDirectory') return { kind: 'leave' };
    const times = entry.times ? { times: entry.times } : {};
    if (entry.type === 'directory') return { kind: 'directory', name: entry.name, mode: entry.mode, ...times };
    return { kind: 'file', name: entry.name, size: entry.size, mode: entry.mode, ...times };
  }

  receive(write: (chunk: Buffer) => void | Promise<void>): Promise<void> {
    return this.sink.receive(write);
  }

  skip(reason: string): Promise<void> {
    return this.sink.skip(reason);
  }

  enter(): Promise<void> {
    return this.sink.accept();
  }

  /** One shell command per directory (batched like the renames), after the `scp -f` channel is closed. */
  async afterAction(action: Exclude<AfterAction, { kind: 'keep' }>, dir: Buffer, names: Buffer[], fetched: FetchedState[]): Promise<AfterOutcome[]> {
    closeChannelQuietly(this.channel);
    const destination = action.kind === 'move' ? Buffer.from(action.directory, 'utf8') : undefined;
    const paths = names.map((name, index) => ({ path: joinRemote(dir, name), name, ...fetched[index] }));
    const { outcomes, stderr } = await afterActionRemote(
      this.job,
      destination ? { kind: 'move', destination } : { kind: 'delete' },
      paths,
      showRemote(destination ?? dir),
    );
    return outcomes.map((outcome, index): AfterOutcome => {
      const name = names[index];
      if (outcome === 'failed') return { error: afterActionError(this.job, action, dir, name, failureIn(stderr, name)) };
      if (outcome === 'changed') return { error: changedAfterFetch(this.job, dir, name) };
      if (typeof outcome === 'object') return { error: changedAfterFetch(this.job, dir, name, outcome.keptAs) };
      if (!destination) return { removed: true };
      const moved = outcome === 0 ? name : Buffer.concat([name, Buffer.from(`.${outcome}`)]);
      return { movedTo: joinRemote(destination, moved) };
    });
  }

  connectionError(): Error | undefined {
    return this.lease.connectionError();
  }
}

/** Opens `scp -f` for the plan: the download walker's transport over SCP (see OpenedDownload). */
export async function openScpDownload(job: Job, request: DownloadRequest, plan: DownloadPlan): Promise<OpenedDownload> {
  const { shown } = plan;
  if (!isValidUtf8(plan.base)) {
    throw new TransferError('EINVAL', 'SCP downloads need a remote name that is valid UTF-8', { host: job.host, path: shown });
  }
  const command = sourceCommand(request, plan);
  const expect: SinkExpectation = plan.select;
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
      // The walker holds the same caps; the sink's own stop a hostile server at the record that breaks them.
      limits: { ...DEFAULT_RECORD_LIMITS, ...plan.caps },
      answersAhead: mayAnswerAhead(request) ? ANSWERS_AHEAD : 0,
    },
  );
  const stopWatching = watchConnection(channel, lease, (error) => sink.destroy(error));
  const entries = new ScpEntries(job, sink, lease, channel);
  return {
    transport: entries,
    failed(error: unknown): unknown {
      sink.destroy();
      // The first reply decides whether the server speaks SCP at all: the sink flags proof of a missing
      // scp (exit 127, "not found", the "sftp connections only" refusal) as noScp; then 'auto' gives SFTP
      // its turn and 'scp' says so plainly. A banner or a hostile first record (a `../x` name) stays the
      // protocol error it is instead of a quiet retry.
      if (entries.noScp) return 'unavailable';
      return capAtItsPath(inServerWords(notRegularAsEisdir(error as TransferError, request), request, job), plan.dir, shown);
    },
    close(): void {
      stopWatching();
      closeChannelQuietly(channel);
    },
  };
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
 * that path, in the words SFTP's path uses for the same refusal (walk/refusal.ts).
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

/**
 * The sink names the entry that broke a cap by its path below the requested one's directory: the error
 * names it in full, as the walker's own checks do.
 */
function capAtItsPath(error: TransferError, dir: Buffer, shown: string): TransferError {
  // (the sink's errors carry the requested path; a local file system's "file too large" does not)
  if (error.code !== 'ETOOBIG' || error.detail === undefined || error.path !== shown) return error;
  return new TransferError('ETOOBIG', error.summary, { host: error.host, path: showRemote(joinRemote(dir, Buffer.from(error.detail))), cause: error });
}

/** The reason in a tool's complaint about one file ("rm: cannot remove 'x': Permission denied"); stderr arrives cleaned (newlines as `\\n`). */
function reasonFor(stderr: string, name: Buffer): string | undefined {
  const lines = stderr.split(/\n|\\n/u).filter((line) => line.trim() !== '');
  const line = lines.find((text) => text.includes(name.toString('utf8'))) ?? lines[lines.length - 1];
  if (line === undefined) return undefined;
  return line.slice(line.lastIndexOf(': ') + 2).trim() || undefined;
}

/** The failure of one file's after-action, from the shell's stderr: its reason, and the code that reason implies. */
function failureIn(stderr: string, name: Buffer): { reason: string; code: TransferErrorCode } | undefined {
  const reason = reasonFor(stderr, name);
  return reason ? { reason, code: codeForServerMessage(reason) } : undefined;
}
