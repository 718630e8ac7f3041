/**
 * The four remote steps of a claim, over the transport the pull uses: make a folder, rename files into it
 * (the server's atomic rename decides who owns a file), list the claim folders, and put a folder's files back
 * (never over a name that exists again) and remove it. Over SFTP these are SFTP requests; over SCP-only
 * servers POSIX shell commands (`mv`, `ln`, `rm`, `rmdir`, globbing with the shell options reset as for a
 * download's pattern; no `stat` or `find` needed).
 */
import { TransferError } from '../../errors';
import { NEUTRAL_SHELL, quoteForShellBytes } from '../../shell-quote';
import type { SftpSession } from '../../sftp';
import type { SftpLease } from '../../ssh/types';
import type { Job } from '../job/job';
import { batchCommands, bytes, markedReply, runRemote } from '../scp/remote-exec';
import { openSftp } from '../sftp/sftp-channel';
import type { TransportUsed } from '../types';

export interface ClaimOps {
  /** `mkdir -p` */
  makeFolder(path: string): Promise<void>;
  /** Renames each `dir/name` to `folder/name`; true where this rename won. */
  claim(dir: string, folder: string, names: string[]): Promise<boolean[]>;
  /** The names of the folders in `root` (none when it does not exist). */
  folders(root: string): Promise<string[]>;
  /**
   * Puts every file of `folder` back into `dir` under its name when that name is free, then removes the folder
   * if empty. Returns the names that stayed in `folder` (their name was taken meanwhile).
   */
  release(folder: string, dir: string): Promise<string[]>;
  close(): void;
}

const MARKER = 'SCP-CLAIM:';
const MAX_LISTING = 100_000;

export async function openClaimOps(job: Job, transport: TransportUsed, shown: string): Promise<ClaimOps> {
  if (transport === 'sftp') {
    const { lease, session } = await openSftp(job, shown);
    return new SftpClaimOps(job, session, lease);
  }
  return new ShellClaimOps(job, shown);
}

class SftpClaimOps implements ClaimOps {
  constructor(
    private readonly job: Job,
    private readonly session: SftpSession,
    private readonly lease: SftpLease,
  ) {}

  async makeFolder(path: string): Promise<void> {
    const parts = path.split('/');
    for (let end = 1; end <= parts.length; end += 1) {
      const partial = parts.slice(0, end).join('/');
      if (partial === '' || partial === '.') continue;
      const stats = await this.session.stat(partial);
      if (stats?.isDirectory()) continue;
      await this.session.mkdir(partial, 0o755).catch(async (error: unknown) => {
        // Another instance made it in the meantime.
        if (!(await this.session.stat(partial))?.isDirectory()) throw error;
      });
    }
  }

  async claim(dir: string, folder: string, names: string[]): Promise<boolean[]> {
    const won: boolean[] = [];
    for (const name of names) {
      this.job.checkActive();
      // OpenSSH's plain rename links the new name and unlinks the old: of two instances only one unlink succeeds.
      won.push(await this.session.rename(`${dir}/${name}`, `${folder}/${name}`, false).then(() => true, () => false));
    }
    return won;
  }

  async folders(root: string): Promise<string[]> {
    if (!(await this.session.stat(root))?.isDirectory()) return [];
    const entries = await this.session.readdir(root, MAX_LISTING);
    return entries.filter((entry) => entry.filename !== '.' && entry.filename !== '..' && ((entry.attrs.mode ?? 0) & 0o170000) === 0o040000).map((entry) => entry.filename);
  }

  async release(folder: string, dir: string): Promise<string[]> {
    const entries = await this.session.readdir(folder, MAX_LISTING).catch(() => []);
    const kept: string[] = [];
    for (const entry of entries) {
      if (entry.filename === '.' || entry.filename === '..') continue;
      this.job.checkActive();
      const back = await this.session.rename(`${folder}/${entry.filename}`, `${dir}/${entry.filename}`, false).then(
        () => true,
        () => false,
      );
      if (!back) kept.push(entry.filename);
    }
    await this.session.rmdir(folder).catch(() => undefined);
    return kept;
  }

