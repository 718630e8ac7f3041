/** Ends a running session at once when its connection is lost or its server floods the channel. */
import { TransferError } from '../../errors';

/** How often a running session checks the data waiting unread in its channel. */
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
export function watchConnection(
  channel: WatchedChannel | undefined,
  lease: { connectionError(): Error | undefined; onLost?(listener: (error: Error) => void): () => void },
  onLost: (error: Error) => void,
): () => void {
  let stopped = false;
  let flood: NodeJS.Timeout | undefined;
  let unsubscribe = (): void => undefined;
  const lost = (error: Error): void => {
    if (stopped) return;
    stop();
    onLost(error);
  };
  const check = (): void => {
    const error = lease.connectionError() ?? floodError(channel);
    if (error) lost(error);
  };
  // The pool tells of a lost connection the moment it knows (at once when it already is): nothing polls it.
  unsubscribe = lease.onLost?.(lost) ?? unsubscribe;
  if (stopped) unsubscribe();
  // Unread data piling up makes no event a watcher can hear without reading the channel itself: that one
  // condition is sampled, and only for a channel (an SFTP session is watched without any timer).
  if (channel && !stopped) {
    flood = setInterval(() => {
      const error = floodError(channel);
      if (error) lost(error);
    }, CHANNEL_CHECK_MS);
    flood.unref?.();
  }
  // A lease without onLost (a provider made for a test) is asked once its channel has closed.
  channel?.once('close', () => setImmediate(check));
  function stop(): void {
    stopped = true;
    clearInterval(flood);
    unsubscribe();
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
