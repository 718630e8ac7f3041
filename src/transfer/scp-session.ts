/** Helpers shared by the SCP upload and download paths. */
import type { ClientChannel } from 'ssh2';
import type { ExecLease } from '../ssh/types';

/** Ends a channel without caring whether it is still open (ssh2 ignores a second close). */
export function closeChannelQuietly(channel: ClientChannel): void {
  try {
    channel.close();
  } catch {
    // the channel or its connection is already gone
  }
}

/**
 * When the connection under a channel dies, the session may be waiting for a write to drain or for
 * a reply that will never come: end it at once with the connection's error instead of letting the
 * idle timeout decide. A channel that closes normally (the remote scp exited) is left to the session,
 * which reads the exit status and the last error text itself.
 */
export function failOnConnectionLoss(channel: ClientChannel, lease: ExecLease, destroy: (error: Error) => void): void {
  channel.once('close', () => {
    setImmediate(() => {
      const lost = lease.connectionError();
      if (lost) destroy(lost);
    });
  });
}