  close(): void {
    this.lease.release();
  }
}

class ShellClaimOps implements ClaimOps {
  constructor(
    private readonly job: Job,
    private readonly shown: string,
  ) {}

  private async run(script: Buffer): Promise<string> {
    const outcome = await runRemote(this.job, script, this.shown);
    const reply = markedReply(outcome.stdout, MARKER);
    if (reply === undefined) {
      throw new TransferError('EPROTO', 'the server gave an unexpected reply to a claim command', { host: this.job.host, path: this.shown, detail: outcome.stderr || undefined });
    }
    return reply;
  }

  async makeFolder(path: string): Promise<void> {
    const reply = await this.run(Buffer.concat([bytes('if mkdir -p -- '), quote(path), bytes(`; then printf '${MARKER}ok'; else printf '${MARKER}no'; fi; echo`)]));
    if (reply !== 'ok') throw new TransferError('EACCES', 'cannot create the claim folder', { host: this.job.host, path });
  }

  async claim(dir: string, folder: string, names: string[]): Promise<boolean[]> {
    // `mv` is rename(2) within one file system: of two instances only one finds the file still there.
    const prefix = Buffer.concat([bytes('d='), quote(folder), bytes(`; c(){ if mv -- "$1" "$d/$2" 2>/dev/null; then printf 1; else printf 0; fi; }; printf '${MARKER}';`)]);
    const items = names.map((name) => Buffer.concat([bytes(' c '), quote(`${dir}/${name}`), bytes(' '), quote(name), bytes(';')]));
    const won: boolean[] = [];
    for (const batch of batchCommands(prefix, items, bytes(' echo'))) {
      const reply = await this.run(batch.command);
      if (reply.length !== batch.count || !/^[01]*$/u.test(reply)) throw new TransferError('EPROTO', 'the server gave an unexpected reply to a claim', { host: this.job.host, path: folder });
      for (const answer of reply) won.push(answer === '1');
    }
    return won;
  }

  async folders(root: string): Promise<string[]> {
    const script = Buffer.concat([
      bytes(`${NEUTRAL_SHELL}; r=`),
      quote(root),
      bytes(`; printf '${MARKER}'; if [ -d "$r" ]; then for c in "$r"/* "$r"/.[!.]* "$r"/..?*; do [ -d "$c" ] && printf '%s/' "\${c##*/}"; done; fi; echo`),
    ]);
    return (await this.run(script)).split('/').filter((name) => name !== '');
  }

  async release(folder: string, dir: string): Promise<string[]> {
    // `ln` creates the name only while it is free: a file that has a new namesake stays claimed (tried again
    // later) and is named in the reply, each name followed by `/` (a name holds no `/`).
    const script = Buffer.concat([
      bytes(`${NEUTRAL_SHELL}; f=`),
      quote(folder),
      bytes('; d='),
      quote(dir),
      bytes(
        `; printf '${MARKER}'; for x in "$f"/* "$f"/.[!.]* "$f"/..?*; do { [ -e "$x" ] || [ -h "$x" ]; } || continue; n=\${x##*/}; ` +
          `if ln -- "$x" "$d/$n" 2>/dev/null; then rm -f -- "$x"; else printf '%s/' "$n"; fi; done; rmdir -- "$f" 2>/dev/null; echo`,
      ),
    ]);
    // The reply is read as latin1 bytes: back to the UTF-8 names they are.
    return Buffer.from(await this.run(script), 'latin1')
      .toString('utf8')
      .split('/')
      .filter((name) => name !== '');
  }

  close(): void {
    // Each command had its own channel.
  }
}

function quote(path: string): Buffer {
  return quoteForShellBytes(Buffer.from(path, 'utf8'));
}
