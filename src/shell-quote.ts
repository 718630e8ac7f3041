/**
 * POSIX sh quoting of remote paths, for every command we hand a server's login shell: the `scp -t/-f`
 * command line (src/scp), the glob listing (src/glob.ts) and the helper scripts (src/transfer/scp). OpenSSH's
 * own client puts paths there unquoted (CVE-2020-15778); we single-quote every path so the shell sees one
 * literal word.
 */
import { TransferError } from './errors';
import { cleanText } from './text';

const QUOTE = 0x27; // '
const ESCAPED_QUOTE = Buffer.from("'\\''", 'latin1');

function refuseUnusable(bytes: Buffer, shown: string): void {
  if (bytes.length === 0) throw new TransferError('EINVAL', 'the remote path is empty');
  // sshd drops the whole connection on a NUL inside an exec command, and no file name can hold one.
  if (bytes.includes(0)) {
    throw new TransferError('EINVAL', 'the remote path contains a NUL byte', { path: cleanText(shown) });
  }
}

/** POSIX sh single-quoting of raw bytes: ' -> '\'', the whole wrapped in '...'. Invalid UTF-8 passes through. */
export function quoteForShellBytes(path: Buffer): Buffer {
  refuseUnusable(path, path.toString('utf8'));
  const parts: Buffer[] = [Buffer.from("'")];
  let runStart = 0;
  for (let at = 0; at < path.length; at += 1) {
    if (path[at] !== QUOTE) continue;
    parts.push(path.subarray(runStart, at), ESCAPED_QUOTE);
    runStart = at + 1;
  }
  parts.push(path.subarray(runStart), Buffer.from("'"));
  return Buffer.concat(parts);
}

/** POSIX sh single-quoting: ' -> '\'', the whole wrapped in '...'. */
export function quoteForShell(path: string): string {
  refuseUnusable(Buffer.from(path, 'utf8'), path);
  return `'${path.split("'").join("'\\''")}'`;
}

/**
 * Shell state that changes what a pattern expands to, reset for this command: the C locale (so `?` and
 * brackets match bytes in bash and zsh too, as in dash and ash), globbing on, bash's GLOBIGNORE and
 * options (dotglob, nocaseglob, failglob: a ~/.bashrc may set them), zsh's defaults plus NULL_GLOB (zsh
 * otherwise fails a word that matches nothing).
 */
export const NEUTRAL_SHELL = [
  'LC_ALL=C',
  'set +f',
  'unset GLOBIGNORE',
  '[ -z "${BASH_VERSION-}" ] || shopt -u dotglob nocaseglob nocasematch failglob nullglob',
  '[ -z "${ZSH_VERSION-}" ] || setopt NULL_GLOB NO_GLOB_DOTS CASE_GLOB NO_EXTENDED_GLOB',
].join('; ');
