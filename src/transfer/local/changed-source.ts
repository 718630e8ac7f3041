/**
 * A local upload source whose size is not what its stat said when the upload was planned: a log appended
 * to or truncated while it is sent, a /proc file (stat says 0 bytes). SCP announces the size before the
 * data and SFTP writes what it reads, so each transport notices it its own way (the SCP sender, the SFTP
 * byte count): both throw ECHANGED, and the upload walker names the local file here, the same over both.
 * It is neither a protocol error nor the remote temporary's fault.
 */
import { TransferError } from '../../errors';
import type { Job } from '../job/job';
import type { PlannedFile } from '../walk/upload-plan';

const SUMMARY = 'the local file changed while it was sent';

/** The same words over both transports: which way the size moved, from which planned size. */
export function changedDetail(how: 'more' | 'fewer', plannedSize: number): string {
  return `it has ${how} bytes than the ${plannedSize} it had when the upload started`;
}

function changed(job: Job, file: PlannedFile, remoteShown: string, how: 'more' | 'fewer'): TransferError {
  // Only a local file can change while it is sent; a stream or payload that delivers another size than the
  // one it announced is the sender's fault, as before: EPROTO.
  if (file.localPath === undefined) {
    return new TransferError('EPROTO', 'the content is not the size it announced', { host: job.host, path: remoteShown, detail: `it delivered ${how} bytes than the announced ${file.size}` });
  }
  return new TransferError('ECHANGED', SUMMARY, { host: job.host, path: file.localPath, detail: changedDetail(how, file.size) });
}

/** A content read whole before it is sent must have the planned size: checked before anything goes out. */
export function checkContentSize(job: Job, file: PlannedFile, content: unknown, remoteShown: string): void {
  if (!Buffer.isBuffer(content) || content.length === file.size) return;
  throw changed(job, file, remoteShown, content.length > file.size ? 'more' : 'fewer');
}

/** A transport's ECHANGED (it knows only the remote name) as the error that names the local file. */
export function asChangedSource(error: unknown, job: Job, file: PlannedFile, remoteShown: string): unknown {
  if (!(error instanceof TransferError) || error.code !== 'ECHANGED') return error;
  // (the SCP sender says "has fewer bytes than the announced ...", the SFTP upload uses changedDetail)
  return changed(job, file, remoteShown, /\bfewer\b/u.test(error.detail ?? '') ? 'fewer' : 'more');
}
