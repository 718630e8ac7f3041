/**
 * System errors met on the server or on this machine, through the nodes against the real sshd: the same
 * situation gives the same code (and for a name too long the same message) over SCP and over SFTP. A full
 * disk is a small tmpfs mounted for the test (root only, removed in `after`).
 */
import assert from 'assert';
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { isRoot, makeTempDir, runAsUser, skipOrFail } from '../harness';
import { assertReadable, translatedNodes } from './catalog';
import { connectionDef, downloadDef, errorCode, helper, send, sinks, uploadDef, useNodeRed, type Outcome } from './support';
import { useServerDir, useSharedSshd } from '../support';

const TRANSPORTS = ['scp', 'sftp'] as const;
const LONG_NAME = 'n'.repeat(300);
const TMPFS_BYTES = 256 * 1024;
const PAYLOAD_BYTES = 2 * 1024 * 1024;

function messageOf(outcome: Outcome): string {
  return String((outcome.error?.error as { message?: unknown } | undefined)?.message ?? '');
}

/** A tmpfs of TMPFS_BYTES at `dir` owned by `owner` (uid:gid); returns the unmount. */
function mountSmallTmpfs(dir: string, owner: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES},mode=0755`, 'tmpfs', dir]);
  execFileSync('chown', [owner, dir]);
  return () => execFileSync('umount', ['-l', dir]);
}

describe('nodes: system errors read the same over SCP and SFTP (real sshd)', function () {
  useNodeRed();
  const server = useSharedSshd();
  const dir = useServerDir(server, 'nodes-errors-system');

  /** One upload and one download node per transport: upScp, upSftp, downScp, downSftp. */
  async function load(download: Record<string, unknown> = {}): Promise<void> {
    const nodes: Record<string, unknown>[] = [];
    for (const transport of TRANSPORTS) {
      const suffix = transport === 'scp' ? 'Scp' : 'Sftp';
      nodes.push(connectionDef(server, { id: `conn${suffix}`, transport }));
      nodes.push(uploadDef({ id: `up${suffix}`, connection: `conn${suffix}` }));
      nodes.push(downloadDef({ id: `down${suffix}`, connection: `conn${suffix}`, ...download }));
    }
    const credentials = { password: server.password, privateKey: server.clientKey };
    await helper.load(translatedNodes, [...nodes, ...sinks()], { connScp: credentials, connSftp: credentials });
  }

  /** Sends the same message through the SCP and the SFTP node; returns [code, message] of each. */
  async function both(kind: 'up' | 'down', msg: () => Record<string, unknown>): Promise<[string, string][]> {
    const seen: [string, string][] = [];
    for (const suffix of ['Scp', 'Sftp']) {
      const outcome = await send(`${kind}${suffix}`, msg());
      seen.push([String(errorCode(outcome)), messageOf(outcome)]);
    }
    return seen;
  }

  describe('a 300-byte name component', function () {
    it('upload: EINVAL with one message on both transports, naming the path', async function () {
      await load();
      const remotePath = `${dir.absolute}/${LONG_NAME}`;
      const [scp, sftp] = await both('up', () => ({ payload: 'x', remotePath }));
      assert.deepStrictEqual(scp, sftp, 'the same code and message over SCP and SFTP');
      assert.strictEqual(scp[0], 'EINVAL');
      assertReadable(scp[1], ['A name in the path is too long for the file system', LONG_NAME]);
    });

    it('download: EINVAL with one message on both transports', async function () {
      await load();
      const remotePath = `${dir.absolute}/${LONG_NAME}`;
      const [scp, sftp] = await both('down', () => ({ remotePath }));
      assert.deepStrictEqual(scp, sftp, 'the same code and message over SCP and SFTP');
      assert.strictEqual(scp[0], 'EINVAL');
      assertReadable(scp[1], ['A name in the path is too long for the file system', LONG_NAME]);
    });

    it('a local target with a 300-byte name: the same code and words', async function () {
      const local = await makeTempDir('errors-system-long');
      const remotePath = `${dir.absolute}/short.txt`;
      await runAsUser(server, `printf 'short' > '${remotePath}'`);
      await load({ target: 'file' });
      const localPath = path.join(local, LONG_NAME);
      const [scp, sftp] = await both('down', () => ({ remotePath, localPath }));
      assert.deepStrictEqual(scp, sftp);
      assert.strictEqual(scp[0], 'EINVAL');
      assertReadable(scp[1], ['A name in the path is too long for the file system', localPath]);
    });
  });

  describe('a full disk', function () {
    const unmounts: (() => void)[] = [];
    after(function () {
      for (const unmount of unmounts.splice(0)) unmount();
    });

    it('upload onto a full server file system: ENOSPC on both transports (not ETOOBIG, not EACCES)', async function () {
      if (!isRoot()) return skipOrFail(this, 'mounting a small tmpfs needs root');
      const full = `${dir.absolute}/full`;
      const owner = (await runAsUser(server, 'echo "$(id -u):$(id -g)"')).stdout.toString().trim();
      unmounts.push(mountSmallTmpfs(full, owner));
      await load();
      const payload = Buffer.alloc(PAYLOAD_BYTES, 7);
      const seen = await both('up', () => ({ payload, remotePath: `${full}/big.bin` }));
      for (const [code, message] of seen) {
        assert.strictEqual(code, 'ENOSPC', message);
        assertReadable(message, ['The file system is full', `${full}/big.bin`]);
      }
      const left = (await runAsUser(server, `ls -A '${full}'`)).stdout.toString().trim();
      assert.strictEqual(left, '', 'no partial file is left on the full file system');
    });

    it('download onto a full local file system: ENOSPC on both transports', async function () {
      if (!isRoot()) return skipOrFail(this, 'mounting a small tmpfs needs root');
      const local = path.join(await makeTempDir('errors-system-full'), 'full');
      unmounts.push(mountSmallTmpfs(local, `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`));
      const remotePath = `${dir.absolute}/big-source.bin`;
      await runAsUser(server, `head -c ${PAYLOAD_BYTES} /dev/zero > '${remotePath}'`);
      await load({ target: 'file' });
      const seen = await both('down', () => ({ remotePath, localPath: path.join(local, 'big.bin') }));
      for (const [code, message] of seen) {
        assert.strictEqual(code, 'ENOSPC', message);
        assertReadable(message, ['The file system is full', path.join(local, 'big.bin')]);
      }
      assert.deepStrictEqual(fs.readdirSync(local), [], 'the temporary file is removed');
    });
  });
});
