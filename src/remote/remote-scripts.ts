/**
 * The remote toolbox as POSIX `sh` for servers without SFTP (Dropbear images, BusyBox userlands). Every
 * path is single-quoted (src/shell-quote.ts) and the commands are built as bytes, so any name survives.
 * Output is NUL-separated records, never `ls` columns holding names:
 *   `SCP-REMOTE:` then `s` (a `stat -c` that works) or `l` (none: the fallback), NUL
 *   `D<dir>`                      a directory being listed
 *   `N<path>`                     a candidate path (as the shell expanded it, and existing then)
 *   `S<lines>`                    stat tier: `stat -c '%f %s %Y %n'` of the candidates since the last
 *                                 block (at most STAT_BATCH of them), in their order (a vanished one has
 *                                 no line: the parser knows the names, so a newline inside a name never
 *                                 misleads it); then `T<status>`, stat's exit status
 *   `L<perm> <size> <mtime>`      fallback tier, right after its candidate: `ls -ldn`'s mode and size
 *                                 columns (the columns before the name), `date -r`'s seconds or `-`
 *   `A<dir>`                      a directory that cannot be read (EACCES)
 *   `X<letter>`                   the path of the request: n missing, t not a directory
 *   `R<letter><stderr>`           the outcome of one path of a change (see MUTATIONS)
 *   `E`                           the end: everything before it is complete
 * The stat tier costs one `stat` process per STAT_BATCH entries (never one for a whole directory: an
 * argument list too long would fail it); the fallback (a shell without `stat`) two processes per entry, and its times need `date -r` (GNU, BusyBox); without it they are unknown (null).
 */
import { NEUTRAL_SHELL, quoteForShellBytes } from '../shell-quote';

export const REMOTE_MARKER = 'SCP-REMOTE:';

function text(value: string): Buffer {
  return Buffer.from(value, 'utf8');
}

/** The shell made neutral (C locale, globbing as POSIX says, zsh splitting words), the tier chosen and announced. */
const PRELUDE =
  `${NEUTRAL_SHELL}; [ -z "\${ZSH_VERSION-}" ] || setopt SH_WORD_SPLIT; export LC_ALL; ` +
  `if stat -c %f / >/dev/null 2>&1; then S=s; else S=l; fi; printf '${REMOTE_MARKER}%s\\0' "$S"; `;

/** Names one `stat` process is given: far below any argument cap (128 paths of 4 KiB are 512 KiB). */
export const STAT_BATCH = 128;

/** One batch: the `${i}` references gathered in $c expanded by eval (only numbers are spliced in). */
const STAT_RUN = `printf S; eval "stat -c '%f %s %Y %n' -- $c"; printf '\\0T%s\\0' $?; c=; k=0; `;

/**
 * `M path...`: each path that exists (a glob that matched nothing stays a word naming nothing), then what
 * it is: in the stat tier a block per STAT_BATCH candidates, in the fallback one L record per candidate,
 * where `g` prints `ls -ldn`'s first and fifth columns (mode string, size) of the words it is given;
 * globbing is off while the line is split.
 */
const META =
  `g(){ printf 'L%s %s' "$1" "$5"; }; ` +
  `M(){ i=0; k=0; c=; for f do i=$((i+1)); if [ -e "$f" ] || [ -h "$f" ]; then printf 'N%s\\0' "$f"; ` +
  `if [ "$S" = s ]; then c="$c \\"\\\${$i}\\""; k=$((k+1)); if [ $k -ge ${STAT_BATCH} ]; then ${STAT_RUN}fi; ` +
  `else l=$(ls -ldn -- "$f" 2>/dev/null); t=$(date -r "$f" +%s 2>/dev/null); set -f; g $l; set +f; printf ' %s\\0' "\${t:--}"; fi; fi; done; ` +
  `if [ $k -gt 0 ]; then ${STAT_RUN}fi; }; `;

/**
 * `L dir depth`: lists `dir` (every name, dot names too, never `.` or `..`) and, below `maxDepth`, each
 * real directory in it (not a symlink to one) in a subshell of its own, so the variables of one level
 * are not the next one's.
 */
