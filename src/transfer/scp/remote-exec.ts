/**
 * Runs the small shell commands the SCP transport needs around the protocol itself (the scripts are in
 * shell-scripts.ts) and the remote toolbox's commands (src/remote/shell-run.ts, stdout streamed as
 * records): one exec channel per command, bounded output, a bounded wait, and the batching that keeps
 * every command under the server's argument cap.
 */
import type { ClientChannel } from 'ssh2';
import { TransferError } from '../../errors';
import { cleanText } from '../../text';
import { CLEANUP_TIMEOUT_MS, type Job } from '../job/job';
import { watchConnection } from '../job/watch-connection';

/**
 * Stdout handed on as it arrives instead of collected (a listing of any length, read as records): the
 * caller's own cap and its error for a command that prints past it.
 */
export interface StdoutStream {
  maxBytes: number;
  tooMuch: () => TransferError;
  /** one chunk; throwing stops the command with that error */
  onData: (chunk: Buffer) => void;
}

/** One command's output (stdout capped, or empty when streamed; stderr a cleaned tail). */
export interface ExecOutcome {
  exitCode: number | null;
  stdout: Buffer;
  stderr: string;
}

/** More stdout than any helper command prints (a probe prints one letter per path): beyond it, EPROTO. */
const MAX_STDOUT = 256 * 1024;
/** The stderr tail kept for error messages. */
const MAX_STDERR = 8 * 1024;
/** More stderr than a helper command has reason to print: beyond it, EPROTO. */
const MAX_STDERR_TOTAL = 1024 * 1024;
/** A command is one argument to the remote `sh -c`; Linux caps one argument at 128 KiB. */
export const MAX_COMMAND_BYTES = 60 * 1024;
/** The shortest overall limit of one helper command (see commandLimitMs). */
const MIN_COMMAND_LIMIT_MS = 10_000;

/**
 * How long one helper command may take in all, from its channel's opening to its exit: twice the idle
 * timeout, at least 10 s. The idle timer alone would let a server that trickles a byte now and then hold
 * the command for ever; these commands (file tests, renames, chmod) finish in well under a second. The wait
 * for a free channel is not counted (messages queue behind long transfers; the job's signal bounds it).
 */
export function commandLimitMs(job: Job): number {
  return Math.max(2 * job.idleTimeoutMs, MIN_COMMAND_LIMIT_MS);
}

/**
 * Runs `command` in an exec channel and collects its output. Rejects on stop (the job's error), when the
 * command gives no sign of life for the idle timeout or runs past commandLimitMs (ETIMEDOUT), prints more
 * than a helper command can (EPROTO), or its channel or connection fails.
 */
