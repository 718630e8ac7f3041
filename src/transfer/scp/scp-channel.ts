/** Helpers shared by the SCP upload and download paths. */
import type { ClientChannel } from 'ssh2';
import type { ExecLease } from '../../ssh/types';
import type { Job } from '../job/job';

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

