/** Overwrite policies overwrite / skip / fail, both directions, both transports, atomic or not. */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { TransferError } from '../../src/errors';
import { download, upload, type OverwritePolicy } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { context, useSharedPool, sq, directoryDownload } from './support';

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: overwrite policies over ${transport}`, function () {
    const shared = useSharedPool();

    for (const atomic of [true, false]) {
      for (const overwrite of ['overwrite', 'skip', 'fail'] as OverwritePolicy[]) {
        it(`upload, ${overwrite}, atomic ${atomic}: existing file ${overwrite === 'overwrite' ? 'replaced' : 'kept'}, new one written`, async function () {
          const dir = await makeServerDir(shared.server, `ow-up-${transport}`);
          await runAsUser(shared.server, `printf old > ${sq(`${dir.relative}/exists.txt`)}`);
          const request = {
            sources: [
              { kind: 'buffer' as const, data: Buffer.from('new'), name: 'exists.txt' },
              { kind: 'buffer' as const, data: Buffer.from('fresh'), name: 'fresh.txt' },
            ],
            remotePath: dir.relative,
            preserve: false,
            atomic,
            overwrite,
          };
          if (overwrite === 'fail') {
            await assert.rejects(upload(context(shared.channels, { transport }), request), (error: TransferError) => {
              assert.equal(error.code, 'EEXIST');
              assert.ok(error.message.includes('exists.txt'), error.message);
              return true;
            });
            // Checked before anything was sent: the other file was not written either.
            const listing = await runAsUser(shared.server, `ls -A ${sq(dir.relative)}`);
            assert.equal(listing.stdout.toString(), 'exists.txt\n');
          } else {
            const result = await upload(context(shared.channels, { transport }), request);
            assert.deepEqual(
              result.files.map((file) => [file.remotePath.split('/').pop(), file.transferred]),
              [
                ['exists.txt', overwrite === 'overwrite'],
                ['fresh.txt', true],
              ],
            );
            const listing = await runAsUser(shared.server, `cd ${sq(dir.relative)} && ls -A && cat exists.txt fresh.txt`);
            assert.equal(listing.stdout.toString(), `exists.txt\nfresh.txt\n${overwrite === 'overwrite' ? 'new' : 'old'}fresh`);
          }
        });
      }
    }

    it('upload, fail: a file created between the check and the rename is not replaced (atomic link)', async function () {
      const dir = await makeServerDir(shared.server, `ow-race-${transport}`);
      // The competing file appears after the policy check, while the data flows (deterministically:
      // the source stream waits for it halfway).
      async function* content(): AsyncGenerator<Buffer> {
        yield Buffer.alloc(100_000, 1);
        await runAsUser(shared.server, `printf racer > ${sq(`${dir.relative}/race.txt`)}`);
        yield Buffer.alloc(100_000, 2);
      }
      const result = upload(context(shared.channels, { transport }), {
        sources: [{ kind: 'stream', stream: Readable.from(content()), size: 200_000, name: 'race.txt' }],
        remotePath: dir.relative,
        preserve: false,
        atomic: true,
        overwrite: 'fail',
      });
      await assert.rejects(result, (error: TransferError) => error.code === 'EEXIST');
      const listing = await runAsUser(shared.server, `cd ${sq(dir.relative)} && ls -A && cat race.txt`);
      assert.equal(listing.stdout.toString(), 'race.txt\nracer');
    });

    for (const overwrite of ['overwrite', 'skip', 'fail'] as OverwritePolicy[]) {
      it(`download, ${overwrite}: existing local file ${overwrite === 'overwrite' ? 'replaced' : 'kept'}`, async function () {
        const dir = await makeServerDir(shared.server, `ow-down-${transport}`);
        await runAsUser(shared.server, `cd ${sq(dir.relative)} && mkdir d && printf new > d/exists.txt && printf fresh > d/fresh.txt`);
        const local = await makeTempDir('ow-down');
        await fs.mkdir(join(local, 'd'));
        await fs.writeFile(join(local, 'd', 'exists.txt'), 'old');
        const request = directoryDownload(`${dir.relative}/d`, local, { recursive: true, overwrite });
        if (overwrite === 'fail') {
          await assert.rejects(download(context(shared.channels, { transport }), request), (error: TransferError) => {
            assert.equal(error.code, 'EEXIST');
            assert.ok(error.message.includes(join(local, 'd', 'exists.txt')), error.message);
            return true;
          });
          assert.equal(await fs.readFile(join(local, 'd', 'exists.txt'), 'utf8'), 'old');
        } else {
          const result = await download(context(shared.channels, { transport }), request);
          const byName = new Map(result.files.map((file) => [file.remotePath.split('/').pop(), file.transferred]));
          assert.equal(byName.get('exists.txt'), overwrite === 'overwrite');
          assert.equal(byName.get('fresh.txt'), true);
          assert.equal(await fs.readFile(join(local, 'd', 'exists.txt'), 'utf8'), overwrite === 'overwrite' ? 'new' : 'old');
          assert.equal(await fs.readFile(join(local, 'd', 'fresh.txt'), 'utf8'), 'fresh');
        }
        assert.deepEqual((await fs.readdir(join(local, 'd'))).filter((name) => name.endsWith('.part')), []);
      });
    }
  });
}
