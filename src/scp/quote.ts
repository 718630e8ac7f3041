/**
 * Remote paths reach the server's login shell inside the `scp -t/-f` command line. OpenSSH's own client
 * puts them there unquoted (CVE-2020-15778); we single-quote every path so the shell sees one literal word.
 */
import { TransferError } from '../errors';
import { cleanText } from '../text';

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

export interface ScpCommandOptions {
  /** 'sink' = the server receives (`scp -t`), 'source' = the server sends (`scp -f`) */
  role: 'sink' | 'source';
  recursive?: boolean;
  preserve?: boolean;
  /** `-d`: the target must be a directory (only meaningful with role 'sink') */
  targetIsDirectory?: boolean;
}

export function commandPrefix(options: ScpCommandOptions): string {
  const flags = [options.role === 'sink' ? '-t' : '-f'];
  if (options.recursive) flags.push('-r');
  if (options.preserve) flags.push('-p');
  if (options.targetIsDirectory && options.role === 'sink') flags.push('-d');
  // `--` ends option parsing, so a path that starts with '-' is never read as an option.
  return `scp ${flags.join(' ')} -- `;
}

/**
 * "scp -t [-r] [-p] [-d] -- '<path>'". A Buffer path gives a Buffer command: ssh2's exec writes a Buffer
 * command into the channel request unchanged, so raw bytes (invalid UTF-8) reach the server exactly.
 */
export function buildScpCommand(path: string, options: ScpCommandOptions): string;
export function buildScpCommand(path: Buffer, options: ScpCommandOptions): Buffer;
export function buildScpCommand(path: string | Buffer, options: ScpCommandOptions): string | Buffer {
  const prefix = commandPrefix(options);
  if (typeof path === 'string') return prefix + quoteForShell(path);
  return Buffer.concat([Buffer.from(prefix, 'latin1'), quoteForShellBytes(path)]);
}
