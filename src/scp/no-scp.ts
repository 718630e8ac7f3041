/**
 * "The server has no usable scp" is not a failure of the transfer but the cue to use SFTP (transport
 * 'auto'): a missing program (exit 127), an SFTP-only account, a restricted shell, a login banner in
 * place of the protocol. Errors that mean this carry `noScp: true`.
 */
import { TransferError } from '../errors';

export type ScpProtocolError = TransferError & { noScp: boolean };

/** Texts that mean "there is no scp program to talk to" rather than "scp refused the path". */
export const NO_SCP_TEXT = /command not found|scp: not found|sftp connections only/i;

/** True for an error from ScpSource.ready() or ScpSink.next() saying the server has no usable scp. */
export function isNoScpError(error: unknown): error is ScpProtocolError {
  return error instanceof TransferError && (error as Partial<ScpProtocolError>).noScp === true;
}

export function withNoScp(error: TransferError, noScp: boolean): ScpProtocolError {
  return Object.assign(error, { noScp });
}
