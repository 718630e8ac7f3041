/**
 * The after-action of a pull over SCP-only servers: one shell command per remote directory (batched), POSIX
 * tools only, every path quoted with the scp module's quoting.
 */
import { randomBytes } from 'crypto';
import { TransferError } from '../../errors';
import { codeForServerMessage } from '../../scp';
import { quoteForShellBytes } from '../../shell-quote';
import { cleanText } from '../../text';
import type { Job } from '../job/job';
import { batchCommands, bytes, markedReply, runRemote } from './remote-exec';
import { touchStamp } from './shell-scripts';

const AFTER_MARKER = 'SCP-AFTER:';
/** Suffixes tried for a name taken in the move's directory before that file's move fails. */
const MAX_MOVE_SUFFIX = 999;

/** What the after-action did with one file: removed (0) or moved under suffix n, failed, or left as it changed. */
export type AfterRemoteOutcome = number | 'failed' | 'changed' | { keptAs: Buffer };

/**
 * `u PATH SIZE STAMP`: true when the file still has the size and mtime that were fetched (STAMP is the
 * fetched mtime plus one second in `touch -t` form, `-` when unknown). POSIX tools only: `wc -c` for the
 * size, `find -newer` against a reference file for the time (no `stat`, which BusyBox and plain POSIX
 * systems may lack). find has no `--`: a relative path goes as `./path`, so a name starting with `-`, `!`
 * or `(` is never read as part of its expression. The reference file's name ends in `$R`, random bytes of
 * ours, and an existing file of that name is never touched. A failing `find` is a change (nothing removed).
 */
const UNCHANGED_FN =
  `u(){ case $1 in /*) p=$1;; *) p=./$1;; esac; s=$(wc -c < "$p") || return 1; [ "$s" -eq "$2" ] || return 1; ` +
  `[ "$3" = - ] && return 0; r="$p.scp-ref.$R"; { [ -e "$r" ] || [ -h "$r" ]; } && return 1; touch -t "$3" "$r" || return 1; ` +
  `n=$(find "$p" -prune -newer "$r") || { rm -f -- "$r"; return 1; }; rm -f -- "$r"; [ -z "$n" ]; };`;

/**
 * The after-action of a pull for files of one remote directory: `rm` each, or move each into
 * `destination` (created with its parents). A file whose size or mtime is no longer what was fetched (a
 * writer still appends to it) is neither: a delete first renames the file aside (atomically, so a writer that
 * appends by name starts a new file instead of writing into the one being removed), checks it there, then
 * removes it or links it back under its name; a move checks first. A move never replaces anything: `ln`
 * creates the new name only if it is free (atomically), a taken name gets the next suffix (`name.1`,
 * `name.2`, ...); across file systems, where `ln` cannot work, `mv` follows a test for the name. Per file
 * the reply is `0,` (removed), the suffix number used (moved), `c,` (changed, left in place), `k,`
 * (changed, and its name was taken meanwhile: left as `name.scp-check.<random>`) or `e,` (failed, the stderr
 * says why). The name set aside is never one that exists: `ln` creates it only while free (`mv` after a test
 * where the file system has no hard links), and its random part is ours, so no earlier kept file is replaced.
 */
export async function afterActionRemote(
  job: Job,
  action: { kind: 'delete' } | { kind: 'move'; destination: Buffer },
  paths: { path: Buffer; name: Buffer; size: number; mtime?: number }[],
  pathForErrors: string,
): Promise<{ outcomes: AfterRemoteOutcome[]; stderr: string }> {
  const free = `[ ! -e "$t" ] && [ ! -h "$t" ]`;
  const fn =
    action.kind === 'delete'
      ? `a(){ if [ ! -e "$1" ] && [ ! -h "$1" ]; then printf '0,'; return; fi; t="$1.scp-check.$R"; ` +
        `if ln -- "$1" "$t" 2>/dev/null; then if ! rm -f -- "$1"; then rm -f -- "$t"; printf 'e,'; return; fi; ` +
        `elif ! { ${free} && mv -- "$1" "$t"; }; then printf 'e,'; return; fi; ` +
        `if u "$t" "$3" "$4"; then if rm -f -- "$t" && [ ! -e "$t" ]; then printf '0,'; else printf 'e,'; fi; ` +
        `elif ln -- "$t" "$1" 2>/dev/null; then rm -f -- "$t"; printf 'c,'; else printf 'k,'; fi; };`
      : `a(){ if [ -e "$1" ] && ! u "$1" "$3" "$4"; then printf 'c,'; return; fi; i=0; t="$d/$2"; while [ $i -le ${MAX_MOVE_SUFFIX} ]; do ` +
        `if ${free}; then if ln -- "$1" "$t" 2>/dev/null; then rm -f -- "$1"; printf '%s,' $i; return; ` +
        `elif ${free}; then if [ -e "$1" ] && mv -- "$1" "$t"; then printf '%s,' $i; else printf 'e,'; fi; return; fi; fi; ` +
        `i=$((i+1)); t="$d/$2.$i"; done; echo "no free name for $2 in $d" >&2; printf 'e,'; };`;
  const setUp =
    action.kind === 'move'
      ? Buffer.concat([bytes(' d='), quoteForShellBytes(action.destination), bytes('; mkdir -p -- "$d" || { echo "cannot create $d" >&2; exit 3; };')])
      : bytes('');
  // Ours, not the shell's PID (which repeats): the names set aside and the reference files end in it.
  const random = randomBytes(8).toString('hex');
  const prefix = Buffer.concat([bytes(`TZ=UTC0; export TZ; R='${random}'; ${UNCHANGED_FN}`), bytes(fn), setUp, bytes(` printf '${AFTER_MARKER}';`)]);
  const items = paths.map((item) =>
    Buffer.concat([
      bytes(' a '),
      quoteForShellBytes(item.path),
      bytes(' '),
      quoteForShellBytes(item.name),
      bytes(` ${item.size} ${item.mtime === undefined ? '-' : touchStamp(item.mtime + 1)};`),
    ]),
  );
  const outcomes: AfterRemoteOutcome[] = [];
  let stderr = '';
  let at = 0;
  for (const batch of batchCommands(prefix, items, bytes(' echo'))) {
    const outcome = await runRemote(job, batch.command, pathForErrors);
    if (outcome.stderr) stderr = outcome.stderr;
    const reply = markedReply(outcome.stdout, AFTER_MARKER);
    if (reply === undefined && outcome.exitCode === 3) {
      throw new TransferError(codeForServerMessage(outcome.stderr), 'could not create the remote directory to move the files into', {
        host: job.host,
        path: pathForErrors,
        detail: outcome.stderr,
      });
    }
    const answers = reply?.split(',').slice(0, -1) ?? [];
    if (reply === undefined || answers.length !== batch.count || !answers.every((answer) => /^(?:e|c|k|\d+)$/u.test(answer))) {
      throw new TransferError('EPROTO', 'the server gave an unexpected reply to the after-action', {
        host: job.host,
        path: pathForErrors,
        detail: outcome.stderr || cleanText(outcome.stdout, 200),
      });
    }
    for (const answer of answers) {
      const item = paths[at];
      at += 1;
      if (answer === 'e') outcomes.push('failed');
      else if (answer === 'c') outcomes.push('changed');
      else if (answer === 'k') outcomes.push({ keptAs: Buffer.concat([item.path, bytes(`.scp-check.${random}`)]) });
      else outcomes.push(Number(answer));
    }
  }
  return { outcomes, stderr };
}
