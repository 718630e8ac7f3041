/** A real Dropbear server on 127.0.0.1: the other SSH server found on routers and IoT devices. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mustRun } from './exec';
import { HostKeyType, fingerprintOfPublicKeyLine, getClientKeys, publicKeyTypeAndBlob } from './keys';
import { serverHandle, startOnFreePort } from './server-process';
import { makeTempDirSync } from './tmp';
import type { SshdServer } from './types';
import { getTestUser, isRoot } from './user';

export interface DropbearOptions {
  /** host keys to generate, in this order; default ['ed25519'] */
  hostKeyTypes?: HostKeyType[];
  /** extra dropbear command-line arguments (e.g. ['-s'] to refuse passwords) */
  args?: string[];
  /** listen on this port instead of a free one */
  port?: number;
  /**
   * no SFTP (a device built without sftp-server): Dropbear runs in a mount namespace of its own where
   * /dev/null hides the sftp-server it would start
   */
  noSftp?: boolean;
}

const DROPBEAR = '/usr/sbin/dropbear';
const DROPBEARKEY = '/usr/bin/dropbearkey';
/** The sftp-server Debian's Dropbear starts for the SFTP subsystem (compiled in). */
const DROPBEAR_SFTP_SERVER = '/usr/lib/sftp-server';

export async function startDropbear(options: DropbearOptions = {}): Promise<SshdServer> {
  for (const program of [DROPBEAR, DROPBEARKEY]) {
    if (!fs.existsSync(program)) {
      throw new Error(`${program} is missing: the Dropbear tests need it. Install it with: apt-get install -y dropbear-bin`);
    }
  }
  // Dropbear has no AuthorizedKeysFile option: it reads ~/.ssh/authorized_keys, which the harness writes for
  // its throwaway user only. The current user's own file is not ours to change.
  if (!isRoot()) {
    throw new Error('startDropbear needs root: Dropbear can only use the throwaway user\'s ~/.ssh/authorized_keys');
  }
  const [user, keys] = await Promise.all([getTestUser(), getClientKeys()]);
  const dir = makeTempDirSync('dropbear');
  const hostKeyTypes = options.hostKeyTypes?.length ? options.hostKeyTypes : (['ed25519'] as HostKeyType[]);
  const hostKeyFiles = hostKeyTypes.map((type) => path.join(dir, `dropbear_${type}_host_key`));
  const publicLines = await Promise.all(
    hostKeyTypes.map(async (type, i) => {
      const file = hostKeyFiles[i] as string;
      await mustRun(DROPBEARKEY, ['-t', type, '-f', file]);
      // `dropbearkey -y` prints "Public key portion is:", the key line, then a fingerprint line.
      const out = await mustRun(DROPBEARKEY, ['-y', '-f', file]);
      const line = out.split('\n').find((l) => /^(ssh-|ecdsa-)/.test(l));
      if (!line) throw new Error(`unexpected dropbearkey -y output: ${out}`);
      return publicKeyTypeAndBlob(line);
    }),
  );

  const proc = await startOnFreePort(DROPBEAR, options.port, /Address already in use|Failed listening/i, (port) => {
    const args = [
      '-F', '-E', '-m', '-w', '-j', '-k',
      '-p', `127.0.0.1:${port}`,
      '-P', path.join(dir, 'dropbear.pid'),
      ...hostKeyFiles.flatMap((f) => ['-r', f]),
      ...(options.args ?? []),
    ];
    if (!options.noSftp) return { name: 'dropbear', command: DROPBEAR, args };
    // unshare and sh exec into Dropbear: the process the harness stops is Dropbear's.
    const hide = `mount --bind /dev/null ${DROPBEAR_SFTP_SERVER} && exec "$0" "$@"`;
    return { name: 'dropbear', command: 'unshare', args: ['--mount', '--propagation', 'private', 'sh', '-c', hide, DROPBEAR, ...args] };
  });
  return serverHandle('dropbear', proc, user, keys, publicLines, publicLines.map(fingerprintOfPublicKeyLine));
}
