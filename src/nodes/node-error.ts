/**
 * An error as the flow nodes hand it to `done(err)`: one of the documented codes on `err.code` (Catch
 * nodes branch on msg.error.code) and a message from the node's catalog that names host and path.
 */
import { TRANSFER_ERROR_CODES, isTransferError, meaningOfErrno, type TransferErrorCode } from '../errors';
import { cleanText } from '../text';
import { InputError } from './input-error';
import type { NodeAPI } from './red-types';

export type Namespace = 'scp-upload' | 'scp-download' | 'scp-remote';

/** The error a Catch node receives: `message` translated, `code` copied by Node-RED into msg.error.code. */
export interface NodeError extends Error {
  code: TransferErrorCode;
}

function codeOf(error: unknown): TransferErrorCode {
  if (isTransferError(error)) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  if ((TRANSFER_ERROR_CODES as readonly unknown[]).includes(code)) return code as TransferErrorCode;
  // A system error that escaped the engine unwrapped still gets the code of its situation (EMFILE: EIO).
  return meaningOfErrno(error)?.code ?? 'EPROTO';
}

export function toNodeError(
  RED: NodeAPI,
  namespace: Namespace,
  error: unknown,
  context: { host: string; path: string },
): NodeError {
  const code = codeOf(error);
  let detail: string;
  // An input error's catalog text already says what its summary says: only the user's value follows.
  if (error instanceof InputError) detail = error.detail ?? '';
  else if (isTransferError(error)) detail = error.detail ? `${error.summary}: ${error.detail}` : error.summary;
  else detail = cleanText(error instanceof Error ? error.message : String(error));
  const values = {
    host: isTransferError(error) && error.host ? error.host : context.host,
    path: isTransferError(error) && error.path ? error.path : context.path,
    detail,
  };
  // A situation with a reason (a name too long) reads the same whichever transport or step met it.
  const key = error instanceof InputError ? error.messageKey : isTransferError(error) && error.reason ? error.reason : code;
  const nodeError = new Error(RED._(`${namespace}.errors.${key}`, values)) as NodeError;
  // An own property: Node-RED copies `code` from the error onto msg.error.code for Catch nodes.
  nodeError.code = code;
  return nodeError;
}
