/** Ends a running session at once when its connection is lost or its server floods the channel. */
import { TransferError } from '../errors';

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
