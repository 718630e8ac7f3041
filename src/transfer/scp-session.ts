/** Helpers shared by the SCP upload and download paths. */
import type { ClientChannel } from 'ssh2';

/** Ends a channel without caring whether it is still open (ssh2 ignores a second close). */
export function closeChannelQuietly(channel: ClientChannel): void {
  try {
    channel.close();
  } catch {
    // the channel or its connection is already gone
  }
}
