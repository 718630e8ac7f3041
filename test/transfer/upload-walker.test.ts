/**
 * The one upload walker (src/transfer/walk/upload-walk.ts) decides, for both transports alike, what a tree
 * upload leaves behind: a file in the way of a directory is found before anything is sent; a refusal
 * mid-tree places the files finished before it and removes every temporary.
 */
import * as assert from 'node:assert/strict';
import { promises as fs, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TransferError } from '../../src/errors';
import { upload } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { context, sq, useSharedPool } from './support';
import { makeLocalTree } from './tree-support';

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: the upload walker over ${transport}`, function () {
    const shared = useSharedPool();

    /** "path kind mode" of every entry below the remote directory, sorted. */
    async function remoteEntries(dir: string): Promise<string[]> {
      const out = await runAsUser(shared.server, `cd ${sq(dir)} && find . -mindepth 1 -printf '%P %y %m\\n' | sort`);
      assert.equal(out.code, 0, out.stderr);
      return out.stdout.toString().trim().split('\n').filter(Boolean);
    }

    it('a file in the way of a directory of the tree: ENOTDIR naming it, and nothing is sent', async function () {
      const local = await makeTempDir('walker-notdir');
      await makeLocalTree(local);
      const remote = await makeServerDir(shared.server, `walker-notdir-${transport}`);
      await runAsUser(shared.server, `cd ${sq(remote.relative)} && mkdir tree && printf file > tree/nested`);
      await assert.rejects(
        upload(context(shared.channels, { transport }), {
          sources: [{ kind: 'path', path: join(local, 'tree') }],
          remotePath: remote.relative,
          preserve: false,
          atomic: true,
          overwrite: 'overwrite',
        }),
        (error: TransferError) => error.code === 'ENOTDIR' && error.message.includes(`${remote.relative}/tree/nested`),
      );
      // Neither the files of tree/ (sent first) nor a temporary name: the probe found it before.
      assert.deepEqual(await remoteEntries(remote.relative), ['tree d 755', 'tree/nested f 644']);
    });

    it('a local file that vanished after planning, while earlier files are on the wire: ENOENT naming it, the files before it in place, none after, no temporary', async function () {
      const local = await makeTempDir('walker-vanished');
      const dir = join(local, 'many');
      await fs.mkdir(dir);
      await fs.chmod(dir, 0o755);
      const names = Array.from({ length: 12 }, (_, index) => `f${String(index).padStart(2, '0')}`);
      for (const name of names) {
        await fs.writeFile(join(dir, name), `${name} `.repeat(100));
        await fs.chmod(join(dir, name), 0o644);
      }
      const remote = await makeServerDir(shared.server, `walker-vanished-${transport}`);
      const events: { type: string; index?: number }[] = [];
      await assert.rejects(
        upload(
          context(shared.channels, {
            transport,
            onProgress: (event) => {
              events.push(event);
              // Before the first file's content is read: the files after it are read ahead from here on.
              if (event.type === 'fileStart' && event.index === 0) unlinkSync(join(dir, 'f05'));
            },
          }),
          { sources: [{ kind: 'path', path: dir }], remotePath: remote.relative, preserve: false, atomic: true, overwrite: 'overwrite' },
        ),
        (error: TransferError) => error.code === 'ENOENT' && error.message.includes(join(dir, 'f05')),
      );
      assert.deepEqual(await remoteEntries(remote.relative), ['many d 755', ...names.slice(0, 5).map((name) => `many/${name} f 644`)]);
      for (const name of names.slice(0, 5)) {
        const out = await runAsUser(shared.server, `cat ${sq(`${remote.relative}/many/${name}`)}`);
        assert.equal(out.stdout.toString(), `${name} `.repeat(100));
      }
      assert.deepEqual(
        events.filter((event) => event.type === 'fileEnd').map((event) => event.index),
        [0, 1, 2, 3, 4],
      );
    });

    for (const atomic of [true, false]) {
      it(`a read-only subdirectory mid-tree: EACCES, the files finished before it are in place, no temporary is left (atomic ${atomic})`, async function () {
        const local = await makeTempDir('walker-midtree');
        const files = await makeLocalTree(local);
        const remote = await makeServerDir(shared.server, `walker-midtree-${transport}-${atomic}`);
        await runAsUser(shared.server, `cd ${sq(remote.relative)} && mkdir -p tree/nested && chmod 555 tree/nested`);
        try {
          await assert.rejects(
            upload(context(shared.channels, { transport }), {
              sources: [{ kind: 'path', path: join(local, 'tree') }],
              remotePath: remote.relative,
              preserve: false,
              atomic,
              overwrite: 'overwrite',
            }),
            (error: TransferError) => error.code === 'EACCES',
          );
        } finally {
          await runAsUser(shared.server, `chmod 755 ${sq(`${remote.relative}/tree/nested`)}`);
        }
        const entries = await remoteEntries(remote.relative);
        // tree/'s own files went before its subdirectories; nothing of nested/ could be written.
        assert.deepEqual(
          entries.filter((entry) => entry.includes(' f ')),
          ['tree/a.bin f 640', 'tree/empty.txt f 600', 'tree/run.sh f 755'],
        );
        assert.ok(!entries.some((entry) => entry.includes('.part')), entries.join('\n'));
        for (const rel of ['a.bin', 'empty.txt', 'run.sh']) {
          const out = await runAsUser(shared.server, `cat ${sq(`${remote.relative}/tree/${rel}`)}`);
          assert.ok(out.stdout.equals(files.get(rel) as Buffer), rel);
        }
      });
    }
  });
}
