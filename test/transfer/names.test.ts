/**
 * Hostile-looking but legal names both ways: spaces, quotes, $(...), ;, newline, leading -, non-ASCII.
 * Uploads are checked on the server with runAsUser; downloads on the local disk.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { TransferError } from '../../src/errors';
import { download, upload } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { DEFAULT_LIMITS, bufferDownload, context, useSharedPool, sq, directoryDownload } from './support';

const NAMES = ['with space', "quo'te", 'dq"uote', '$(touch pwned-names)', 'semi;colon', '-leading-dash', 'ünïcödé ✓ 日本', '`id`', 'a*b?[c]', '~tilde', '{a,b}', 'amp&pipe|gt>'];
const NEWLINE_NAME = 'new\nline';

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: special names over ${transport}`, function () {
    const shared = useSharedPool();

    it('uploads each name as a single file path and downloads it back into a buffer', async function () {
      const dir = await makeServerDir(shared.server, `names-${transport}`);
      for (const name of [...NAMES, NEWLINE_NAME]) {
        await upload(context(shared.channels, { transport }), {
          sources: [{ kind: 'buffer', data: Buffer.from(`content of ${name}`) }],
          remotePath: `${dir.relative}/${name}`,
          preserve: false,
          atomic: true,
          overwrite: 'fail',
        });
        const onServer = await runAsUser(shared.server, `cat -- ${sq(`${dir.relative}/${name}`)}`);
        assert.equal(onServer.stdout.toString(), `content of ${name}`, name);
      }
      const listing = await runAsUser(shared.server, `ls -A ${sq(dir.relative)} | wc -l`);
      assert.equal(listing.stdout.toString().trim(), String(NAMES.length + 2)); // "new\nline" counts twice in ls | wc -l
      assert.equal(await fs.stat(join(shared.server.home, 'pwned-names')).catch(() => undefined), undefined);

      for (const name of NAMES) {
        const result = await download(context(shared.channels, { transport }), bufferDownload(`${dir.relative}/${name}`, 1000));
        assert.equal(result.files[0].data?.toString(), `content of ${name}`, name);
        assert.equal(result.files[0].remotePath, `${dir.relative}/${name}`);
      }
    });

    it('downloads a tree of those names into a local directory under exactly those names', async function () {
      const dir = await makeServerDir(shared.server, `names-tree-${transport}`);
      const script = NAMES.map((name) => `printf %s ${sq(name)} > ${sq(`${dir.relative}/t/${name}`)}`).join(' && ');
      const made = await runAsUser(shared.server, `mkdir ${sq(`${dir.relative}/t`)} && ${script}`);
      assert.equal(made.code, 0, made.stderr);
      const local = await makeTempDir('names-down');
      const result = await download(context(shared.channels, { transport }), directoryDownload(`${dir.relative}/t`, local, { recursive: true }));
      assert.equal(result.files.length, NAMES.length);
      assert.deepEqual((await fs.readdir(join(local, 't'))).sort(), [...NAMES].sort());
      for (const name of NAMES) assert.equal(await fs.readFile(join(local, 't', name), 'utf8'), name);
    });

    if (transport === 'scp') {
      it('a name with a newline: SCP refuses it up front (EINVAL), auto fetches it over SFTP', async function () {
        const dir = await makeServerDir(shared.server, 'names-newline');
        await runAsUser(shared.server, `printf x > ${sq(`${dir.relative}/${NEWLINE_NAME}`)}`);
        const request = {
          remotePath: `${dir.relative}/${NEWLINE_NAME}`,
          target: { kind: 'buffer' as const, maxBytes: 10 },
          recursive: false,
          glob: false,
          preserve: false,
          overwrite: 'overwrite' as const,
          limits: DEFAULT_LIMITS,
        };
        await assert.rejects(
          download(context(shared.channels, { transport }), request),
          (error: TransferError) => error.code === 'EINVAL' && /newline/.test(error.message) && !error.message.includes('\n'),
        );
        const fetched = await download(context(shared.channels, { transport: 'auto' }), request);
        assert.equal(fetched.transport, 'sftp');
        assert.equal(fetched.files[0].data?.toString(), 'x');
      });
    }
  });
}
