/**
 * Opens the channel a request asked for on a connection with a free slot, and decides what a failed open
 * means. The channel never opened, so nothing ran and asking again is safe:
 * - the connection went away under the request: re-queued (a new connection takes it);
 * - the server refused with "open failed" while others are open (OpenSSH's MaxSessions): re-queued, and
 *   the connection learns the server's limit and pauses briefly, because sshd frees a session a moment
 *   after its close;
 * - a refused SFTP subsystem: asked once more (Dropbear under load sometimes fails to start sftp-server);
 * each up to `maxOpenRetries` times; any other refusal fails the request.
 */
import { TransferError } from '../../errors';
import { cleanText } from '../../text';
import type { ChannelSlot } from './channel-slot';
import { adoptExec, adoptSftp, type LeaseContext } from './leases';
import type { PooledConnection } from './pooled-connection';
import type { ChannelRequest } from './request-queue';

export interface OpenContext extends LeaseContext {
  readonly maxOpenRetries: number;
  /** a request whose channel could not open goes back to the head of the queue */
  requeue(request: ChannelRequest): void;
  debug(message: string): void;
}

type OpenError = Error & { reason?: unknown };

export function openChannel(context: OpenContext, connection: PooledConnection, slot: ChannelSlot, request: ChannelRequest): void {
  const stopWatching = connection.watchOpen();
  const release = (): void => {
    stopWatching();
    connection.release(slot);
  };
  const failed = (error: OpenError): void => {
    stopWatching();
    if (request.shared) connection.keptOpening = false;
    onOpenFailure(context, connection, request, error, release);
  };
  try {
    if (request.kind === 'exec') {
      // ssh2 sends a Buffer command as raw bytes; its types only say string.
      connection.ssh.client.exec(request.command as string, (error, channel) => {
        if (error) return failed(error);
        stopWatching();
        adoptExec(context, connection, slot, request, channel, release);
      });
    } else {
      connection.ssh.client.sftp((error, sftp) => {
        if (error) return failed(error);
        stopWatching();
        adoptSftp(context, connection, slot, request, sftp, release);
      });
    }
  } catch (error) {
    failed(error as OpenError);
  }
}

function onOpenFailure(context: OpenContext, connection: PooledConnection, request: ChannelRequest, error: OpenError, release: () => void): void {
  if (request.done || context.isClosed()) {
    release();
    request.fail(new TransferError('EABORTED', `the connection to ${context.label} was closed`, { host: context.where }));
    return;
  }
  const message = error.message ?? String(error);
  // ssh2 says "Not connected" / "No response from server" when the connection went away under the request.
  const dead = connection.ssh.closed || connection.retiring || /not connected|no response from server/i.test(message);
  const othersOpen = connection.channels - 1;
  const serverFull = !dead && isOpenFailed(error) && othersOpen > 0;
  // Adjust the connection before the slot frees, so the pump that follows already sees it.
  if (dead) connection.broken = true;
  if (serverFull) learnServerLimit(connection, othersOpen, request.openRetries);
  const sftpRefusedOnce = !dead && request.kind === 'sftp' && request.openRetries === 0 && /unable to start subsystem/i.test(message);
  if ((dead || serverFull || sftpRefusedOnce) && request.openRetries < context.maxOpenRetries) {
    request.openRetries += 1;
    const why = dead ? 'connection lost' : serverFull ? 'server refused a channel (MaxSessions)' : 'server refused the SFTP subsystem';
    context.debug(`${why} on ${context.label}: request re-queued (retry ${request.openRetries})`);
    context.requeue(request);
    release();
    return;
  }
  release();
  const what = request.kind === 'sftp' ? 'an SFTP session' : 'a command channel';
  request.fail(
    new TransferError(dead ? 'ECONNRESET' : 'EPROTO', `${context.label} refused to open ${what}`, {
      host: context.where,
      detail: cleanText(message, 200),
    }),
  );
}

/**
 * What is open now is what the server allows; and a session it just closed may still count for a moment,
 * so no new channel on this connection for a little while (longer on each retry of the same request).
 */
function learnServerLimit(connection: PooledConnection, othersOpen: number, retries: number): void {
  connection.serverLimit = Math.max(1, Math.min(connection.serverLimit, othersOpen));
  connection.pausedUntil = Math.max(connection.pausedUntil, Date.now() + Math.min(1_000, 25 * (retries + 1)));
}

/** OpenSSH answers a session beyond MaxSessions with reason 2 "open failed". */
function isOpenFailed(error: OpenError): boolean {
  return error.reason === 2 || /open failed/i.test(error.message ?? '');
}
