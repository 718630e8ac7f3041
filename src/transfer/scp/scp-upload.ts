/**
 * The SCP side of an upload (the walk itself is walk/upload-walk.ts): everything goes through ONE
 * `scp -t -d <existing directory>` channel whose records carry names we chose, with `atomic` temporary
 * names or staging directories that helper commands (scp/remote-exec.ts) then move into place: one `mv`
 * per directory for staged files, one command for all renames. One probe command tells beforehand what
 * exists at the target. A single file takes one channel in all: probe, scp and rename folded into one
 * command (folded-upload.ts).
 */
import type { ClientChannel } from 'ssh2';
import { TransferError, isTransferError } from '../../errors';
import { ScpSource, buildScpCommand, codeForServerMessage, definitelyNoScp, isNoScpError } from '../../scp';
import { cleanText } from '../../text';
import type { ExecLease } from '../../ssh/types';
import type { Job } from '../job/job';
import type { Leftover } from '../leftovers/journal';
import type { LoneTarget, LoneUpload } from '../walk/lone-upload';
import { directoryRefused, fileRefused } from '../walk/refusal';
import type { FileStep, RemoteKind, Step } from '../walk/upload-layout';
import type {
  DirectoryFinish,
  EnterDirectory,
  PlaceOutcome,
  Placement,
  SendFile,
  Unavailable,
  UploadSession,
  UploadTransport,
} from '../walk/upload-transport';
import { showRemote, splitRemote } from '../remote-path';
import { recordSafeName } from '../leftovers/temp-name';
import { watchConnection } from '../job/watch-connection';
import { closeChannelQuietly, openScpChannel, watchClose } from './scp-channel';
import { PLACED_LETTERS, PLACED_MARKER, STOP_RECORD, foldedUploadCommand } from './folded-upload';
import { afterTheJob, commandLimitMs } from './remote-exec';
import {
  PROBE_MARKER,
  finishRemoteDirectories,
  moveStagedFiles,
  probeAnswer,
  probeRemote,
  removeRemoteQuietly,
  renameOutcomeOf,
  renameRemote,
} from './shell-scripts';

/** How long a failed upload waits for the server to close its scp channel before removing temporaries. */
const CHANNEL_CLOSE_WAIT_MS = 1_000;

function recordSafe(name: Buffer): boolean {
  return !name.some((byte) => byte < 0x20 || byte === 0x7f);
}

function hasDirectories(steps: Step[]): boolean {
  return steps.some((step) => step.kind !== 'file');
}

interface Session {
  lease: ExecLease;
  channel: ClientChannel;
  source: ScpSource;
  stopWatching(): void;
  closeWatch: ReturnType<typeof watchClose>;
  /** a single file sent straight to its path (the server then ignores the record's name) */
  lone?: FileStep;
  shown: string;
  /** the command also probed and, atomic, places the file itself (folded-upload.ts) */
  folded?: Folded;
}

interface Folded {
  /** where the command sends the file, as its probe's answer decided */
  target: LoneTarget | undefined;
  atomic: boolean;
  /** the file's data was sent and acknowledged: from here on the shell places it when scp ends */
  sent: boolean;
  /** atomic: the placing part's letter (PLACED_LETTERS) and the stderr tail, read when the session ends */
  placed?: { letter: string | undefined; stderr: string };
}

export class ScpUploadTransport implements UploadTransport {
  readonly name = 'scp' as const;
  private session: Session | undefined;

  constructor(private readonly job: Job) {}

  async probe(paths: Buffer[], shown: string, lone?: LoneUpload): Promise<RemoteKind[] | Unavailable> {
    const folded = lone ? foldedUploadCommand(paths, lone) : undefined;
    if (lone && folded) return this.probeFolded(folded, paths.length, lone, shown);
    const probed = await probeRemote(this.job, paths, shown);
    return probed;
  }

  /** One channel for the probe and the content session of a single file (folded-upload.ts). */
  private async probeFolded(command: Buffer, count: number, lone: LoneUpload, shown: string): Promise<RemoteKind[] | Unavailable> {
    const session = await this.start(command, shown);
    // Bounded in all like the separate probe (commandLimitMs): a server trickling a banner byte by byte must not hold it.
    const limitMs = commandLimitMs(this.job);
    const limit = setTimeout(() => {
      session.source.destroy(new TransferError('ETIMEDOUT', `a remote command did not finish within ${limitMs} ms`, { host: this.job.host, path: shown }));
    }, limitMs);
    const said = await session.source.preamble(PROBE_MARKER).finally(() => clearTimeout(limit));
    const kinds = said.answer === undefined ? undefined : probeAnswer(said.answer.toString('latin1'), count);
    if (kinds === undefined) {
      // As for the separate probe: only proof (the SFTP-only refusal, "not found", exit 127) means "no shell".
      if (said.answer === undefined && definitelyNoScp(said.exitCode, `${said.said} ${said.stderr}`)) return 'unavailable';
      throw new TransferError('EPROTO', 'the server gave an unexpected reply to a file test', {
        host: this.job.host,
        path: shown,
        detail: said.answer === undefined ? said.stderr || said.said : cleanText(said.answer, 200),
      });
    }
    session.folded = { target: kinds[0] === 'directory' ? lone.intoDirectory : lone.atPath, atomic: lone.atomic, sent: false };
    return kinds;
  }

