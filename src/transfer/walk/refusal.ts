/**
 * One wording for a server that refuses a file or a directory of an upload, whichever transport met it:
 * the same code, summary, path (the final name the user asked for, never a temporary one) and the
 * system's own words. SCP reports "scp: <path>: Permission denied" on its stderr, SFTP a status
 * message ("Permission denied", "No such file"): both come down to the strerror words.
 */
import { TransferError, isTransferError, type TransferErrorCode } from '../../errors';
import type { Job } from '../job/job';
import { showRemote } from '../remote-path';

/** Codes that mean "the server's file system said no": other failures (connection, abort) pass unchanged. */
const REFUSALS: ReadonlySet<TransferErrorCode> = new Set(['ENOENT', 'EACCES', 'ENOSPC', 'ENOTDIR', 'EISDIR', 'ETOOBIG', 'EIO']);

/** OpenSSH sftp-server's status messages that say less than the strerror text SCP prints. */
const SFTP_WORDS: Record<string, string> = { 'No such file': 'No such file or directory' };

function systemWords(detail: string | undefined): string | undefined {
  if (detail === undefined) return undefined;
  // "scp: /dir/.name.scp-….part: Permission denied": the last part is the system's; the path is ours to name.
  const words = detail.slice(detail.lastIndexOf(': ') + 1).trim();
  return SFTP_WORDS[words] ?? words;
}

function refusal(error: unknown, summary: string, path: Buffer, job: Job, withDetail = true): unknown {
  if (!isTransferError(error) || !REFUSALS.has(error.code)) return error;
  return new TransferError(error.code, summary, {
    host: job.host,
    path: showRemote(path),
    ...(withDetail && error.detail !== undefined ? { detail: systemWords(error.detail) } : {}),
    cause: error,
    ...(error.reason ? { reason: error.reason } : {}),
  });
}

/** A file the server would not create ('create') or would not take the data of ('write'). */
export function fileRefused(error: unknown, stage: 'create' | 'write', finalPath: Buffer, job: Job): unknown {
  return refusal(error, stage === 'create' ? 'cannot create the remote file' : 'cannot write the remote file', finalPath, job);
}

/** A directory the server would not create or enter. */
export function directoryRefused(error: unknown, path: Buffer, job: Job): unknown {
  const inTheWay = isTransferError(error) && error.code === 'ENOTDIR';
  return refusal(error, inTheWay ? 'a file is in the way of a directory' : 'cannot create the remote directory', path, job, !inTheWay);
}

/**
 * A remote path a download could not read, in the same words over SCP (the server's scp printed
 * "scp: PATH: words") and SFTP (a status for an open or a listing).
 */
export function readRefused(code: TransferErrorCode, path: string, words: string | undefined, job: Job, cause?: unknown): TransferError {
  const summary =
    code === 'ENOENT' ? 'the remote path does not exist' : code === 'EISDIR' ? 'the remote path is a directory (or not a regular file)' : 'cannot read the remote path';
  const detail = code === 'ENOENT' || code === 'EISDIR' ? undefined : systemWords(words);
  return new TransferError(code, summary, { host: job.host, path, ...(detail ? { detail } : {}), ...(cause ? { cause } : {}) });
}
