/**
 * The one error type every layer throws. Flows branch on `code` (documented in each node's help),
 * people read `message`, which names the host and the path but never a secret. Text that came from a
 * server goes through `cleanText` (src/text.ts) before it lands in `detail`.
 */
import { cleanText } from './text';

export const TRANSFER_ERROR_CODES = [
  'ENOENT', // remote or local path does not exist
  'EACCES', // permission denied (remote or local)
  'EISDIR', // a directory where a file was expected
  'ENOTDIR', // a file where a directory was expected
  'EEXIST', // target exists and the overwrite policy is "fail"
  'EAUTH', // authentication failed, or a key/passphrase could not be used
  'EHOSTKEY', // the server's host key is not the one we trust
  'ETIMEDOUT', // connect, handshake, idle or overall deadline passed
  'ECONNREFUSED', // nothing listens on host:port (or on the proxy's, when the message names the proxy)
  'ENOTFOUND', // the host name does not resolve
  'EHOSTUNREACH', // no route to the host
  'ECONNRESET', // the connection dropped during the work
  'EPROTO', // the server broke the protocol, or has no usable scp/sftp
  'ETOOBIG', // a size cap was exceeded (ours, or the file system's largest file)
  'ENOSPC', // no space left (or the disk quota is used up), on the server or on this machine
  'EIO', // the system failed the step: input/output error, too many open files, out of memory (retry later)
  'EABORTED', // the node was closed (redeploy, shutdown) while the work ran
  'EPROXY', // the proxy refused to connect to the device (its rules, its reply code)
  'EPROXYAUTH', // the proxy refused the proxy user name/password, or wants credentials that were not given
  'EINVAL', // the message or the configuration is not usable (empty path, NUL byte, a name too long, bad payload)
  'ECHECKSUM', // verify: the sha256 of the copy differs from the source's (or could not be computed remotely)
  'ECHANGED', // a file changed while it was copied: a local source while sent, a remote file while fetched (then kept)
  'EWORKER', // the transfer engine's thread stopped while the work ran (a bug); the next message starts it again
] as const;

export type TransferErrorCode = (typeof TRANSFER_ERROR_CODES)[number];

/**
 * A situation the code alone does not tell apart, named so the flow nodes can say it in words of its own
 * (a catalog key) and say it the same way whichever transport or step met it.
 */
export const TRANSFER_ERROR_REASONS = [
  'nameTooLong', // a name in the path is longer than the file system allows (SCP, SFTP or local)
  'notRegularFile', // a local path that a download must not write through: symlink, FIFO, socket, device
] as const;

export type TransferErrorReason = (typeof TRANSFER_ERROR_REASONS)[number];

export interface TransferErrorDetails {
  /** host[:port] the work was aimed at */
  host?: string;
  /** the remote or local path concerned, as the user gave it or as the server named it (cleaned) */
  path?: string;
  /** extra text, usually the server's own words, already cleaned */
  detail?: string;
  cause?: unknown;
  reason?: TransferErrorReason;
}

