/**
 * Local safety of downloads: nothing a server-chosen name points at is followed or replaced (symlinks,
 * FIFOs), directories stay inside the target, and targets that make no sense are refused early.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { TransferError } from '../../src/errors';
import { download } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { context, sq, useSharedPool, directoryDownload } from './support';

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: local safety of downloads over ${transport}`, function () {
    const shared = useSharedPool();
    let dir: { relative: string };

    before(async function () {
      dir = await makeServerDir(shared.server, `safety-${transport}`);
      const made = await runAsUser(shared.server, `cd ${sq(dir.relative)} && mkdir tree && printf payload > tree/victim && printf payload > victim`);
      assert.equal(made.code, 0, made.stderr);
    });

    const request = (path: string, recursive: boolean, overwrite: 'overwrite' | 'skip' | 'fail' = 'overwrite') =>
      directoryDownload(`${dir.relative}/${recursive ? 'tree' : 'victim'}`, path, { recursive, overwrite });

    for (const overwrite of ['overwrite', 'skip'] as const) {
      it(`a symlink where the file would land is refused (EINVAL, saying so) and its target untouched (${overwrite})`, async function () {
        const local = await makeTempDir('symlink');
        const outside = await makeTempDir('outside');
        await fs.writeFile(join(outside, 'precious'), 'precious');
        await fs.symlink(join(outside, 'precious'), join(local, 'victim'));
        await assert.rejects(download(context(shared.channels, { transport }), request(local, false, overwrite)), (error: TransferError) => {
          assert.equal(error.code, 'EINVAL');
          assert.match(error.message, /symbolic link/);
          return true;
        });
        assert.equal(await fs.readFile(join(outside, 'precious'), 'utf8'), 'precious');
        assert.ok((await fs.lstat(join(local, 'victim'))).isSymbolicLink());
        assert.deepEqual(await fs.readdir(local), ['victim']);
      });
    }

    it('a symlinked directory where a remote directory would go is refused, nothing written through it', async function () {
      const local = await makeTempDir('symdir');
      const outside = await makeTempDir('outside-dir');
      await fs.symlink(outside, join(local, 'tree'));
      await assert.rejects(download(context(shared.channels, { transport }), request(local, true)), (error: TransferError) => error.code === 'EINVAL');
      assert.deepEqual(await fs.readdir(outside), []);
    });

    it('a FIFO in the way is refused without opening it', async function () {
      const local = await makeTempDir('fifo');
      execFileSync('mkfifo', [join(local, 'victim')]);
      await assert.rejects(download(context(shared.channels, { transport }), request(local, false)), (error: TransferError) => {
        assert.equal(error.code, 'EINVAL');
        assert.match(error.message, /FIFO/);
        return true;
      });
      assert.ok((await fs.lstat(join(local, 'victim'))).isFIFO());
    });

    it('refuses a missing target directory (ENOENT) and a file target that is a directory (EISDIR)', async function () {
      const local = await makeTempDir('targets');
      await assert.rejects(download(context(shared.channels, { transport }), request(join(local, 'missing'), false)), (error: TransferError) => error.code === 'ENOENT');
      await assert.rejects(
        download(context(shared.channels, { transport }), { ...request(local, false), target: { kind: 'file', path: local } }),
        (error: TransferError) => error.code === 'EISDIR',
      );
      await assert.rejects(
        download(context(shared.channels, { transport }), { ...request(local, true), target: { kind: 'buffer', maxBytes: 10 } }),
        (error: TransferError) => error.code === 'EINVAL',
      );
    });
  });
}
