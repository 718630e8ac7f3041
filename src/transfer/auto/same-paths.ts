/**
 * The proof 'auto' needs before small transfers leave SCP for the SFTP session the connection keeps: that
 * on this server SFTP and the shell (where `scp -t`/`scp -f` and the helper commands run) see the same
 * paths. A server may run its SFTP side elsewhere: chrooted, in another mount namespace, in another start
 * directory, as another user or with another umask. Once per connection (auto/small-jobs.ts remembers it):
 *
 *   1. SFTP (the kept session): `realpath('.')`, the directory its relative paths start from (OpenSSH's scp
 *      resolves them against the home directory, where the shell starts);
 *   2. SFTP creates `.scp-probe-<random>` there, by its relative name, with random content and mode 0666,
 *      and reads back its attributes (owner, mode after the umask);
 *   3. one shell command prints its umask, `id -u` and `pwd -P`, prints the probe file found at the
 *      absolute path SFTP named, removes it, and lists `/`; SFTP lists `/` meanwhile;
 *   4. SFTP no longer finds the file.
 * Same paths when: the shell's `pwd -P` is SFTP's realpath, the shell found SFTP's content at that path
 * (so the two name the same file: SFTPv3 has no inode to compare), its removal is seen by SFTP, the owner
 * is the shell's user, the mode is 0666 under the shell's umask, and both list the same names in `/` (a
 * chroot that mounts the home at the same path still differs there).
 *
 * A lie in any reply can only make auto use SFTP with the paths the user gave, as transport 'sftp' would:
 * nothing the probe learns is ever used to build a job's paths. Bounded by PROBE_LIMIT_MS; a failure is
 * never a job's error.
 */
import { randomBytes } from 'crypto';
import type { SftpSession } from '../../sftp';
import { quoteForShellBytes } from '../../shell-quote';
import type { TransferError } from '../../errors';
import { cleanText, isValidUtf8 } from '../../text';
import { Job } from '../job/job';
import { bytes, runRemote } from '../scp/remote-exec';
import { openSftp, sftpSubsystemRefused, unlinkQuietly } from '../sftp/sftp-channel';
import { learnTransport } from '../transport-memory';
import type { TransferContext } from '../types';

/** The whole probe (waiting for its channels included) ends within this. */
export const PROBE_LIMIT_MS = 10_000;
export const PROBE_FILE_PREFIX = '.scp-probe-';
const MARKER = 'SCP-SAME-PATHS:';
const ROOT_MARKER = 'SCP-SAME-ROOT:';
/** OpenSSH's answer to a command on an SFTP-only account (ForceCommand internal-sftp). */
const SFTP_ONLY = /sftp connections only/iu;
/** More names than a root directory has: a listing past it is no proof. */
const MAX_ROOT_ENTRIES = 4096;

export type ProbeOutcome =
  /** SFTP sees the shell's paths */
  | { kind: 'same' }
  /** it does not, or the server has no SFTP: SCP for good */
  | { kind: 'differ'; why: string }
  /** no answer (a time-out, a refusal to write the probe file): SCP, probed again later */
  | { kind: 'unsure'; why: string }
  /** the connection was lost or closed under the probe: the next job probes again */
  | { kind: 'again'; why: string };

/** What the shell printed, as fields. */
interface ShellView {
  umask: number;
  uid: number;
  pwd: string;
  content: string;
  root: string[];
}

/** Runs the probe over `ctx.channels`, in a job of its own (its own deadline, no caller's signal). Never rejects. */
export async function probeSamePaths(ctx: TransferContext): Promise<ProbeOutcome> {
  const idle = ctx.idleTimeoutMs > 0 ? Math.min(ctx.idleTimeoutMs, PROBE_LIMIT_MS) : PROBE_LIMIT_MS;
  const job = new Job({ channels: ctx.channels, transport: 'auto', idleTimeoutMs: idle, deadlineMs: PROBE_LIMIT_MS, ...(ctx.leftovers ? { leftovers: ctx.leftovers } : {}) });
  try {
    return await probe(job);
  } catch (error) {
    const failure = error as TransferError;
    if (failure.code === 'ECONNRESET' || failure.code === 'EABORTED') return { kind: 'again', why: failure.message };
    return { kind: 'unsure', why: failure.message ?? String(error) };
  } finally {
    job.dispose();
  }
}