export class TransferError extends Error {
  readonly code: TransferErrorCode;
  readonly host?: string;
  readonly path?: string;
  readonly detail?: string;
  readonly reason?: TransferErrorReason;
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
    // A server's own words may name the situation ("mv: ...: File name too long"), whichever step met it.
    const reason = details.reason ?? reasonInText(code, details.detail);
    if (reason !== undefined) this.reason = reason;
  }

  /** The same error with host/path filled in where the thrower did not know them. */
  withContext(context: { host?: string; path?: string }): TransferError {
    if ((this.host ?? context.host) === this.host && (this.path ?? context.path) === this.path) return this;
    const copy = new TransferError(this.code, this.summary, {
      host: this.host ?? context.host,
      path: this.path ?? context.path,
      detail: this.detail,
      cause: this.cause,
      reason: this.reason,
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

// ------------------------------------------------------------------------------------ system errors
//
// One table for what the operating system said, wherever it said it: an errno from a local file call, the
// strerror text a server's scp prints on stderr, or an SFTP status. The same situation gets the same code
// on every path, so a flow can branch on it without knowing which transport or step met it.

interface SystemErrorRow {
  /** errno names (and Node's own ERR_ codes) from local calls */
  errnos: readonly string[];
  /** the strerror wording a server prints ("scp: /x: No space left on device"); absent: errno only */
  text?: RegExp;
  code: TransferErrorCode;
  reason?: TransferErrorReason;
}

const SYSTEM_ERRORS: readonly SystemErrorRow[] = [
  { errnos: ['ENOENT'], text: /no such file or directory/i, code: 'ENOENT' },
  // sftp-server reports a symlink loop as "no such file": the same here, on both transports.
  { errnos: ['ELOOP'], text: /too many levels of symbolic links/i, code: 'ENOENT' },
  { errnos: ['EACCES', 'EPERM', 'EROFS'], text: /permission denied|operation not permitted|read-only file system/i, code: 'EACCES' },
  { errnos: ['EISDIR'], text: /is a directory/i, code: 'EISDIR' },
  { errnos: ['ENOTDIR'], text: /not a directory/i, code: 'ENOTDIR' },
  { errnos: ['EEXIST'], code: 'EEXIST' },
  { errnos: ['ENOSPC', 'EDQUOT'], text: /no space left|disk quota exceeded/i, code: 'ENOSPC' },
  { errnos: ['EFBIG', 'ERR_FS_FILE_TOO_LARGE'], text: /file too large|file size limit/i, code: 'ETOOBIG' },
  { errnos: ['ENAMETOOLONG'], text: /file name too long/i, code: 'EINVAL', reason: 'nameTooLong' },
  { errnos: ['EINVAL', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE'], code: 'EINVAL' },
  { errnos: ['ECONNRESET', 'EPIPE', 'ECONNABORTED'], code: 'ECONNRESET' },
  { errnos: ['ETIMEDOUT'], code: 'ETIMEDOUT' },
  {
    errnos: ['EIO', 'EMFILE', 'ENFILE', 'ENOMEM', 'ENOBUFS', 'EAGAIN', 'EBUSY', 'ETXTBSY', 'ESTALE', 'EXDEV'],
    text: /input\/output error|too many open files|cannot allocate memory|no buffer space/i,
    code: 'EIO',
  },
];

export interface SystemErrorMeaning {
  code: TransferErrorCode;
  reason?: TransferErrorReason;
}

function meaningOf(row: SystemErrorRow): SystemErrorMeaning {
  return row.reason === undefined ? { code: row.code } : { code: row.code, reason: row.reason };
}

/** The errno of an error (`ENOSPC`), or a Node code the table knows (`ERR_INVALID_ARG_TYPE`), if it has one. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (/^E[A-Z0-9]+$/.test(code)) return code;
  return SYSTEM_ERRORS.some((row) => row.errnos.includes(code)) ? code : undefined;
}

/**
 * What a local system error means; an errno outside the table is a system failure (EIO, with the system's
 * own words in the detail), and an error without any errno is undefined (the caller knows best).
 */
export function meaningOfErrno(error: unknown): SystemErrorMeaning | undefined {
  const errno = errnoOf(error);
  if (errno === undefined) return undefined;
  const row = SYSTEM_ERRORS.find((candidate) => candidate.errnos.includes(errno));
  return row ? meaningOf(row) : { code: 'EIO' };
}

/** What a server's error text (strerror wording) means; undefined when it names no system error we know. */
export function meaningOfServerText(text: string): SystemErrorMeaning | undefined {
  const row = SYSTEM_ERRORS.find((candidate) => candidate.text?.test(text) === true);
  return row ? meaningOf(row) : undefined;
}

/** The reason the server's text names, when the table gives it the same code the thrower chose. */
function reasonInText(code: TransferErrorCode, text: string | undefined): TransferErrorReason | undefined {
  if (text === undefined) return undefined;
  const meaning = meaningOfServerText(text);
  return meaning?.code === code ? meaning.reason : undefined;
}

/** The longest name component (in bytes) most file systems allow, and the longest path (PATH_MAX). */
const NAME_MAX_BYTES = 255;
const PATH_MAX_BYTES = 4096;

/** True when the path has a component, or a total length, no common file system accepts. */
export function hasOverlongName(path: string): boolean {
  if (Buffer.byteLength(path) >= PATH_MAX_BYTES) return true;
  return path.split('/').some((component) => Buffer.byteLength(component) > NAME_MAX_BYTES);
}

/** The words the nodes and the library show for a situation that reads the same whatever step met it. */
const REASON_SUMMARIES: Partial<Record<TransferErrorReason, string>> = {
  nameTooLong: 'a name in the path is too long for the file system',
};

/**
 * The TransferError for a system error met during `summary`: the code from the table, and, for a situation
 * with a reason, that reason's own summary (so a long name reads the same over SCP, SFTP and locally).
 */
export function systemError(meaning: SystemErrorMeaning, summary: string, details: TransferErrorDetails): TransferError {
  if (meaning.reason === undefined) return new TransferError(meaning.code, summary, details);
  return new TransferError(meaning.code, REASON_SUMMARIES[meaning.reason] ?? summary, { ...details, reason: meaning.reason });
}

/** A local file call failed: the code from its errno (EIO when it has none we know), the system's words as detail. */
export function localSystemError(error: unknown, summary: string, details: { host?: string; path: string }): TransferError {
  if (isTransferError(error)) return error.withContext(details);
  const detail = cleanText(error instanceof Error ? error.message : String(error));
  return systemError(meaningOfErrno(error) ?? { code: 'EIO' }, summary, { ...details, detail, cause: error });
}
