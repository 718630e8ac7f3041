/** SFTP's status codes and what each means in our error codes (only the SFTP layer reads them). */
import { hasOverlongName, meaningOfServerText, type SystemErrorMeaning, type TransferErrorCode } from '../errors';

/**
 * SFTP status codes: version 3 (what OpenSSH speaks) and the later drafts' finer ones, which some servers
 * send. OpenSSH's sftp-server folds errno into few statuses: ENAMETOOLONG and EINVAL become BAD_MESSAGE,
 * and everything it has no status for (a full disk, an I/O error) becomes FAILURE with the text "Failure".
 */
export const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
  NO_SUCH_PATH: 10,
  FILE_ALREADY_EXISTS: 11,
  WRITE_PROTECT: 12,
  NO_SPACE_ON_FILESYSTEM: 14,
  QUOTA_EXCEEDED: 15,
  NOT_A_DIRECTORY: 19,
  INVALID_FILENAME: 20,
  LINK_LOOP: 21,
  FILE_IS_A_DIRECTORY: 24,
} as const;

const SFTP_STATUS_CODES: ReadonlyMap<number, TransferErrorCode> = new Map<number, TransferErrorCode>([
  [SFTP_STATUS.EOF, 'EPROTO'],
  [SFTP_STATUS.NO_SUCH_FILE, 'ENOENT'],
  [SFTP_STATUS.PERMISSION_DENIED, 'EACCES'],
  [SFTP_STATUS.BAD_MESSAGE, 'EINVAL'],
  [SFTP_STATUS.NO_CONNECTION, 'ECONNRESET'],
  [SFTP_STATUS.CONNECTION_LOST, 'ECONNRESET'],
  [SFTP_STATUS.OP_UNSUPPORTED, 'EPROTO'],
  [SFTP_STATUS.NO_SUCH_PATH, 'ENOENT'],
  [SFTP_STATUS.FILE_ALREADY_EXISTS, 'EEXIST'],
  [SFTP_STATUS.WRITE_PROTECT, 'EACCES'],
  [SFTP_STATUS.NO_SPACE_ON_FILESYSTEM, 'ENOSPC'],
  [SFTP_STATUS.QUOTA_EXCEEDED, 'ENOSPC'],
  [SFTP_STATUS.NOT_A_DIRECTORY, 'ENOTDIR'],
  [SFTP_STATUS.INVALID_FILENAME, 'EINVAL'],
  [SFTP_STATUS.LINK_LOOP, 'ENOENT'],
  [SFTP_STATUS.FILE_IS_A_DIRECTORY, 'EISDIR'],
]);

/**
 * What an SFTP status means for a request on `path`. A generic FAILURE is read from the server's text when
 * that names a system error, else it is `failureCode` (what a failure most likely is for this request).
 * An invalid request on a path with an over-long name is that name (OpenSSH says only "Bad message").
 */
export function meaningOfSftpStatus(status: number, text: string, path: string, failureCode: TransferErrorCode): SystemErrorMeaning {
  const fromText = meaningOfServerText(text);
  if (status === SFTP_STATUS.FAILURE) return fromText ?? { code: failureCode };
  if ((status === SFTP_STATUS.BAD_MESSAGE || status === SFTP_STATUS.INVALID_FILENAME) && (fromText?.reason === 'nameTooLong' || hasOverlongName(path))) {
    return { code: 'EINVAL', reason: 'nameTooLong' };
  }
  return { code: SFTP_STATUS_CODES.get(status) ?? 'EPROTO' };
}
