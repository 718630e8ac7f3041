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
  let settled = false;
  const arm = (): void => {
    clearTimeout(idle);
    // a write finishing after the command failed must not start a timer nobody clears
    if (settled) return;
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
  // While `write` runs (a bandwidth limit may hold it for seconds) the channel is paused by us: that is no
  // silence of the server, so the idle timer stops and starts anew once the bytes are written.
  channel.on('data', (chunk: Buffer) => {
    arm();
    if (!write) return;
    channel.pause();
    clearTimeout(idle);
    writing = Promise.resolve()
      .then(() => write(chunk))
      .then(
        () => {
          arm();
          channel.resume();
        },
        (error: unknown) => fail(error as Error),
      );
  });
  let stopSending: () => void = () => undefined;
  const sendingStopped = new Promise<void>((resolve) => {
    stopSending = resolve;
  });
  void closed.then(() => stopSending());
  arm();
  try {
    if (options.input) {
      const hooks = { arm, pause: () => clearTimeout(idle), stopped: sendingStopped, onSent: options.onSent };
      await Promise.race([send(channel, options.input, hooks), failed]);
    }
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
    // send() may wait for a 'drain' that never comes now, and the input holds a local file open: end both.
    stopSending();
    endInput(options.input);
    closeChannelQuietly(channel);
    throw job.normalise(error, shown, 'ECONNRESET');
  } finally {
    settled = true;
    clearTimeout(idle);
    stopWatching();
    job.signal.removeEventListener('abort', onAbort);
  }
}

/** Ends an input still being read (an async generator's finally closes its file), quietly. */
function endInput(input: AsyncIterable<Buffer> | undefined): void {
  const generator = input as Partial<AsyncGenerator<Buffer>> | undefined;
  if (typeof generator?.return === 'function') generator.return(undefined).catch(() => undefined);
}

interface SendHooks {
  /** (re)starts the idle timer: the server took bytes */
  arm: () => void;
  /** stops it while the next chunk is awaited here (read from disk, held by the bandwidth limit) */
  pause: () => void;
  /** resolves once the channel closed or the command failed: no 'drain' is worth waiting for then */
  stopped: Promise<void>;
  onSent: ((n: number) => void) | undefined;
}

async function send(
  channel: { write(chunk: Buffer): boolean; once(event: 'drain', listener: () => void): unknown; removeListener(event: 'drain', listener: () => void): unknown },
  input: AsyncIterable<Buffer>,
  hooks: SendHooks,
): Promise<void> {
  let stopped = false;
  void hooks.stopped.then(() => {
    stopped = true;
  });
  const iterator = input[Symbol.asyncIterator]();
  try {
    for (;;) {
      hooks.pause();
      const next = await iterator.next();
      hooks.arm();
      if (next.done === true || stopped) return;
      const chunk = next.value;
      // ssh2 takes the bytes now or queues them; a full window waits for 'drain' (the server's window grows).
      if (!channel.write(chunk)) {
        let onDrain: () => void = () => undefined;
        const drained = new Promise<void>((resolve) => {
          onDrain = resolve;
          channel.once('drain', onDrain);
        });
        await Promise.race([drained, hooks.stopped]);
        channel.removeListener('drain', onDrain);
        if (stopped) return;
      }
      hooks.arm();
      hooks.onSent?.(chunk.length);
    }
  } finally {
    await iterator.return?.();
  }
}
