/**
 * The six shell scripts the SCP transport runs around the protocol itself: probing what exists at the
 * target, renaming temporary files into place, moving staged files, finishing directories, removing
 * leftovers after a failure, and a pull's after-action. Every path is quoted with src/shell-quote.ts; the
 * commands are built as bytes so any path survives. remote-exec.ts runs them.
 */
import { TransferError } from '../../errors';
import { codeForServerMessage, definitelyNoScp } from '../../scp';
import { quoteForShellBytes } from '../../shell-quote';
import { cleanText } from '../../text';
import type { Job } from '../job/job';
import type { Leftover } from '../leftovers/journal';
import type { RemoteKind } from '../walk/upload-layout';
import type { Unavailable } from '../walk/upload-transport';
import { MAX_COMMAND_BYTES, afterTheJob, batchCommands, bytes, markedReply, runRemote } from './remote-exec';

export const PROBE_MARKER = 'SCP-PROBE:';

/** A probe's letters (d directory, f anything else, n nothing) as kinds; undefined unless exactly `count` of them. */
export function probeAnswer(reply: string, count: number): RemoteKind[] | undefined {
  if (reply.length !== count || !/^[dfn]*$/u.test(reply)) return undefined;
  return [...reply].map((char) => (char === 'd' ? 'directory' : char === 'f' ? 'other' : 'missing'));
}

/**
 * What exists at each path (symlinks to directories count as directories, dangling symlinks as
 * "other"). Returns 'unavailable' when the server proved it runs no commands (SFTP-only account, no
 * shell): the caller decides whether that means "use SFTP" or an error.
 */
export async function probeRemote(job: Job, paths: Buffer[], pathForErrors: string): Promise<RemoteKind[] | Unavailable> {
  const prefix = bytes(`printf '${PROBE_MARKER}'; for p in`);
  const items = paths.map((p) => Buffer.concat([bytes(' '), quoteForShellBytes(p)]));
  const suffix = bytes(
    `; do if [ -d "$p" ]; then printf d; elif [ -e "$p" ] || [ -h "$p" ]; then printf f; else printf n; fi; done; echo`,
  );
  const kinds: RemoteKind[] = [];
  let first = true;
  for (const batch of batchCommands(prefix, items, suffix)) {
    const outcome = await runRemote(job, batch.command, pathForErrors);
    const reply = markedReply(outcome.stdout, PROBE_MARKER);
    const answer = reply === undefined ? undefined : probeAnswer(reply, batch.count);
    if (answer === undefined) {
      // Only proof counts (the SFTP-only refusal, "not found", exit 127): a server that prints something
      // else instead of running the probe is answered with EPROTO, not with a switch to SFTP.
      if (first && reply === undefined && definitelyNoScp(outcome.exitCode, `${cleanText(outcome.stdout, 1024)} ${outcome.stderr}`)) return 'unavailable';
      throw new TransferError('EPROTO', 'the server gave an unexpected reply to a file test', {
        host: job.host,
        path: pathForErrors,
        detail: outcome.stderr || cleanText(outcome.stdout, 200),
      });
    }
    kinds.push(...answer);
    first = false;
  }
  return kinds;
}

const RENAME_MARKER = 'SCP-RENAME:';

export type RenameOutcome = 'ok' | 'exists' | 'directory' | 'failed';

/**
 * `r TEMP FINAL`: moves one temporary onto its final name and prints one letter: 0 placed, e exists
 * (without replace), d a directory is in the way, 1 failed. The temporary is gone afterwards either way.
 */
export function renameFunction(replace: boolean): string {
  const notDirectory = `if [ -d "$2" ]; then rm -f -- "$1"; printf d;`;
  return replace
    ? `r(){ ${notDirectory} elif mv -f -- "$1" "$2"; then printf 0; else rm -f -- "$1"; printf 1; fi; };`
    : `r(){ ${notDirectory} elif ln -- "$1" "$2"; then rm -f -- "$1"; printf 0; elif [ -e "$2" ] || [ -h "$2" ]; then rm -f -- "$1"; printf e; else rm -f -- "$1"; printf 1; fi; };`;
}