async function probe(job: Job): Promise<ProbeOutcome> {
  let opened: Awaited<ReturnType<typeof openSftp>>;
  try {
    opened = await openSftp(job, '.', true);
  } catch (error) {
    if (!sftpSubsystemRefused(error)) throw error;
    learnTransport(job.channels, 'noSftp');
    return { kind: 'differ', why: 'the server has no SFTP subsystem' };
  }
  const { session, lease } = opened;
  const name = `${PROBE_FILE_PREFIX}${randomBytes(8).toString('hex')}`;
  const content = randomBytes(16).toString('hex');
  let made = false;
  try {
    const home = await session.realpath('.');
    if (!home.startsWith('/') || /[\0\n]/u.test(home)) return { kind: 'differ', why: `SFTP starts in "${cleanText(home)}"` };
    // Recorded first: should the connection drop now, a later job's sweep removes it.
    await job.temporaries.record([{ path: Buffer.from(name), kind: 'file' }]);
    made = true;
    await writeProbe(session, name, content);
    const created = await session.stat(name);
    const [reply, sftpRoot] = await Promise.all([runRemote(job, shellCommand(`${home === '/' ? '' : home}/${name}`)), listRoot(session)]);
    made = (await session.stat(name)) !== undefined;
    if (!made) await job.temporaries.gone();
    const shell = parseShell(reply.stdout);
    if (!shell) {
      // OpenSSH's refusal for an SFTP-only account proves there is no scp either (as src/scp/no-scp.ts reads it).
      if (SFTP_ONLY.test(`${cleanText(reply.stdout, 1024)} ${reply.stderr}`)) learnTransport(job.channels, 'noScp');
      return { kind: 'differ', why: 'the shell did not answer the probe' };
    }
    const difference = differences(home, content, created, made, sftpRoot, shell);
    return difference ? { kind: 'differ', why: difference } : { kind: 'same' };
  } finally {
    if (made && (await unlinkQuietly(job, lease, [name]))) await job.temporaries.gone();
    lease.release();
  }
}

async function writeProbe(session: SftpSession, name: string, content: string): Promise<void> {
  const handle = await session.open(name, 'wx', 0o666, 'EEXIST');
  try {
    const data = Buffer.from(`${content}\n`);
    await session.writeAll(handle, name, (async function* () { yield data; })(), () => undefined);
  } finally {
    await session.close(handle, name);
  }
}

async function listRoot(session: SftpSession): Promise<string[]> {
  const entries = await session.readdir('/', MAX_ROOT_ENTRIES);
  return entries.map((entry) => entry.filename).filter((name) => name !== '.' && name !== '..').sort();
}

/** One command: the shell's umask, user, start directory, the probe file's content (then removed; an empty line when not found), the names in `/`. */
function shellCommand(absolute: string): Buffer {
  const path = quoteForShellBytes(Buffer.from(absolute));
  return Buffer.concat([
    bytes(`printf '%s\\n' '${MARKER}'; umask; id -u; pwd -P; if cat -- `),
    path,
    bytes('; then rm -f -- '),
    path,
    bytes(`; else echo; fi; printf '\\n%s\\n' '${ROOT_MARKER}'; LC_ALL=C command ls -a /`),
  ]);
}

function parseShell(stdout: Buffer): ShellView | undefined {
  const at = stdout.lastIndexOf(`${MARKER}\n`);
  const rootAt = stdout.lastIndexOf(`\n${ROOT_MARKER}\n`);
  if (at < 0 || rootAt < at || !isValidUtf8(stdout)) return undefined;
  const head = stdout.subarray(at + MARKER.length + 1, rootAt).toString('utf8').split('\n');
  const root = stdout.subarray(rootAt + ROOT_MARKER.length + 2).toString('utf8').split('\n');
  if (head.length !== 5 || head[4] !== '' || !/^[0-7]{1,4}$/u.test(head[0]) || !/^\d+$/u.test(head[1])) return undefined;
  return {
    umask: parseInt(head[0], 8) & 0o777,
    uid: Number(head[1]),
    pwd: head[2],
    content: head[3],
    root: root.filter((name) => name !== '' && name !== '.' && name !== '..').sort(),
  };
}

/** The first way the two sides differ, or undefined when they agree on everything. */
function differences(
  home: string,
  content: string,
  created: { uid: number; mode: number } | undefined,
  stillThere: boolean,
  sftpRoot: string[],
  shell: ShellView,
): string | undefined {
  if (shell.pwd !== home) return `the shell starts in "${cleanText(shell.pwd)}", SFTP in "${cleanText(home)}"`;
  if (shell.content !== content) return "the shell did not find SFTP's probe file at the same path";
  if (stillThere) return "SFTP still sees the probe file the shell removed";
  if (!created || created.uid !== shell.uid) return 'SFTP creates files as another user';
  const mode = created.mode & 0o777;
  if (mode !== (0o666 & ~shell.umask)) return `SFTP creates files with mode ${mode.toString(8)}, the shell's umask ${shell.umask.toString(8)}`;
  if (sftpRoot.join('\n') !== shell.root.join('\n')) return 'SFTP and the shell list different names in /';
  return undefined;
}
