/** Helpers shared by the SCP upload and download paths. */
import type { ClientChannel } from 'ssh2';
import { TransferError } from '../errors';
import type { ExecLease } from '../ssh/types';
import type { Job } from './job';

/**
 * Runs an scp command in a channel from the job's pool. A failure to get the channel names the remote
 * path; the channel's own 'error' events are swallowed here because the SCP session reports what went
 * wrong (an unheard 'error' event would otherwise take the whole process down).
 */
export async function openScpChannel(job: Job, command: string | Buffer, shown: string): Promise<{ lease: ExecLease; channel: ClientChannel }> {
  let lease: ExecLease;
  try {
    lease = await job.channels.exec(command, { signal: job.signal });
  } catch (error) {
    throw job.normalise(error, shown, 'ECONNRESET');
  }
  const channel = lease.channel;
  channel.on('error', () => undefined);
  channel.stderr.on('error', () => undefined);
  return { lease, channel };
}

/** Ends a channel without caring whether it is still open (ssh2 ignores a second close). */
export function closeChannelQuietly(channel: ClientChannel): void {
  try {
    channel.close();
  } catch {
    // the channel or its connection is already gone
  }
}

/**
 * Watches for the server's close of a channel from the moment it opens. After a failure the remote scp may
 * still be reading what was already sent (a file record, say) and create its file after a clean-up that
 * did not wait: sshd closes the channel only once that data has reached scp's input, so temporaries removed
 * after the close stay removed. `closed(limitMs)` resolves true when the close came within the limit.
 */
export function watchClose(channel: { once(event: 'close', listener: () => void): unknown }): { closed(limitMs: number): Promise<boolean> } {
  const seen = new Promise<true>((resolve) => channel.once('close', () => resolve(true)));
  return {
    closed(limitMs: number): Promise<boolean> {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), limitMs);
      });
      return Promise.race([seen, late]).finally(() => clearTimeout(timer));
    },
  };
}

/** How often a running session checks its connection and its channel's unread data. */
const CHANNEL_CHECK_MS = 50;

/**
 * ssh2 grants a channel a 2 MiB window and drops data only when the window is exactly 0, so a server
 * that ignores SSH flow control can drive the window negative and keep pushing: the data piles up unread
 * in the channel's stream while the session is busy elsewhere. Far more than a window's worth unread is
 * that attack (or a broken server), never a slow reader.
 */
export const MAX_UNREAD_CHANNEL_BYTES = 16 * 1024 * 1024;

/** The parts of a channel that are watched: its close, and the data waiting unread in it. */
export interface WatchedChannel {
  once(event: 'close', listener: () => void): unknown;
  readonly readableLength?: number;
}

/**
 * When the connection under a channel dies, the session may be waiting for a write to drain or for
 * a reply that will never come, and ssh2 does not always close the channel (a socket that ended but
 * never closed leaves it open): end the session at once with the connection's error instead of
 * letting the idle timeout decide. Watches the channel's close, the lease's own report, and the unread
 * data a server that ignores flow control piles up (EPROTO). A channel that closes normally (the remote
 * command exited) is left to the session. Returns a stop function; call it when the session is over.
 */
export function watchConnection(channel: WatchedChannel | undefined, lease: { connectionError(): Error | undefined }, onLost: (error: Error) => void): () => void {
  let stopped = false;
  const check = (): void => {
    if (stopped) return;
    const lost = lease.connectionError() ?? floodError(channel);
    if (lost) {
      stop();
      onLost(lost);
    }
  };
  const timer = setInterval(check, CHANNEL_CHECK_MS);
  timer.unref?.();
  channel?.once('close', () => setImmediate(check));
  function stop(): void {
    stopped = true;
    clearInterval(timer);
  }
  return stop;
}

function floodError(channel: WatchedChannel | undefined): TransferError | undefined {
  const unread = channel?.readableLength ?? 0;
  if (unread <= MAX_UNREAD_CHANNEL_BYTES) return undefined;
  return new TransferError('EPROTO', 'the server ignored SSH flow control', {
    detail: `${unread} bytes arrived beyond the channel window`,
  });
}
