/**
 * Turns an opened exec channel or SFTP session into the lease its request receives. From birth the channel
 * has an error listener (an error becomes the lease's connection error instead of an unheard 'error' event),
 * frees its slot when it closes at the SSH level, and gets its connection checked when we close it first.
 */
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import { TransferError } from '../../errors';
import { cleanText } from '../../text';
import { channelShapeProblems, onChannelState, sftpShapeProblems } from '../ssh2-internals';
import type { LeaseConnection, ExecLease, SftpLease } from '../types';
import type { ChannelSlot } from './channel-slot';
import type { PooledConnection } from './pooled-connection';
import type { ChannelRequest } from './request-queue';

export interface LeaseContext {
  /** "user@host:port" and "host:port", for messages */
  readonly label: string;
  readonly where: string;
  /** the pool was closed: a channel that opens now is closed again */
  isClosed(): boolean;
  /** warns when the channel lacks the private fields the safeguards read */
  ssh2Shape(problems: string[]): void;
  /** how many jobs may use a connection's kept SFTP session at once */
  readonly maxSharedSftpJobs: number;
  /** something changed (a kept session opened): waiting requests may go on */
  changed(): void;
}

export function adoptExec(
  context: LeaseContext,
  connection: PooledConnection,
  slot: ChannelSlot,
  request: ChannelRequest,
  channel: ClientChannel,
  release: () => void,
): void {
  channel.on('error', (error: Error) => slot.lose(channelError(context, `command channel to ${context.label} failed`, error)));
  channel.stderr.on('error', () => undefined);
  channel.once('close', release);
  // ssh2 emits 'close' only after stdout was read to the end; the server frees the session (MaxSessions)
  // at the SSH-level close, so the slot follows that state too.
  onChannelState(channel, 'incoming', 'closed', release);
  connection.watchEarlyClose(channel);
  context.ssh2Shape(channelShapeProblems(channel));
  if (request.done || context.isClosed()) {
    // Aborted (or the pool closed) while the channel was opening.
    channel.close();
    return;
  }
  const lease: ExecLease = { channel, ...reportOf(slot) };
  request.grant(lease);
}

export function adoptSftp(
  context: LeaseContext,
  connection: PooledConnection,
  slot: ChannelSlot,
  request: ChannelRequest,
  sftp: SFTPWrapper,
  release: () => void,
): void {
  sftp.on('error', (error: Error) => slot.lose(channelError(context, `SFTP session with ${context.label} failed`, error)));
  // The connection forgets its kept session before the freed slot lets the pool place waiting requests.
  const kept = request.shared && !context.isClosed() ? connection.keep(sftp, slot, context.maxSharedSftpJobs) : undefined;
  sftp.once('close', release);
  connection.watchEarlyClose(sftp);
  context.ssh2Shape(sftpShapeProblems(sftp));
  const end = (): void => {
    try {
      sftp.end();
    } catch {
      // already closed
    }
  };
  if (kept) {
    // Kept even when its first job was aborted meanwhile: the jobs waiting for it take it now.
    if (request.done) connection.armIdleClose();
    else request.grant(connection.lendKept());
    context.changed();
    return;
  }
  if (request.done || context.isClosed()) {
    end();
    return;
  }
  const lease: SftpLease = { sftp, ...reportOf(slot), release: end };
  request.grant(lease);
}

/** The lease's view of its slot: the connection's error, and the event that tells it. */
function reportOf(slot: ChannelSlot): Required<LeaseConnection> {
  return {
    connectionError: () => slot.connectionError(),
    onLost: (listener) => slot.onLost(listener),
  };
}

function channelError(context: LeaseContext, summary: string, error: Error): TransferError {
  return new TransferError('ECONNRESET', summary, { host: context.where, detail: cleanText(error.message ?? String(error), 200) });
}
