/** The SFTP transport's building blocks (used by src/transfer for servers without a usable scp). */
export { SftpSession, sftpError, statusOf, type SftpContext, type SftpStats } from './sftp-session';
export { SFTP_STATUS, meaningOfSftpStatus } from './sftp-status';