export async function runRemote(
  job: Job,
  command: Buffer,
  path?: string,
  limit?: { totalMs: number; idleMs: number },
  stream?: StdoutStream,
): Promise<ExecOutcome> {
  job.checkActive(path);
  let lease;
  try {
    // An open a frozen server never answers is the pool's to notice (it checks the connection).
    lease = await job.channels.exec(command, { signal: job.signal });
  } catch (error) {
    throw job.normalise(error, path, 'ECONNRESET');
  }
  const channel: ClientChannel = lease.channel;
  // A checksum of a big file runs longer than a helper and prints nothing until it is done: its caller says how long.
  const limitMs = limit?.totalMs ?? commandLimitMs(job);
  const idleMs = limit?.idleMs ?? job.idleTimeoutMs;
  const overLimit = (): TransferError =>
    new TransferError('ETIMEDOUT', `a remote command did not finish within ${limitMs} ms`, { host: job.host, path });
  return new Promise<ExecOutcome>((resolve, reject) => {
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = Buffer.alloc(0);
    let stderrBytes = 0;
    let exitCode: number | null = null;
    let settled = false;
    let idleTimer: NodeJS.Timeout | undefined;

    const finish = (error?: TransferError): void => {
      if (settled) return;
      settled = true;
      stopWatching();
      clearTimeout(limitTimer);
      job.signal.removeEventListener('abort', onAbort);
      if (idleTimer) clearTimeout(idleTimer);
      if (error) {
        try {
          channel.destroy();
        } catch {
          // already gone
        }
        reject(error);
      } else {
        resolve({ exitCode, stdout: Buffer.concat(stdout), stderr: cleanText(stderr, MAX_STDERR) });
      }
    };
    const armIdle = (): void => {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        finish(new TransferError('ETIMEDOUT', `remote command gave no sign of life for ${idleMs} ms`, { host: job.host, path }));
      }, idleMs);
    };
    const tooMuch = (what: string, cap: number): TransferError =>
      new TransferError('EPROTO', `the server sent more ${what} than a remote command prints`, { host: job.host, path, detail: `over ${cap} bytes` });
    const onAbort = (): void => finish(job.stopError(path));
    const stopWatching = watchConnection(channel, lease, (lost) => finish(job.normalise(lost, path, 'ECONNRESET')));
    const limitTimer = setTimeout(() => finish(overLimit()), limitMs);

    job.signal.addEventListener('abort', onAbort, { once: true });
    armIdle();
    channel.on('data', (chunk: Buffer) => {
      if (settled) return;
      armIdle();
      stdoutBytes += chunk.length;
      if (!stream) {
        if (stdoutBytes > MAX_STDOUT) return finish(tooMuch('output', MAX_STDOUT));
        stdout.push(chunk);
        return;
      }
      if (stdoutBytes > stream.maxBytes) return finish(stream.tooMuch());
      try {
        stream.onData(chunk);
      } catch (error) {
        finish(job.normalise(error, path));
      }
    });
    channel.stderr.on('data', (chunk: Buffer) => {
      if (settled) return;
      armIdle();
      stderrBytes += chunk.length;
      if (stderrBytes > MAX_STDERR_TOTAL) return finish(tooMuch('error output', MAX_STDERR_TOTAL));
      stderr = Buffer.concat([stderr, chunk]);
      if (stderr.length > MAX_STDERR) stderr = stderr.subarray(stderr.length - MAX_STDERR);
    });
    channel.on('exit', (code: number | null) => {
      exitCode = typeof code === 'number' ? code : null;
    });
    channel.on('error', (error: unknown) => finish(lease.connectionError() ?? job.normalise(error, path, 'ECONNRESET')));
    channel.stderr.on('error', () => undefined);
    // ssh2 repeats the exit status on 'close'. It is needed: when the exec reply, the exit status and
    // the close arrive in one socket read (a busy client), 'exit' fired before these listeners existed.
    channel.on('close', (code: unknown) => {
      if (exitCode === null && typeof code === 'number') exitCode = code;
      const lost = lease.connectionError();
      if (lost) finish(lost.withContext({ path }));
      else finish();
    });
    channel.end();
  });
}

export function bytes(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** Splits items into commands of at most MAX_COMMAND_BYTES: prefix + items + suffix. */
export function batchCommands(prefix: Buffer, items: Buffer[], suffix: Buffer): { command: Buffer; count: number }[] {
  const batches: { command: Buffer; count: number }[] = [];
  let parts: Buffer[] = [];
  let length = prefix.length + suffix.length;
  for (const item of items) {
    if (parts.length > 0 && length + item.length > MAX_COMMAND_BYTES) {
      batches.push({ command: Buffer.concat([prefix, ...parts, suffix]), count: parts.length });
      parts = [];
      length = prefix.length + suffix.length;
    }
    parts.push(item);
    length += item.length;
  }
  if (parts.length > 0) batches.push({ command: Buffer.concat([prefix, ...parts, suffix]), count: parts.length });
  return batches;
}

/** Reads "<MARKER>chars\n" from the end of stdout; a login banner may come before it. */
export function markedReply(stdout: Buffer, marker: string): string | undefined {
  const at = stdout.lastIndexOf(marker);
  if (at < 0) return undefined;
  const rest = stdout.subarray(at + marker.length);
  const end = rest.indexOf(0x0a);
  return (end < 0 ? rest : rest.subarray(0, end)).toString('latin1');
}

/** The job for the commands that tidy up after it failed or stopped: their own CLEANUP_TIMEOUT_MS, not its signal. */
export function afterTheJob(job: Job): Job {
  return Object.create(job, {
    signal: { value: AbortSignal.timeout(CLEANUP_TIMEOUT_MS) },
    checkActive: { value: () => undefined },
  }) as Job;
}
