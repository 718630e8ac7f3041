/**
 * The login the test servers accept. As root (CI): a throwaway account created for this run and removed at
 * its end. Not root: the current user, key authentication only (sshd cannot check passwords without root).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onCleanup } from './cleanup';
import { mustRun, runCommand, runSync } from './exec';
import { getClientKeys } from './keys';
import { isAlive, killAll, pidsOfUid } from './proc';
import { TEMP_NAME, makeUntrackedTempDir } from './tmp';
import { sweepAbandoned } from './abandoned';

export interface TestUser {
  username: string;
  /** empty when not running as root */
  password: string;
  home: string;
  uid: number;
  gid: number;
  /** false when the harness runs as a normal user and logs in as that user */
  throwaway: boolean;
}

/** GECOS marker on accounts this harness creates, so a later run can remove ones left by a killed run. */
const MARKER = 'node-red-scp test harness pid=';
const NAME_PREFIX = 'scpt_';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

let testUser: Promise<TestUser> | undefined;

/** The one login of this run (created on first use). */
export function getTestUser(): Promise<TestUser> {
  sweepAbandoned();
  testUser ??= isRoot() ? createThrowawayUser() : Promise.resolve(currentUser());
  return testUser;
}

function currentUser(): TestUser {
  const info = os.userInfo();
  return { username: info.username, password: '', home: info.homedir, uid: info.uid, gid: info.gid, throwaway: false };
}

async function createThrowawayUser(): Promise<TestUser> {
  removeAbandonedUsers();
  const username = `${NAME_PREFIX}${crypto.randomBytes(4).toString('hex')}`;
  const password = crypto.randomBytes(12).toString('hex');
  // The home lives in a temp dir of its own; the dir must be traversable by the user (mkdtemp gives 0700).
  const parent = makeUntrackedTempDir('home');
  fs.chmodSync(parent, 0o755);
  const emptySkeleton = makeUntrackedTempDir('skel');
  const home = path.join(parent, username);

  let created = false;
  onCleanup(`remove user ${username}`, () => {
    fs.rmSync(emptySkeleton, { recursive: true, force: true });
    if (created) removeUserSync(username);
    fs.rmSync(parent, { recursive: true, force: true });
  });

  // useradd fails when another run holds /etc/passwd's lock for a moment: retry a few times.
  for (let attempt = 1; ; attempt++) {
    const result = await runCommand('useradd', [
      '-m', '-d', home, '-k', emptySkeleton, '-s', '/bin/sh', '-U', '-c', `${MARKER}${process.pid}`, username,
    ]);
    if (result.code === 0) break;
    if (attempt >= 8 || !/lock|try again/i.test(result.stderr)) {
      throw new Error(`useradd ${username} failed (exit ${result.code}): ${result.stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 250 * attempt));
  }
  created = true;
  await mustRun('chpasswd', [], { input: `${username}:${password}\n` });

  const { uid, gid } = fs.statSync(home);
  // Dropbear reads only ~/.ssh/authorized_keys, and insists on owner-only permissions along that path.
  const sshDir = path.join(home, '.ssh');
  fs.mkdirSync(sshDir, { mode: 0o700 });
  fs.writeFileSync(path.join(sshDir, 'authorized_keys'), (await getClientKeys()).authorizedKeys, { mode: 0o600 });
  fs.chownSync(sshDir, uid, gid);
  fs.chownSync(path.join(sshDir, 'authorized_keys'), uid, gid);
  fs.chmodSync(home, 0o755);
  return { username, password, home, uid, gid, throwaway: true };
}

function userUid(username: string): number | undefined {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${username}:`));
  return line ? Number(line.split(':')[2]) : undefined;
}

/** Kills the user's processes, then `userdel -r`. Only ever called for accounts this harness created. */
function removeUserSync(username: string): void {
  const uid = userUid(username);
  if (uid === undefined) return;
  if (uid === 0) throw new Error(`refusing to remove ${username}: uid 0`);
  killAll(() => pidsOfUid(uid));
  for (let attempt = 0; attempt < 5; attempt++) {
    const result = runSync('userdel', ['-r', '-f', username]);
    if (result.ok || userUid(username) === undefined) return;
    if (attempt === 4) process.stderr.write(`[harness] userdel ${username} failed: ${result.output}\n`);
    runSync('sleep', ['0.2']);
  }
}

/**
 * Accounts named scpt_* whose GECOS carries our marker and whose creating process is gone were left by a run
 * that was SIGKILLed (no cleanup could run). Accounts without the exact marker are never touched.
 */
function removeAbandonedUsers(): void {
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':');
    const [name, , uid, , gecos, home] = fields;
    if (!name?.startsWith(NAME_PREFIX) || !gecos?.startsWith(MARKER) || Number(uid) === 0) continue;
    const creator = Number(gecos.slice(MARKER.length));
    if (!Number.isInteger(creator) || creator <= 0 || isAlive(creator)) continue;
    removeUserSync(name);
    const parent = home ? path.dirname(home) : '';
    if (TEMP_NAME.test(path.basename(parent))) fs.rmSync(parent, { recursive: true, force: true });
  }
}
