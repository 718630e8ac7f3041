/** The `scp -t` / `scp -f` command line, every path single-quoted (src/shell-quote.ts). */
import { quoteForShell, quoteForShellBytes } from '../shell-quote';

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