  /** Opens an scp channel for `command` as this transport's session. */
  private async start(command: string | Buffer, shown: string): Promise<Session> {
    const job = this.job;
    const { lease, channel } = await openScpChannel(job, command, shown);
    const source = new ScpSource(
      { stdout: channel, stdin: channel, stderr: channel.stderr },
      { idleTimeoutMs: job.idleTimeoutMs, signal: job.signal, host: job.host, path: shown },
    );
    const stopWatching = watchConnection(channel, lease, (error) => source.destroy(error));
    this.session = { lease, channel, source, stopWatching, closeWatch: watchClose(channel), shown };
    return this.session;
  }

  /** A record line cannot carry a control byte: such a name keeps its own temporary name and rename. */
  canStage(name: Buffer): boolean {
    return recordSafe(name);
  }

  async open({ steps, targetDir, preserve }: UploadSession, shown: string): Promise<void | Unavailable> {
    // A single file is sent straight to its (temporary or final) path: the server then ignores the
    // record's name, so any final name works, even one with a newline that no record line can carry.
    const lone = steps.length === 1 && steps[0].kind === 'file' ? steps[0] : undefined;
    const folded = this.session?.folded;
    if (folded && !(lone && folded.target?.wirePath.equals(lone.wirePath))) {
      // A plan the folded command did not foresee (the walker builds it from the same answer): end that session unused.
      this.abandonUnused();
    }
    if (!this.session) {
      const command = lone
        ? buildScpCommand(lone.wirePath, { role: 'sink', preserve })
        : buildScpCommand(targetDir, { role: 'sink', recursive: hasDirectories(steps), preserve, targetIsDirectory: true });
      await this.start(command, shown);
    }
    const session = this.started();
    if (lone) session.lone = lone;
    try {
      await session.source.ready();
    } catch (error) {
      // With transport 'scp' the session's own (cleaned) explanation is the better error.
      if (isNoScpError(error) && this.job.ctx.transport === 'auto') return 'unavailable';
      throw error;
    }
  }

  private abandonUnused(): void {
    if (!this.session) return;
    this.session.source.destroy();
    this.teardown();
    this.session = undefined;
  }

  private started(): Session {
    if (!this.session) throw new TransferError('EPROTO', 'the scp session is not open', { host: this.job.host });
    return this.session;
  }

  async enterDirectory(dir: EnterDirectory): Promise<void> {
    const entered = await this.started().source.enterDirectory({ name: dir.name, mode: dir.mode, ...(dir.times ? { times: dir.times } : {}) });
    if (!entered.ok) {
      const refused = entered.error.withContext({ host: this.job.host, path: this.shownDir(dir) });
      throw dir.firstFile ? fileRefused(refused, 'create', dir.firstFile, this.job) : directoryRefused(refused, dir.path, this.job);
    }
  }

  async leaveDirectory(dir: EnterDirectory): Promise<void> {
    const left = await this.started().source.leaveDirectory();
    if (!left.ok) throw left.error.withContext({ host: this.job.host, path: this.shownDir(dir) });
  }

  /** Errors about a staging directory name the directory the files belong in. */
  private shownDir(dir: EnterDirectory): string {
    return showRemote(dir.staging ? splitRemote(dir.path).dir : dir.path);
  }

  async sendFile(send: SendFile): Promise<void> {
    const session = this.started();
    const { step, file } = send;
    let dataSent = false;
    const next = send.next;
    const result = await session.source.sendFile({
      name: session.lone === step ? recordSafeName(step.wireName) : step.wireName,
      mode: file.mode,
      size: file.size,
      ...(send.times ? { times: send.times } : {}),
      content: send.content,
      ...(next && !session.lone ? { then: { name: next.step.wireName, mode: next.step.file.mode, size: next.content.length, ...(next.times ? { times: next.times } : {}) } } : {}),
      onBytes: (n: number) => {
        // The server took the record (a refusal comes before any data).
        if (!dataSent) send.accepted();
        dataSent = true;
        send.onBytes(n);
      },
    });
    if (!result.ok) {
      const refused = (isTransferError(result.error) ? result.error : this.job.normalise(result.error)).withContext({
        host: this.job.host,
        path: showRemote(step.finalPath),
      });
      throw fileRefused(refused, dataSent ? 'write' : 'create', step.finalPath, this.job);
    }
    if (session.folded) session.folded.sent = true;
  }