/** The rename's one-letter answer (renameFunction) as an outcome. */
export function renameOutcomeOf(letter: string): RenameOutcome {
  return letter === '0' ? 'ok' : letter === 'e' ? 'exists' : letter === 'd' ? 'directory' : 'failed';
}

/**
 * Moves each temporary file onto its final name, in one command per batch. `replace` uses
 * `mv -f` (an atomic rename); without it `ln` creates the final name only if it does not exist
 * (atomically refusing an existing target), then the temporary name is removed. A pair that fails
 * leaves no temporary file behind. A directory at the final name (one that appeared after the probe,
 * or a symlink to one) is refused first ('directory'): `mv` and `ln` would put the file inside it and
 * succeed. POSIX has no portable "never into a directory" flag (`mv -T` is GNU), so a directory
 * created in the instant between the test and the rename is the only case left.
 */
export async function renameRemote(
  job: Job,
  pairs: { from: Buffer; to: Buffer }[],
  replace: boolean,
  pathForErrors: string,
): Promise<{ outcomes: RenameOutcome[]; stderr: string }> {
  const prefix = bytes(`${renameFunction(replace)} printf '${RENAME_MARKER}';`);
  const items = pairs.map((pair) =>
    Buffer.concat([bytes(' r '), quoteForShellBytes(pair.from), bytes(' '), quoteForShellBytes(pair.to), bytes(';')]),
  );
  const outcomes: RenameOutcome[] = [];
  let stderr = '';
  for (const batch of batchCommands(prefix, items, bytes(' echo'))) {
    const outcome = await runRemote(job, batch.command, pathForErrors);
    const reply = markedReply(outcome.stdout, RENAME_MARKER);
    if (reply === undefined || reply.length !== batch.count || !/^[01ed]*$/u.test(reply)) {
      throw new TransferError('EPROTO', 'the server gave an unexpected reply to a rename', {
        host: job.host,
        path: pathForErrors,
        detail: outcome.stderr || cleanText(outcome.stdout, 200),
      });
    }
    if (outcome.stderr) stderr = outcome.stderr;
    for (const char of reply) outcomes.push(renameOutcomeOf(char));
  }
  return { outcomes, stderr };
}

/** GNU ("cannot overwrite directory") and BusyBox ("can't overwrite directory", "Is a directory") wording. */
const DIRECTORY_IN_THE_WAY = /overwrite directory|is a directory/i;

/**
 * Moves every staged file into its directory: `mv -f -- S/a S/b ... D/` (each one an atomic rename
 * onto D/<name>), then removes the emptied staging directory. All directories share as few commands
 * as the command-length cap allows (a process per directory would cost more than the copy itself).
 */
export async function moveStagedFiles(
  job: Job,
  stagings: { parent: Buffer; path: Buffer; files: { name: Buffer }[] }[],
  pathForErrors: string,
  removeStaging = true,
): Promise<void> {
  const statements: Buffer[] = [];
  const piece = MAX_COMMAND_BYTES / 2;
  for (const staging of stagings) {
    const destination = Buffer.concat([bytes(' '), quoteForShellBytes(staging.parent), bytes('/')]);
    let sources: Buffer[] = [];
    let length = 0;
    const flush = (last: boolean): void => {
      const parts = [bytes(' mv -f --'), ...sources, destination];
      if (last && removeStaging) parts.push(bytes(' && rmdir -- '), quoteForShellBytes(staging.path));
      parts.push(bytes(' || s=1;'));
      statements.push(Buffer.concat(parts));
      sources = [];
      length = 0;
    };
    for (const file of staging.files) {
      const source = Buffer.concat([bytes(' '), quoteForShellBytes(Buffer.concat([staging.path, bytes('/'), file.name]))]);
      if (sources.length > 0 && length + source.length > piece) flush(false);
      sources.push(source);
      length += source.length;
    }
    flush(true);
  }
  for (const batch of batchCommands(bytes('s=0;'), statements, bytes(' exit $s'))) {
    const outcome = await runRemote(job, batch.command, pathForErrors);
    if (outcome.exitCode !== 0) {
      // `mv` refuses to replace a directory that appeared at a final name since the probe (POSIX).
      const code = DIRECTORY_IN_THE_WAY.test(outcome.stderr) ? 'EISDIR' : outcome.stderr ? codeForServerMessage(outcome.stderr) : 'EPROTO';
      throw new TransferError(code, 'could not move the uploaded files into place', {
        host: job.host,
        path: pathForErrors,
        detail: outcome.stderr,
      });
    }
  }
}

