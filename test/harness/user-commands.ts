/** Looking at the server's filesystem as the test user, independently of the code under test. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onCleanup } from './cleanup';
import { CommandResult, runCommand, runSync } from './exec';
import type { SshdServer } from './types';
import { isRoot } from './user';

// Absolute: the command runs with a minimal PATH, which is also where spawn looks the program up.
const RUNUSER = ['/usr/sbin/runuser', '/sbin/runuser'].find((p) => fs.existsSync(p)) ?? '/usr/sbin/runuser';

/** Runs `sh -c shellCommand` as the server's user, in its home. Never rejects for a non-zero exit: read `code`. */
export function runAsUser(server: Pick<SshdServer, 'username' | 'home'>, shellCommand: string): Promise<CommandResult> {
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: server.home,
    USER: server.username,
    LOGNAME: server.username,
    LC_ALL: 'C',
  };
  if (isRoot()) {
    return runCommand(RUNUSER, ['-u', server.username, '--', '/bin/sh', '-c', shellCommand], { cwd: server.home, env });
  }
  return runCommand('/bin/sh', ['-c', shellCommand], { cwd: server.home, env });
}

/** The absolute path on the server of `relative` (relative to the user's home). */
export function serverPath(server: Pick<SshdServer, 'home'>, relative: string): string {
  return path.join(server.home, relative);
}

/**
 * A fresh directory in the user's home, created by the user (so it is theirs), removed at the end of the run.
 * Returns the path relative to the home (what a remote path would say) and the absolute one.
 */
export async function makeServerDir(
  server: Pick<SshdServer, 'username' | 'home'>,
  prefix: string,
): Promise<{ relative: string; absolute: string }> {
  const relative = `${prefix.replace(/[^A-Za-z0-9._-]/g, '_')}-${crypto.randomBytes(5).toString('hex')}`;
  const absolute = serverPath(server, relative);
  const result = await runAsUser(server, `mkdir -- '${relative}'`);
  if (result.code !== 0) throw new Error(`cannot create ${absolute} as ${server.username}: ${result.stderr.trim()}`);
  onCleanup(`remove ${absolute}`, () => {
    // chmod first: tests make unreadable/unwritable dirs on purpose.
    runSync('chmod', ['-R', 'u+rwx', absolute]);
    runSync('rm', ['-rf', '--', absolute]);
  });
  return { relative, absolute };
}