  async close(): Promise<void> {
    const session = this.started();
    const placing = session.folded?.atomic === true;
    const end = await session.source.finish(placing ? PLACED_MARKER : undefined);
    this.teardown();
    if (placing && session.folded) session.folded.placed = { letter: end.epilogue, stderr: end.stderr };
    if (end.exitCode !== 0) {
      const code = end.stderr ? codeForServerMessage(end.stderr) : 'EPROTO';
      throw new TransferError(code, `remote scp ended with exit status ${end.exitCode ?? 'unknown'}`, {
        host: this.job.host,
        path: session.shown,
        detail: end.stderr,
      });
    }
  }

  async abandon(failure: TransferError, wait: boolean): Promise<boolean> {
    const session = this.session;
    if (!session) return true;
    // A folded command places the file once scp ends well: unless its data was acknowledged, make scp fail.
    if (session.folded?.atomic && !session.folded.sent && session.channel.writable) session.channel.write(STOP_RECORD);
    session.source.destroy();
    closeChannelQuietly(session.channel);
    if (!wait) return true;
    // After a failure the removal waits for the server's close (see watchClose). A server that went
    // silent (idle timeout) will not close either: no wait for it then.
    const silent = !this.job.signal.aborted && failure.code === 'ETIMEDOUT';
    return session.closeWatch.closed(silent ? 0 : CHANNEL_CLOSE_WAIT_MS);
  }

  async place(placements: Placement[], replace: boolean, shown: string, cleanup: boolean): Promise<PlaceOutcome[]> {
    const folded = this.session?.folded;
    // The folded command placed (or removed) the lone file itself. When its answer was never read (the job
    // failed before), the separate rename below finds the temporary moved or removed, or places it: harmless.
    if (folded?.placed && placements.length === 1 && folded.target?.wirePath.equals(placements[0].from)) {
      return [this.foldedOutcome(folded.placed, shown)];
    }
    const job = cleanup ? afterTheJob(this.job) : this.job;
    const stagings = new Map<string, { parent: Buffer; path: Buffer; files: { name: Buffer }[] }>();
    const renames: { from: Buffer; to: Buffer; index: number }[] = [];
    placements.forEach((placement, index) => {
      if (!placement.staging) return void renames.push({ from: placement.from, to: placement.to, index });
      const key = placement.staging.path.toString('latin1');
      const staging = stagings.get(key) ?? { ...placement.staging, files: [] };
      staging.files.push({ name: splitRemote(placement.from).base });
      stagings.set(key, staging);
    });
    const outcomes: PlaceOutcome[] = placements.map(() => ({ kind: 'ok' }));
    // After a failure a staging directory may still hold an unfinished file: it is removed with the temporaries.
    if (stagings.size > 0) await moveStagedFiles(job, [...stagings.values()], shown, !cleanup);
    if (renames.length > 0) {
      const result = await renameRemote(job, renames, replace, shown);
      result.outcomes.forEach((outcome, at) => {
        outcomes[renames[at].index] =
          outcome === 'ok' || outcome === 'exists' || outcome === 'directory'
            ? { kind: outcome }
            : { kind: 'failed', code: result.stderr ? codeForServerMessage(result.stderr) : 'EACCES', detail: result.stderr };
      });
    }
    return outcomes;
  }

  private foldedOutcome(placed: NonNullable<Folded['placed']>, shown: string): PlaceOutcome {
    const { letter, stderr } = placed;
    if (letter === undefined || !PLACED_LETTERS.test(letter)) {
      throw new TransferError('EPROTO', 'the server gave an unexpected reply to a rename', {
        host: this.job.host,
        path: shown,
        detail: stderr || (letter === undefined ? 'no answer' : cleanText(letter, 200)),
      });
    }
    // x: scp failed and the shell removed the temporary; n: there was none to place (never so for a sent file).
    if (letter === 'x' || letter === 'n') return { kind: 'failed', code: 'EPROTO', detail: stderr || 'the server did not keep the uploaded file' };
    const outcome = renameOutcomeOf(letter);
    return outcome === 'failed' ? { kind: 'failed', code: stderr ? codeForServerMessage(stderr) : 'EACCES', detail: stderr } : { kind: outcome };
  }

  finishDirectories(directories: DirectoryFinish[], shown: string): Promise<void> {
    return finishRemoteDirectories(this.job, directories, shown);
  }

  removeQuietly(items: Leftover[]): Promise<boolean> {
    return removeRemoteQuietly(this.job, items);
  }

  connectionError(): TransferError | undefined {
    return this.session?.lease.connectionError();
  }

  private teardown(): void {
    if (!this.session) return;
    this.session.stopWatching();
    closeChannelQuietly(this.session.channel);
  }

  release(): void {
    this.teardown();
  }
}