/**
 * Best effort: removes temporary files and staging directories after a failure, within CLEANUP_TIMEOUT_MS
 * even when the job was aborted. True when the server removed them all; errors are swallowed.
 */
export async function removeRemoteQuietly(job: Job, items: Leftover[]): Promise<boolean> {
  const cleanupJob = afterTheJob(job);
  let removed = true;
  for (const kind of ['file', 'staging'] as const) {
    const paths = items.filter((item) => item.kind === kind).map((item) => Buffer.concat([bytes(' '), quoteForShellBytes(item.path)]));
    if (paths.length === 0) continue;
    for (const batch of batchCommands(bytes(kind === 'staging' ? 'rm -rf --' : 'rm -f --'), paths, Buffer.alloc(0))) {
      try {
        if ((await runRemote(cleanupJob, batch.command)).exitCode !== 0) removed = false;
      } catch {
        removed = false; // the connection is gone or the server refuses: the journal keeps the names
      }
    }
  }
  return removed;
}

/** The SCP transport's sweep hook (leftovers/sweep.ts): all of them when the server removed them all, else none. */
export async function removeLeftoversOverScp(job: Job, orphans: Leftover[]): Promise<Leftover[]> {
  return (await removeRemoteQuietly(job, orphans)) ? orphans : [];
}

/** "[[CC]YY]MMDDhhmm.SS" in UTC, the POSIX `touch -t` format (run with TZ=UTC0). */
export function touchStamp(seconds: number): string {
  const date = new Date(Math.max(0, seconds) * 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}.${pad(date.getUTCSeconds())}`;
}

/**
 * Finishes directories after an atomic upload's renames: their real mode (they were sent writable,
 * or the renames into a read-only directory would fail) and their times (a rename changes its
 * directory's mtime). Plain POSIX `chmod` and `touch -t`, so any server shell does.
 */
export async function finishRemoteDirectories(
  job: Job,
  directories: { path: Buffer; mode?: number; times?: { mtime: number; atime: number } }[],
  pathForErrors: string,
): Promise<void> {
  const items = directories.map(({ path, mode, times }) => {
    const parts: Buffer[] = [];
    if (mode !== undefined) parts.push(bytes(` chmod ${(mode & 0o777).toString(8).padStart(4, '0')} -- `), quoteForShellBytes(path), bytes(' || s=1;'));
    if (times) {
      parts.push(
        bytes(` touch -a -t ${touchStamp(times.atime)} -- `),
        quoteForShellBytes(path),
        bytes(` && touch -m -t ${touchStamp(times.mtime)} -- `),
        quoteForShellBytes(path),
        bytes(' || s=1;'),
      );
    }
    return Buffer.concat(parts);
  });
  for (const batch of batchCommands(bytes('TZ=UTC0; export TZ; s=0;'), items, bytes(' exit $s'))) {
    const outcome = await runRemote(job, batch.command, pathForErrors);
    if (outcome.exitCode !== 0) {
      throw new TransferError(codeForServerMessage(outcome.stderr), 'could not set the remote directory modes or times', {
        host: job.host,
        path: pathForErrors,
        detail: outcome.stderr,
      });
    }
  }
}
