/**
 * The remote command of a glob download over SCP. The login shell expands the pattern (src/glob.ts
 * renders it) under settings that make every POSIX shell (dash, bash, busybox ash; zsh too) expand it
 * the same way as the matcher, keeps the names the pattern really matches, and hands them to `scp -f`.
 */
import type { Glob } from '../glob';
import { NEUTRAL_SHELL, quoteForShellBytes } from '../shell-quote';
import { commandPrefix } from './scp-command';

/** What runs on the matched paths: `command "$@"` (e.g. `exec scp -f --`); `program` is looked up first when nothing matched. */
export interface GlobRun {
  program: string;
  command: string;
}

/**
 * `sh` text that expands `dir/pattern`, keeps each path whose last component is not `.` or `..` (dash and
 * ash list them for `.*`), matches the pattern again with `case` and exists (so an unmatched word, which
 * the shell leaves as it is, never passes), then `exec`s `run.command "$@"`. Nothing kept: exit 127 when
 * `run.program` is missing (so "no scp" stays recognisable), else "No such file or directory" and exit 1.
 */
export function globListScript(dir: Buffer, glob: Glob, run: GlobRun): Buffer {
  const word = glob.shellWord();
  const prefix = dir.equals(Buffer.from('/')) ? Buffer.from('/') : Buffer.concat([quoteForShellBytes(dir), Buffer.from('/')]);
  const shown = dir.equals(Buffer.from('/')) ? Buffer.from(`/${glob.pattern}`) : Buffer.concat([dir, Buffer.from(`/${glob.pattern}`)]);
  const missing = quoteForShellBytes(Buffer.concat([Buffer.from('scp: '), shown, Buffer.from(': No such file or directory (nothing matches the pattern)')]));
  return Buffer.concat([
    Buffer.from(`${NEUTRAL_SHELL}; set --; for f in `),
    prefix,
    word,
    Buffer.from('; do case "${f##*/}" in .|..) ;; '),
    word,
    Buffer.from(`) if [ -e "$f" ] || [ -L "$f" ]; then set -- "$@" "$f"; fi ;; esac; done; if [ $# -eq 0 ]; then command -v ${run.program} >/dev/null 2>&1 || exit 127; printf '%s\\n' `),
    missing,
    Buffer.from(` >&2; exit 1; fi; ${run.command} "$@"`),
  ]);
}

/** The whole `scp -f` command for a glob download of `dir/<glob>`. */
export function buildScpGlobCommand(dir: Buffer, glob: Glob, options: { recursive?: boolean; preserve?: boolean }): Buffer {
  const command = commandPrefix({ role: 'source', recursive: options.recursive === true, preserve: options.preserve === true }).trimEnd();
  return globListScript(dir, glob, { program: 'scp', command: `exec ${command}` });
}
