/** Helpers shared by the SCP upload and download paths. */
import type { ClientChannel } from 'ssh2';
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

/** How often a running session checks whether the pool saw its connection die. */
const CONNECTION_CHECK_MS = 200;

/**
 * When the connection under a channel dies, the session may be waiting for a write to drain or for
 * a reply that will never come, and ssh2 does not always close the channel (a socket that ended but
 * never closed leaves it open): end the session at once with the connection's error instead of
 * letting the idle timeout decide. Watches both the channel's close and the lease's own report.
 * A channel that closes normally (the remote command exited) is left to the session. Returns a stop
 * function; call it when the session is over.
 */
export function watchConnection(channel: { once(event: 'close', listener: () => void): unknown } | undefined, lease: { connectionError(): Error | undefined }, onLost: (error: Error) => void): () => void {
  let stopped = false;
  const check = (): void => {
    if (stopped) return;
    const lost = lease.connectionError();
    if (lost) {
      stop();
      onLost(lost);
    }
  };
  const timer = setInterval(check, CONNECTION_CHECK_MS);
  timer.unref?.();
  channel?.once('close', () => setImmediate(check));
  function stop(): void {
    stopped = true;
    clearInterval(timer);
  }
  return stop;
}
