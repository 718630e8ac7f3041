/**
 * Interop matrix: the same upload/download checks (one file, a tree with modes and times, a 20 MiB file)
 * against OpenSSH with SCP, an OpenSSH SFTP-only account (transport 'auto' must land on SFTP), and
 * Dropbear (which runs the system's scp, and OpenSSH's sftp-server for SFTP). With 'auto' the one small
 * file moves over the kept SFTP session (both servers prove SFTP sees the shell's paths), the rest over SCP.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { SshPool } from '../../src/ssh';
import { download, upload, type TransportChoice, type TransportUsed } from '../../src/transfer';
import { type SshdServer, isRoot, makeServerDir, makeTempDir, runAsUser, sharedSshd, skipOrFail, startDropbear, startSshd } from '../harness';
import { DEFAULT_LIMITS, context, poolProvider, randomData, sha256, directoryDownload } from '../transfer/support';
import { describeLocal, describeRemote, makeLocalTree } from '../transfer/tree-support';

interface Target {
  name: string;
  start(): Promise<SshdServer>;
  shared: boolean;
  needsRoot?: boolean;
  /** `small`: what the one-file case (123 KiB) moves over, when not `expect` (auto: the kept SFTP session once proven) */
  runs: { transport: TransportChoice; expect: TransportUsed; small?: TransportUsed }[];
}

const TARGETS: Target[] = [
  {
    name: 'OpenSSH',
    start: sharedSshd,
    shared: true,
    runs: [{ transport: 'scp', expect: 'scp' }, { transport: 'auto', expect: 'scp', small: 'sftp' }, { transport: 'sftp', expect: 'sftp' }],
  },
  {
    name: 'OpenSSH SFTP-only (ForceCommand internal-sftp)',
    start: () => startSshd({ config: ['ForceCommand internal-sftp'] }),
    shared: false,
    runs: [{ transport: 'auto', expect: 'sftp' }],
  },
  {
    name: 'Dropbear',
    start: () => startDropbear(),
    shared: false,
    needsRoot: true,
    runs: [{ transport: 'scp', expect: 'scp' }, { transport: 'auto', expect: 'scp', small: 'sftp' }, { transport: 'sftp', expect: 'sftp' }],
  },
];

for (const target of TARGETS) {
  describe(`interop: ${target.name}`, function () {
    this.timeout(120_000);
    let server: SshdServer;
    let channels: SshPool;

    before(async function () {
      if (target.needsRoot && !isRoot()) skipOrFail(this, `root to start ${target.name}`);
      server = await target.start();
      channels = poolProvider(server);
    });
    after(async () => {
      await channels?.close();
      if (server && !target.shared) await server.stop();
    });

    for (const run of target.runs) {
      const ctx = () => context(channels, { transport: run.transport });

      it(`[${run.transport}] one file up and down byte-exact, through ${run.small ?? run.expect}`, async function () {
        const dir = await makeServerDir(server, 'interop-one');
        const data = randomData(123_457);
        const up = await upload(ctx(), { sources: [{ kind: 'buffer', data }], remotePath: `${dir.relative}/one.bin`, preserve: false, atomic: true, overwrite: 'fail' });
        assert.equal(up.transport, run.small ?? run.expect);
        const onServer = await runAsUser(server, `sha256sum ${dir.relative}/one.bin`);
        assert.equal(onServer.stdout.toString().split(' ')[0], sha256(data));
        const down = await download(ctx(), {
          remotePath: `${dir.relative}/one.bin`,
          target: { kind: 'buffer', maxBytes: data.length },
          recursive: false,
          glob: false,
          preserve: false,
          overwrite: 'overwrite',
          limits: DEFAULT_LIMITS,
        });
        assert.equal(down.transport, run.small ?? run.expect);
        assert.equal(sha256(down.files[0].data as Buffer), sha256(data));
      });

      it(`[${run.transport}] a directory tree with modes and times both ways`, async function () {
        const local = await makeTempDir('interop-tree');
        await makeLocalTree(local);
        const dir = await makeServerDir(server, 'interop-tree');
        const up = await upload(ctx(), { sources: [{ kind: 'path', path: join(local, 'tree') }], remotePath: dir.relative, preserve: true, atomic: true, overwrite: 'fail' });
        assert.equal(up.transport, run.expect);
        const expected = await describeLocal(join(local, 'tree'));
        assert.deepEqual(await describeRemote(server, `${dir.relative}/tree`), expected);
        const back = await makeTempDir('interop-back');
        const down = await download(ctx(), directoryDownload(`${dir.relative}/tree`, back, { recursive: true, preserve: true }));
        assert.equal(down.transport, run.expect);
        assert.deepEqual(await describeLocal(join(back, 'tree')), expected);
      });

      it(`[${run.transport}] a 20 MiB file up and down to local files`, async function () {
        const local = await makeTempDir('interop-big');
        const data = randomData(20 * 1024 * 1024);
        await fs.writeFile(join(local, 'big.bin'), data);
        const dir = await makeServerDir(server, 'interop-big');
        const up = await upload(ctx(), { sources: [{ kind: 'path', path: join(local, 'big.bin') }], remotePath: dir.relative, preserve: false, atomic: true, overwrite: 'fail' });
        assert.equal(up.transport, run.expect);
        assert.equal(up.bytes, data.length);
        const down = await download(ctx(), {
          remotePath: `${dir.relative}/big.bin`,
          target: { kind: 'file', path: join(local, 'back.bin') },
          recursive: false,
          glob: false,
          preserve: false,
          overwrite: 'fail',
          limits: DEFAULT_LIMITS,
        });
        assert.equal(down.transport, run.expect);
        assert.equal(sha256(await fs.readFile(join(local, 'back.bin'))), sha256(data));
      });
    }
  });
}