function listFunction(maxDepth: number): string {
  return (
    `L(){ d=$1; n=$2; printf 'D%s\\0' "$d"; ` +
    `if [ ! -r "$d" ] || [ ! -x "$d" ]; then printf 'A%s\\0' "$d"; exit 0; fi; ` +
    `if [ "$d" = / ]; then p=; else p=$d; fi; ` +
    `set -- "$p"/* "$p"/.[!.]* "$p"/..?*; M "$@"; ` +
    `if [ "$n" -lt ${maxDepth} ]; then for f do if [ -d "$f" ] && [ ! -h "$f" ]; then ( L "$f" $((n+1)) ); fi; done; fi; }; `
  );
}

/** Lists `dir` (trailing slashes already removed) down to `maxDepth` levels. */
export function listCommand(dir: Buffer, maxDepth: number): Buffer {
  const quoted = quoteForShellBytes(dir);
  return Buffer.concat([
    text(PRELUDE + META + listFunction(Math.max(1, Math.floor(maxDepth)))),
    text('r='),
    quoted,
    text(`; if [ ! -e "$r" ] && [ ! -h "$r" ]; then printf 'Xn\\0'; elif [ ! -d "$r" ]; then printf 'Xt\\0'; else L "$r" 1; fi; printf 'E\\0'`),
  ]);
}

/** What is at one path (not following a symlink): its candidate and meta records, nothing when missing. */
export function statCommand(path: Buffer): Buffer {
  return Buffer.concat([text(PRELUDE + META + 'M '), quoteForShellBytes(path), text(`; printf 'E\\0'`)]);
}

/** The one-letter outcomes a change prints per path: 0 done, x existed already, or what stopped it. */
export const OUTCOME_LETTERS = {
  done: '0',
  existed: 'x',
  missing: 'n',
  exists: 'e',
  isDirectory: 'i',
  notDirectory: 't',
  failed: 'f',
} as const;

const missing = `[ ! -e "$1" ] && [ ! -h "$1" ]`;
const realDirectory = `[ -d "$1" ] && [ ! -h "$1" ]`;
/** runs the command in $c on the path(s), printing R0 or Rf with its error output */
const attempt = (command: string): string => `elif e=$(${command} 2>&1); then printf 'R0\\0'; else printf 'Rf%s\\0' "$e"; fi; }; `;

/** The function `o` of each change: one call per path (per pair for rename). */
export function changeFunction(operation: 'delete' | 'rmdir' | 'mkdir' | 'chmod' | 'rename', options: { parents?: boolean; mode?: number; overwrite?: boolean } = {}): string {
  switch (operation) {
    case 'delete':
      return `o(){ if ${missing}; then printf 'Rn\\0'; elif ${realDirectory}; then printf 'Ri\\0'; ${attempt('rm -f -- "$1"')}`;
    case 'rmdir':
      return `o(){ if ${missing}; then printf 'Rn\\0'; elif ! { ${realDirectory}; }; then printf 'Rt\\0'; ${attempt('rmdir -- "$1"')}`;
    case 'mkdir':
      return (
        `o(){ if ${realDirectory}; then printf 'Rx\\0'; elif [ -e "$1" ] || [ -h "$1" ]; then printf 'Re\\0'; ` +
        attempt(`mkdir ${options.parents ? '-p ' : ''}-- "$1"`)
      );
    case 'chmod': {
      const mode = ((options.mode ?? 0) & 0o7777).toString(8).padStart(4, '0');
      return `o(){ if [ ! -e "$1" ]; then printf 'Rn\\0'; ${attempt(`chmod ${mode} -- "$1"`)}`;
    }
    case 'rename':
      return (
        `o(){ if ${missing}; then printf 'Rn\\0'; elif [ -d "$2" ]; then printf 'Ri\\0'; ` +
        (options.overwrite ? '' : `elif [ -e "$2" ] || [ -h "$2" ]; then printf 'Re\\0'; `) +
        attempt('mv -f -- "$1" "$2"')
      );
  }
}

/** What every change command starts with: the prelude and the change function `o`. */
export function changePrefix(fn: string): Buffer {
  return text(PRELUDE + fn);
}

/** One call of the change function: `o 'path'; ` (`o 'from' 'to'; ` for rename). */
export function changeCall(args: Buffer[]): Buffer {
  const parts: Buffer[] = [text('o')];
  for (const arg of args) parts.push(text(' '), quoteForShellBytes(arg));
  parts.push(text('; '));
  return Buffer.concat(parts);
}

/** What every change command ends with: the end record. */
export const CHANGE_SUFFIX = text(`printf 'E\\0'`);
