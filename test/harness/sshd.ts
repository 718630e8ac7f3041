/** A real OpenSSH sshd on 127.0.0.1, configured from scratch for each server (own host keys, own config). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCommand } from './exec';
import { HostKeyType, getClientKeys, publicKeyTypeAndBlob, sshKeygen, sshKeygenFingerprint } from './keys';
import { serverHandle, startOnFreePort } from './server-process';
import { makeTempDirSync } from './tmp';
import type { SshdServer } from './types';
import { getTestUser, isRoot } from './user';

export interface SshdOptions {
  /**
   * sshd_config lines. A keyword given here replaces the harness's default for it (sshd keeps the first value
   * it reads, so these go first); from the first `Match` line on, the lines go at the end of the file.
   */
  config?: string[];
  /** host keys to generate, in this order; default ['ed25519'] */
  hostKeyTypes?: HostKeyType[];
  /** listen on this port instead of a free one (e.g. another server's, after stopping it: a changed host key) */
  port?: number;
  /** more loopback addresses (e.g. 127.0.0.2) to listen on, same port: one server as many devices (sshd allows 16 listen sockets in all) */
  extraAddresses?: string[];
  /** no `Subsystem sftp` at all: the server refuses SFTP (a Dropbear-like, SCP-only server) */
  noSftp?: boolean;
}

const SSHD = '/usr/sbin/sshd';
const INSTALL_HINT = 'apt-get install -y openssh-server openssh-client';

export async function startSshd(options: SshdOptions = {}): Promise<SshdServer> {
  await checkSshdInstalled();
  const [user, keys] = await Promise.all([getTestUser(), getClientKeys()]);
  const dir = makeTempDirSync('sshd');
  // sshd reads AuthorizedKeysFile with the user's privileges: the dir and file must be readable by them.
  fs.chmodSync(dir, 0o755);
  const authorizedKeysFile = path.join(dir, 'authorized_keys');
  fs.writeFileSync(authorizedKeysFile, keys.authorizedKeys, { mode: 0o644 });
  if (isRoot()) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const hostKeyTypes = options.hostKeyTypes?.length ? options.hostKeyTypes : (['ed25519'] as HostKeyType[]);
  const hostKeyFiles = hostKeyTypes.map((type) => path.join(dir, `ssh_host_${type}_key`));
  await Promise.all(hostKeyTypes.map((type, i) => sshKeygen(type, hostKeyFiles[i] as string, '', 'scp-test-host')));
  const hostKeyFingerprints = await Promise.all(hostKeyFiles.map((f) => sshKeygenFingerprint(`${f}.pub`)));
  const hostPublicKeys = hostKeyFiles.map((f) => publicKeyTypeAndBlob(fs.readFileSync(`${f}.pub`, 'utf8')));

  const extra = await versionSpecificDefaults();
  const configFile = path.join(dir, 'sshd_config');
  const logFile = path.join(dir, 'sshd.log');

  const proc = await startOnFreePort(SSHD, options.port, /Address already in use|Cannot bind/i, (port) => {
    const defaults = [
      `ListenAddress 127.0.0.1:${port}`,
      ...(options.extraAddresses ?? []).map((address) => `ListenAddress ${address}:${port}`),
      'AddressFamily inet',
      ...hostKeyFiles.map((f) => `HostKey ${f}`),
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeysFile}`,
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication yes',
      'PermitEmptyPasswords no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin no',
      `AllowUsers ${user.username}`,
      'LogLevel VERBOSE',
      'Subsystem sftp internal-sftp',
      'PrintMotd no',
      'PrintLastLog no',
      'UseDNS no',
      'X11Forwarding no',
      // Tests open many connections at once (pool tests); the default 10:30:100 would drop some at random.
      'MaxStartups 100',
      ...extra,
    ];
    const lines = options.noSftp ? defaults.filter((line) => !line.startsWith('Subsystem sftp')) : defaults;
    fs.writeFileSync(configFile, composeConfig(lines, options.config ?? []), { mode: 0o644 });
    return { name: 'sshd', command: SSHD, args: ['-D', '-f', configFile, '-E', logFile], logFile };
  });
  return serverHandle('openssh', proc, user, keys, hostPublicKeys, hostKeyFingerprints);
}

/**
 * Defaults first, except keywords the caller sets (sshd uses the first value it reads, and some keywords such
 * as `Subsystem sftp` may not appear twice). Caller lines from the first `Match` on go last, as sshd requires.
 */
export function composeConfig(defaults: string[], callerLines: string[]): string {
  const matchAt = callerLines.findIndex((l) => /^\s*Match\s/i.test(l));
  const topLevel = matchAt < 0 ? callerLines : callerLines.slice(0, matchAt);
  const matchBlocks = matchAt < 0 ? [] : callerLines.slice(matchAt);
  const overriddenKeys = new Set(topLevel.map(configKey).filter((k) => k !== ''));
  const kept = defaults.filter((line) => !overriddenKeys.has(configKey(line)));
  return [...topLevel, ...kept, ...matchBlocks].join('\n') + '\n';
}

/** The keyword of a config line, lower-cased ("subsystem sftp" for subsystems, which are keyed by name). */
function configKey(line: string): string {
  const words = line.trim().split(/\s+/);
  const keyword = (words[0] ?? '').toLowerCase();
  if (keyword === '' || keyword.startsWith('#')) return '';
  return keyword === 'subsystem' ? `subsystem ${words[1] ?? ''}` : keyword;
}

async function checkSshdInstalled(): Promise<void> {
  for (const program of [SSHD, '/usr/bin/ssh-keygen']) {
    if (!fs.existsSync(program)) {
      throw new Error(`${program} is missing: the tests need a real OpenSSH server. Install it with: ${INSTALL_HINT}`);
    }
  }
}

let sshdVersion: Promise<[number, number]> | undefined;

/** Newer OpenSSH penalises sources that fail auth or drop connections; tests do both on purpose, often. */
async function versionSpecificDefaults(): Promise<string[]> {
  sshdVersion ??= runCommand(SSHD, ['-V']).then((r) => {
    const match = /OpenSSH_(\d+)\.(\d+)/.exec(r.stderr + r.stdout.toString('utf8'));
    return match ? [Number(match[1]), Number(match[2])] : [0, 0];
  });
  const [major, minor] = await sshdVersion;
  return major > 9 || (major === 9 && minor >= 8) ? ['PerSourcePenalties no'] : [];
}
