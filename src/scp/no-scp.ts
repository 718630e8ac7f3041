/**
 * "The server has no usable scp" is not a failure of the transfer but the cue to use SFTP (transport
 * 'auto'). Only definite evidence counts: the shell's "command not found" (exit status 127), OpenSSH's
 * refusal for an SFTP-only account (ForceCommand internal-sftp: "This service allows sftp connections
 * only."). Anything else a server prints instead of the protocol (a banner, a hostile line) is a protocol
 * error (EPROTO): switching transports on it would let any server steer us. Errors that mean "no scp"
 * carry `noScp: true`.
 */
import { TransferError } from '../errors';

export type ScpProtocolError = TransferError & { noScp: boolean };

/**
 * Texts that mean "there is no scp program to talk to" rather than "scp refused the path": bash/zsh
 * "command not found", dash/busybox "scp: not found" (not followed by ": ...", which is scp naming a
 * missing file of that name), OpenSSH's SFTP-only refusal.
 */
export const NO_SCP_TEXT = /\bcommand not found(?::\s*scp\b|(?!:))|\bscp: not found(?!:)|sftp connections only/i;

/** The shell's exit status for a command it could not find. */
const COMMAND_NOT_FOUND = 127;

/** True when a failed start (exit status and whatever text the server gave) proves there is no scp. */
export function definitelyNoScp(exitCode: number | null | undefined, text: string): boolean {
  return exitCode === COMMAND_NOT_FOUND || NO_SCP_TEXT.test(text);
}

/** True for an error from ScpSource.ready() or ScpSink.next() saying the server has no usable scp. */
export function isNoScpError(error: unknown): error is ScpProtocolError {
  return error instanceof TransferError && (error as Partial<ScpProtocolError>).noScp === true;
}

export function withNoScp(error: TransferError, noScp: boolean): ScpProtocolError {
  return Object.assign(error, { noScp });
}
