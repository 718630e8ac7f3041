/**
 * The one error type every layer throws. Flows branch on `code` (documented in each node's help),
 * people read `message`, which names the host and the path but never a secret. Text that came from a
 * server goes through `cleanText` (src/text.ts) before it lands in `detail`.
 */
export const TRANSFER_ERROR_CODES = [
  'ENOENT', // remote or local path does not exist
  'EACCES', // permission denied (remote or local)
  'EISDIR', // a directory where a file was expected
  'ENOTDIR', // a file where a directory was expected
  'EEXIST', // target exists and the overwrite policy is "fail"
  'EAUTH', // authentication failed, or a key/passphrase could not be used
  'EHOSTKEY', // the server's host key is not the one we trust
  'ETIMEDOUT', // connect, handshake, idle or overall deadline passed
  'ECONNREFUSED', // nothing listens on host:port
  'ENOTFOUND', // the host name does not resolve
  'EHOSTUNREACH', // no route to the host
  'ECONNRESET', // the connection dropped during the work
  'EPROTO', // the server broke the protocol, or has no usable scp/sftp
  'ETOOBIG', // a size cap was exceeded
  'EABORTED', // the node was closed (redeploy, shutdown) while the work ran
  'EINVAL', // the message or the configuration is not usable (empty path, NUL byte, bad payload)
] as const;

export type TransferErrorCode = (typeof TRANSFER_ERROR_CODES)[number];

export interface TransferErrorDetails {
  /** host[:port] the work was aimed at */
  host?: string;
  /** the remote or local path concerned, as the user gave it or as the server named it (cleaned) */
  path?: string;
  /** extra text, usually the server's own words, already cleaned */
  detail?: string;
  cause?: unknown;
}

export class TransferError extends Error {
  readonly code: TransferErrorCode;
  readonly host?: string;
  readonly path?: string;
  readonly detail?: string;
  /** the message without the host/path/detail decoration */
  readonly summary: string;

  constructor(code: TransferErrorCode, summary: string, details: TransferErrorDetails = {}) {
    super(composeMessage(summary, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'TransferError';
    this.code = code;
    this.summary = summary;
    if (details.host !== undefined) this.host = details.host;
    if (details.path !== undefined) this.path = details.path;
    if (details.detail !== undefined) this.detail = details.detail;
  }

  /** The same error with host/path filled in where the thrower did not know them. */
  withContext(context: { host?: string; path?: string }): TransferError {
    if ((this.host ?? context.host) === this.host && (this.path ?? context.path) === this.path) return this;
    const copy = new TransferError(this.code, this.summary, {
      host: this.host ?? context.host,
      path: this.path ?? context.path,
      detail: this.detail,
      cause: this.cause,
    });
    copy.stack = this.stack;
    return copy;
  }
}

function composeMessage(summary: string, { host, path, detail }: TransferErrorDetails): string {
  const where = [host !== undefined ? `host ${host}` : '', path !== undefined ? `path ${path}` : '']
    .filter(Boolean)
    .join(', ');
  return `${summary}${where ? ` (${where})` : ''}${detail ? `: ${detail}` : ''}`;
}

export function isTransferError(value: unknown): value is TransferError {
  return value instanceof TransferError;
}

/** Maps Node's socket error codes onto ours; anything unknown becomes ECONNRESET. */
export function codeFromSocketError(error: unknown): TransferErrorCode {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'ECONNREFUSED';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return 'ENOTFOUND';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return 'EHOSTUNREACH';
    case 'ETIMEDOUT':
      return 'ETIMEDOUT';
    default:
      return 'ECONNRESET';
  }
}
