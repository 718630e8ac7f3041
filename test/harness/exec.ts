/** Small wrappers around child_process for the harness's own commands (ssh-keygen, useradd, ...). */
import { execFile, execFileSync } from 'node:child_process';

export interface CommandResult {
  stdout: Buffer;
  stderr: string;
  code: number;
}

/** Runs a program, never rejects on a non-zero exit: the caller reads `code`. Rejects only if it cannot start. */
export function runCommand(
  file: string,
  args: string[],
  options: { input?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, cwd: options.cwd, env: options.env },
      (err, stdout, stderr) => {
        const spawnError = err as (NodeJS.ErrnoException & { code?: string | number }) | null;
        if (spawnError && typeof spawnError.code === 'string') {
          reject(new Error(`cannot run ${file}: ${spawnError.message}`));
          return;
        }
        const code = spawnError ? (typeof spawnError.code === 'number' ? spawnError.code : 1) : 0;
        resolve({ stdout, stderr: stderr.toString('utf8'), code });
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

/** Runs a program and returns its stdout; throws with its stderr when it exits non-zero. */
export async function mustRun(file: string, args: string[], options: { input?: string } = {}): Promise<string> {
  const result = await runCommand(file, args, options);
  if (result.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
  }
  return result.stdout.toString('utf8');
}

/** Synchronous variant for cleanups (process 'exit'); failures are returned, not thrown. */
export function runSync(file: string, args: string[]): { ok: boolean; output: string } {
  try {
    const out = execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    return { ok: true, output: out };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { ok: false, output: (e.stderr ?? '').trim() || e.message };
  }
}
