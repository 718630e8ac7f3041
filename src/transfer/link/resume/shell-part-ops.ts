/**
 * PartOps for servers with SCP but no SFTP: POSIX commands every such server has (`stat -c`, `tail -c +N`,
 * `head -c`, `cat >>`, `mv`, `chmod`; GNU and BusyBox alike), every path quoted as all remote paths are.
 */
import { TransferError } from '../../../errors';
import type { Job } from '../../job/job';
import { showRemote } from '../../remote-path';
import { runRemote } from '../../scp/remote-exec';
import { pathWord, sha256Command } from '../remote-checksum';
import { execStream } from './exec-stream';
import type { PartOps, RemoteStat } from './part-ops';

function command(...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const STAT_LINE = /^(\d+) (\d+) ([0-9a-f]+)\s*$/u;

/** Every tool the part commands use beyond POSIX (`stat -L -c`, `head -c`, `tail -c`), tried on nothing. */
const PROBE = Buffer.from("stat -L -c '%s %Y %f' / >/dev/null && printf ab | head -c 1 >/dev/null && printf ab | tail -c +2 >/dev/null");

/**
 * Whether this server runs the part commands (GNU or BusyBox tools; not a bare BSD or Solaris userland): when
 * it does not, the transfer runs as without resume rather than failing halfway with EPROTO.
 */
export async function shellPartOpsWork(job: Job, shown: string): Promise<boolean> {
  const outcome = await runRemote(job, PROBE, shown);
  if (outcome.exitCode !== 0) job.ctx.debug?.(`resume over SCP is off for ${job.host}: its shell lacks stat -c, head -c or tail -c (${outcome.stderr.slice(0, 100)})`);
  return outcome.exitCode === 0;
}

export function shellPartOps(job: Job): PartOps {
  return new ShellPartOps(job);
}

class ShellPartOps implements PartOps {
  constructor(private readonly job: Job) {}

  private async run(line: Buffer, remote: Buffer, limit?: { totalMs: number; idleMs: number }): Promise<string> {
    const shown = showRemote(remote);
    const outcome = await runRemote(this.job, line, shown, limit);
    if (outcome.exitCode !== 0) {
      throw new TransferError('EPROTO', 'a remote command for the resumed part failed', { host: this.job.host, path: shown, detail: outcome.stderr || `exit status ${String(outcome.exitCode)}` });
    }
    return outcome.stdout.toString('latin1');
  }

  async stat(remote: Buffer): Promise<RemoteStat | undefined> {
    const path = pathWord(remote);
    const said = await this.run(command('if [ -e ', path, " ]; then stat -L -c '%s %Y %f' ", path, '; else echo missing; fi'), remote);
    if (said.trim() === 'missing') return undefined;
    const match = STAT_LINE.exec(said);
    if (!match) throw new TransferError('EPROTO', 'the server answered stat with something unexpected', { host: this.job.host, path: showRemote(remote), detail: said.slice(0, 100) });
    const mode = parseInt(match[3], 16);
    const type = mode & S_IFMT;
    return { kind: type === S_IFDIR ? 'directory' : type === S_IFREG ? 'file' : 'other', size: Number(match[1]), mtime: Number(match[2]), mode: mode & 0o7777 };
  }

  async rangeSha256(remote: Buffer, from: number, length: number): Promise<string> {
    const said = await this.run(command(`tail -c +${from + 1} `, pathWord(remote), ` | head -c ${length} | `, sha256Command()), remote);
    const sum = /^([0-9a-f]{64})/u.exec(said)?.[1];
    if (!sum) throw new TransferError('ECHECKSUM', 'the server could not compute a sha256 (no sha256sum, shasum or busybox)', { host: this.job.host, path: showRemote(remote) });
    // tail and head say nothing of a short file: its shorter range simply hashes differently.
    return sum;
  }

  read(remote: Buffer, from: number, _size: number, write: (chunk: Buffer) => Promise<void>): Promise<void> {
    const line = from === 0 ? command('cat ', pathWord(remote)) : command(`tail -c +${from + 1} `, pathWord(remote));
    return execStream(this.job, line, showRemote(remote), { write });
  }

  write(remote: Buffer, from: number, chunks: AsyncIterable<Buffer>, onBytes: (n: number) => void): Promise<void> {
    // A new part is created exclusively (noclobber), as the SFTP side opens it with 'wx'.
    const line = from === 0 ? command('set -C; cat > ', pathWord(remote)) : command('cat >> ', pathWord(remote));
    return execStream(this.job, line, showRemote(remote), { input: chunks, onSent: onBytes });
  }

  async removeQuietly(remote: Buffer): Promise<void> {
    await runRemote(this.job, command('rm -f -- ', pathWord(remote)), showRemote(remote)).catch(() => undefined);
  }

  async rename(from: Buffer, to: Buffer): Promise<void> {
    await this.run(command('mv -f -- ', pathWord(from), ' ', pathWord(to)), to);
  }

  async setMode(remote: Buffer, mode: number): Promise<void> {
    // Times are set over SFTP only: `touch -d @seconds` is not in every BusyBox.
    await this.run(command(`chmod ${(mode & 0o777).toString(8).padStart(3, '0')} `, pathWord(remote)), remote);
  }

  release(): void {
    // every command had its own channel
  }
}
