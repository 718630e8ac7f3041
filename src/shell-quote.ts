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
