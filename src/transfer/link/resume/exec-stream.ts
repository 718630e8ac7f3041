/**
 * A file's bytes through a plain shell command, for resuming over servers that speak SCP but not SFTP:
 * the bytes after an offset come from `tail -c +N` (read with back-pressure: the channel pauses while
 * `write` runs), and the rest of an upload goes to `cat >> part`. Bounded like every remote step: the
 * idle timeout, the job's stop signal, the connection's loss.
 */
import { TransferError } from '../../../errors';
import { codeForServerMessage } from '../../../scp';
import { cleanText } from '../../../text';
import type { Job } from '../../job/job';
import { closeChannelQuietly, openScpChannel } from '../../scp/scp-channel';
import { watchConnection } from '../../job/watch-connection';

const MAX_STDERR = 8 * 1024;

export interface ExecStreamOptions {
  /** the command's output, awaited chunk by chunk */
  write?: (chunk: Buffer) => void | Promise<void>;
  /** the command's input, sent with back-pressure and then ended */
  input?: AsyncIterable<Buffer>;
  /** bytes of input the channel took */
  onSent?: (n: number) => void;
}

/** Runs `command`; resolves once it exited with status 0 (its output all handed to `write`). */
export async function execStream(job: Job, command: Buffer, shown: string, options: ExecStreamOptions): Promise<void> {
  job.checkActive(shown);
  const { lease, channel } = await openScpChannel(job, command, shown);
  let stderr = Buffer.alloc(0);
  let exitCode: number | null = null;
  let idle: NodeJS.Timeout | undefined;
  let fail: (error: Error) => void = () => undefined;
  const failed = new Promise<never>((_resolve, reject) => {
    fail = reject;
  });
  failed.catch(() => undefined);
  const arm = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => fail(new TransferError('ETIMEDOUT', `the remote command gave no sign of life for ${job.idleTimeoutMs} ms`, { host: job.host, path: shown })), job.idleTimeoutMs);
  };
  const onAbort = (): void => fail(job.stopError(shown));
  job.signal.addEventListener('abort', onAbort, { once: true });
  const stopWatching = watchConnection(channel, lease, (lost) => fail(job.normalise(lost, shown, 'ECONNRESET')));
  channel.stderr.on('data', (chunk: Buffer) => {
    stderr = Buffer.concat([stderr, chunk]);
    if (stderr.length > MAX_STDERR) stderr = stderr.subarray(stderr.length - MAX_STDERR);
  });
  channel.on('exit', (code: unknown) => {
    if (typeof code === 'number') exitCode = code;
  });
  const closed = new Promise<void>((resolve) => {
    channel.on('close', (code: unknown) => {
      if (exitCode === null && typeof code === 'number') exitCode = code;
      resolve();
    });
  });
  const write = options.write;
  // 'close' may come while output is still waiting in the paused stream: the end of the output is its own event.
  const ended = new Promise<void>((resolve) => channel.once('end', resolve));
  let writing: Promise<void> = Promise.resolve();
  channel.on('data', (chunk: Buffer) => {
    arm();
    if (!write) return;
    channel.pause();
    writing = Promise.resolve()
      .then(() => write(chunk))
      .then(
        () => void channel.resume(),
        (error: unknown) => fail(error as Error),
      );
  });
  arm();
  try {
    if (options.input) await Promise.race([send(channel, options.input, options.onSent, arm), failed]);
    channel.end();
    await Promise.race([Promise.all([closed, ended]), failed]);
    await Promise.race([writing, failed]);
    const lost = lease.connectionError();
    if (lost) throw lost;
    if (exitCode !== 0) {
      const said = cleanText(stderr, MAX_STDERR);
      throw new TransferError(said ? codeForServerMessage(said) : 'EPROTO', 'the remote command for the resumed part failed', {
        host: job.host,
        path: shown,
        detail: said || `exit status ${String(exitCode)}`,
      });
    }
  } catch (error) {
    closeChannelQuietly(channel);
    throw job.normalise(error, shown, 'ECONNRESET');
  } finally {
    clearTimeout(idle);
    stopWatching();
    job.signal.removeEventListener('abort', onAbort);
  }
}

async function send(
  channel: { write(chunk: Buffer): boolean; once(event: 'drain', listener: () => void): unknown },
  input: AsyncIterable<Buffer>,
  onSent: ((n: number) => void) | undefined,
  arm: () => void,
): Promise<void> {
  for await (const chunk of input) {
    // ssh2 takes the bytes now or queues them; a full window waits for 'drain' (the server's window grows).
    if (!channel.write(chunk)) await new Promise<void>((resolve) => channel.once('drain', resolve));
    arm();
    onSent?.(chunk.length);
  }
}
