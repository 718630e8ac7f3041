/** PartOps over SFTP: reads and writes at offsets, the range checksum computed here from a read. */
import { createHash } from 'crypto';
import { TransferError } from '../../../errors';
import type { SftpSession } from '../../../sftp';
import type { SftpLease } from '../../../ssh/types';
import type { Job } from '../../job/job';
import { openSftp, sftpPath } from '../../sftp/sftp-channel';
import type { PartOps, RemoteStat } from './part-ops';

export async function sftpPartOps(job: Job, shown: string): Promise<PartOps> {
  const { lease, session } = await openSftp(job, shown);
  return new SftpPartOps(job, session, lease);
}

class SftpPartOps implements PartOps {
  constructor(
    private readonly job: Job,
    private readonly session: SftpSession,
    private readonly lease: SftpLease,
  ) {}

  private path(remote: Buffer): string {
    return sftpPath(remote, this.job);
  }

  async stat(remote: Buffer): Promise<RemoteStat | undefined> {
    const stats = await this.session.stat(this.path(remote));
    if (!stats) return undefined;
    return { kind: stats.isDirectory() ? 'directory' : stats.isFile() ? 'file' : 'other', size: stats.size, mtime: stats.mtime, mode: stats.mode };
  }

  async rangeSha256(remote: Buffer, from: number, length: number): Promise<string> {
    const path = this.path(remote);
    const hash = createHash('sha256');
    const handle = await this.session.open(path, 'r');
    try {
      await this.session.readAll(handle, path, from + length, (chunk) => void hash.update(chunk), from);
    } catch (error) {
      // A part shorter than it should be is no match, not a failure.
      if (error instanceof TransferError && error.code === 'EPROTO') return '';
      throw error;
    } finally {
      await this.session.close(handle, path).catch(() => undefined);
    }
    return hash.digest('hex');
  }

  async read(remote: Buffer, from: number, size: number, write: (chunk: Buffer) => Promise<void>): Promise<void> {
    const path = this.path(remote);
    const handle = await this.session.open(path, 'r');
    let read = false;
    try {
      await this.session.readAll(handle, path, size, write, from, this.job.link?.bucket?.ahead);
      read = true;
    } finally {
      const closing = this.session.close(handle, path).catch(() => undefined);
      if (read) await closing;
    }
  }

  async write(remote: Buffer, from: number, chunks: AsyncIterable<Buffer>, onBytes: (n: number) => void): Promise<void> {
    const path = this.path(remote);
    const handle = await this.session.open(path, from === 0 ? 'wx' : 'r+', 0o600, from === 0 ? 'EEXIST' : 'ENOENT');
    try {
      await this.session.writeAll(handle, path, chunks, onBytes, from);
    } catch (error) {
      await this.session.close(handle, path).catch(() => undefined);
      throw error;
    }
    await this.session.close(handle, path);
  }

  async removeQuietly(remote: Buffer): Promise<void> {
    await this.session.unlink(this.path(remote)).catch(() => undefined);
  }

  async rename(from: Buffer, to: Buffer): Promise<void> {
    await this.session.rename(this.path(from), this.path(to), true);
  }

  async setMode(remote: Buffer, mode: number, times?: { atime: number; mtime: number }): Promise<void> {
    await this.session.setstat(this.path(remote), { mode: mode & 0o777, ...(times ?? {}) });
  }

  release(): void {
    this.lease.release();
  }
}
