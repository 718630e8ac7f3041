/**
 * The server dies in the middle of a job: the job fails with ECONNRESET (not a hang, not a crash),
 * and no partial file is left at a final path on our side. (When the dead connection is noticed only
 * by the idle timeout — an upload whose window is full writes nothing that could fail — the code is
 * still ECONNRESET: the lease reports the lost connection. The short idle timeout keeps this fast.)
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import type { SshPool } from '../../src/ssh';
import { TransferError } from '../../src/errors';
import { download, upload } from '../../src/transfer';
import { type SshdServer, makeServerDir, makeTempDir, runAsUser, startSshd } from '../harness';
import { context, poolProvider, sq, directoryDownload } from './support';
import { killAt } from './support';

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: the server dies mid-transfer (${transport})`, function () {
    this.timeout(60_000);
    let server: SshdServer;
    let channels: SshPool;

    beforeEach(async function () {
      server = await startSshd();
      channels = poolProvider(server);
    });
    afterEach(async () => {
      await channels?.close();
      await server?.stop().catch(() => undefined);
    });

    it('download: ECONNRESET, local directory left empty', async function () {
      const dir = await makeServerDir(server, 'lost-down');
      await runAsUser(server, `head -c ${64 * 1024 * 1024} /dev/zero > ${sq(`${dir.relative}/big.bin`)}`);
      const local = await makeTempDir('lost-down');
      await assert.rejects(
        download(context(channels, { transport, idleTimeoutMs: 3_000, onProgress: killAt(server, 2 * 1024 * 1024) }), directoryDownload(`${dir.relative}/big.bin`, local, { overwrite: 'overwrite' })),
        (error: TransferError) => {
          assert.equal(error.code, 'ECONNRESET', error.message);
          return true;
        },
      );
      assert.deepEqual(await fs.readdir(local), []);
    });

    it('upload: ECONNRESET, no hang', async function () {
      const dir = await makeServerDir(server, 'lost-up');
      await assert.rejects(
        upload(context(channels, { transport, idleTimeoutMs: 3_000, onProgress: killAt(server, 2 * 1024 * 1024) }), {
          sources: [{ kind: 'buffer', data: Buffer.alloc(64 * 1024 * 1024, 1), name: 'big.bin' }],
          remotePath: dir.relative,
          preserve: false,
          atomic: true,
          overwrite: 'overwrite',
        }),
        (error: TransferError) => {
          assert.equal(error.code, 'ECONNRESET', error.message);
          return true;
        },
      );
      // The final name never appeared (the temporary one may remain: nobody was left to remove it).
      const listing = await runAsUser(server, `ls -A ${sq(dir.relative)}`);
      assert.ok(!listing.stdout.toString().split('\n').includes('big.bin'));
    });
  });
}
