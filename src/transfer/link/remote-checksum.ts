/**
 * The sha256 of a remote file, computed on the server: `sha256sum` (GNU coreutils, BusyBox's applet when
 * linked as such), `shasum -a 256` (Perl, macOS and BSDs) or `busybox sha256sum`, whichever the server has,
 * over an exec channel with the path quoted as every other remote path (src/scp/quote.ts).
 */
import { TransferError } from '../../errors';
import { quoteForShellBytes } from '../../shell-quote';
import type { Job } from '../job/job';
import { showRemote } from '../remote-path';
import { runRemote } from '../scp/remote-exec';

const SHA256_HEX = /^([0-9a-fA-F]{64})(?:\s|$)/;
/** A checksum reads at least this fast on the slowest device we expect (bounds the command's run time). */
const SLOWEST_HASH_BYTES_PER_SECOND = 4 * 1024 * 1024;

/** A path word no program can take for an option: a relative name starting with "-" gets "./". */
export function pathWord(remote: Buffer): Buffer {
  const safe = remote[0] === 0x2d ? Buffer.concat([Buffer.from('./'), remote]) : remote;
  return quoteForShellBytes(safe);
}

/** The command printing the sha256 of `remote`, or of its input when `remote` is undefined. */
export function sha256Command(remote?: Buffer): Buffer {
  const path = remote === undefined ? Buffer.alloc(0) : pathWord(remote);
  const parts: (string | Buffer)[] = [
    'if command -v sha256sum >/dev/null 2>&1; then sha256sum ', path,
    '; elif command -v shasum >/dev/null 2>&1; then shasum -a 256 ', path,
    '; else busybox sha256sum ', path, '; fi',
  ];
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
}

/** The remote file's sha256 (lower-case hex); ECHECKSUM when the server cannot compute it. */
export async function remoteSha256(job: Job, remote: Buffer, size: number): Promise<string> {
  const shown = showRemote(remote);
  const totalMs = Math.max(2 * job.idleTimeoutMs, 10_000) + Math.ceil((size / SLOWEST_HASH_BYTES_PER_SECOND) * 1000);
  const outcome = await runRemote(job, sha256Command(remote), shown, { totalMs, idleMs: totalMs });
  const match = SHA256_HEX.exec(outcome.stdout.toString('latin1'));
  if (outcome.exitCode !== 0 || !match) {
    throw new TransferError('ECHECKSUM', 'the server could not compute a sha256 of the file (no sha256sum, shasum or busybox)', {
      host: job.host,
      path: shown,
      detail: outcome.stderr || `exit status ${String(outcome.exitCode)}`,
    });
  }
  return match[1].toLowerCase();
}

/** The ECHECKSUM of a copy whose sha256 differs from its source's. */
export function mismatch(job: Job, remote: Buffer, local: string, remoteSum: string, what: 'download' | 'upload'): TransferError {
  const removed = what === 'download' ? 'the local copy was not kept' : 'the remote copy was removed';
  return new TransferError('ECHECKSUM', `the sha256 of the copy differs from the source's: ${removed}`, {
    host: job.host,
    path: showRemote(remote),
    detail: `local ${local.slice(0, 16)}…, remote ${remoteSum.slice(0, 16)}…`,
  });
}
