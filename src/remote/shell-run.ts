/**
 * Runs one toolbox command and hands its NUL-separated records to a reader as they arrive, so a listing
 * that never ends is stopped by the reader's entry cap, by the byte cap or by the time limit, whichever
 * comes first, and the channel is destroyed. Text before the marker (a login banner) is skipped; stderr
 * is kept as a cleaned tail for error messages.
 */
import type { ClientChannel } from 'ssh2';
import { TransferError } from '../errors';
import { cleanText } from '../text';
import type { Job } from '../transfer/job/job';
import { watchConnection } from '../transfer/job/watch-connection';
import { REMOTE_MARKER } from './shell-scripts';

const MAX_STDERR = 8 * 1024;
/** Before the marker: a banner of a few lines, not a stream. */
const MAX_PREAMBLE = 64 * 1024;
/** The shortest overall limit of one command. */
const MIN_LIMIT_MS = 20_000;

export interface RecordReader {
  /** the tier the server announced: 's' (stat) or 'l' (the fallback) */
  tier(letter: string): void;
  /** one record (its kind letter first, without the NUL); throwing stops the command with that error */
  record(record: Buffer): void;
}

export interface ShellRunLimits {
  /** all the stdout the command may print */
  maxBytes: number;
}

/** How long one toolbox command may take in all: four idle timeouts, at least 20 s. */
export function shellLimitMs(job: Job): number {
  return Math.max(4 * job.idleTimeoutMs, MIN_LIMIT_MS);
}

/** Runs `command`; resolves with the exit code and stderr once the channel closed and every record was read. */
export async function runRecords(job: Job, command: Buffer, path: string, reader: RecordReader, limits: ShellRunLimits): Promise<{ exitCode: number | null; stderr: string; sawMarker: boolean; stdoutHead: string }> {
  job.checkActive(path);
  let lease;
  try {
    lease = await job.channels.exec(command, { signal: job.signal });
  } catch (error) {
    throw job.normalise(error, path, 'ECONNRESET');
  }
  const channel: ClientChannel = lease.channel;
  const limitMs = shellLimitMs(job);
  return new Promise((resolve, reject) => {
    let settled = false;
    let exitCode: number | null = null;
    let stderr = Buffer.alloc(0);
    let total = 0;
    let preamble: Buffer | undefined = Buffer.alloc(0);
    let stdoutHead = '';
    /** the record being received, in pieces (a stat block can be long: joined once, at its NUL) */
    let pieces: Buffer[] = [];
    let idleTimer: NodeJS.Timeout | undefined;

    const finish = (error?: TransferError): void => {
      if (settled) return;
      settled = true;
      stopWatching();
      clearTimeout(limitTimer);
      if (idleTimer) clearTimeout(idleTimer);
      job.signal.removeEventListener('abort', onAbort);
      if (error) {
        try {
          channel.destroy();
        } catch {
          // already gone
        }
        reject(error);
      } else resolve({ exitCode, stderr: cleanText(stderr, MAX_STDERR), sawMarker: preamble === undefined, stdoutHead });
    };
    const armIdle = (): void => {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = setTimeout(
        () => finish(new TransferError('ETIMEDOUT', `the remote command gave no sign of life for ${job.idleTimeoutMs} ms`, { host: job.host, path })),
        job.idleTimeoutMs,
      );
    };
    const onAbort = (): void => finish(job.stopError(path));
    const stopWatching = watchConnection(channel, lease, (lost) => finish(job.normalise(lost, path, 'ECONNRESET')));
    const limitTimer = setTimeout(
      () => finish(new TransferError('ETIMEDOUT', `the remote command did not finish within ${limitMs} ms`, { host: job.host, path })),
      limitMs,
    );

    const deliver = (data: Buffer): void => {
      let at = 0;
      while (at < data.length) {
        const nul = data.indexOf(0, at);
        if (nul < 0) {
          pieces.push(data.subarray(at));
          return;
        }
        pieces.push(data.subarray(at, nul));
        const record = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
        pieces = [];
        at = nul + 1;
        reader.record(record);
      }
    };
    const onStdout = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limits.maxBytes) {
        throw new TransferError('EPROTO', 'the server printed more than a listing of the allowed entries can hold', { host: job.host, path, detail: `over ${limits.maxBytes} bytes` });
      }
      if (preamble === undefined) return deliver(chunk);
      preamble = Buffer.concat([preamble, chunk]);
      const at = preamble.indexOf(REMOTE_MARKER);
      // The marker, its tier letter and the NUL that ends them.
      if (at >= 0 && preamble.length >= at + REMOTE_MARKER.length + 2) {
        const tier = String.fromCharCode(preamble[at + REMOTE_MARKER.length] as number);
        const rest = preamble.subarray(at + REMOTE_MARKER.length + 2);
        preamble = undefined;
        reader.tier(tier);
        deliver(rest);
        return;
      }
      stdoutHead = cleanText(preamble, 200);
      if (preamble.length > MAX_PREAMBLE) throw new TransferError('EPROTO', 'the server printed something else instead of running the command', { host: job.host, path, detail: stdoutHead });
    };

    job.signal.addEventListener('abort', onAbort, { once: true });
    armIdle();
    channel.on('data', (chunk: Buffer) => {
      if (settled) return;
      armIdle();
      try {
        onStdout(chunk);
      } catch (error) {
        finish(job.normalise(error, path));
      }
    });
    channel.stderr.on('data', (chunk: Buffer) => {
      armIdle();
      stderr = Buffer.concat([stderr, chunk]);
      if (stderr.length > MAX_STDERR) stderr = stderr.subarray(stderr.length - MAX_STDERR);
    });
    channel.on('exit', (code: number | null) => {
      exitCode = typeof code === 'number' ? code : null;
    });
    channel.on('error', (error: unknown) => finish(lease.connectionError() ?? job.normalise(error, path, 'ECONNRESET')));
    channel.stderr.on('error', () => undefined);
    channel.on('close', (code: unknown) => {
      if (exitCode === null && typeof code === 'number') exitCode = code;
      const lost = lease.connectionError();
      if (lost) return finish(lost.withContext({ path }));
      if (pieces.length > 0 && preamble === undefined) {
        return finish(new TransferError('EPROTO', 'the remote command ended in the middle of a record', { host: job.host, path }));
      }
      finish();
    });
    channel.end();
  });
}
