/**
 * Directory trees both ways over one channel, with modes and times preserved (checked with stat on
 * both sides), several sources in one request, streams of unknown size, local file sources.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { download, upload } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { context, useSharedPool, randomData, sha256, sq, directoryDownload } from './support';
import { describeLocal, describeRemote, makeLocalTree } from './tree-support';

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: trees and sources over ${transport}`, function () {
    const shared = useSharedPool();

    it('uploads a directory tree with modes and times, and downloads it back identical', async function () {
      const local = await makeTempDir('tree-up');
      const files = await makeLocalTree(local);
      const remote = await makeServerDir(shared.server, `tree-${transport}`);
      const up = await upload(context(shared.channels, { transport }), {
        sources: [{ kind: 'path', path: join(local, 'tree') }],
        remotePath: remote.relative,
        preserve: true,
        atomic: true,
        overwrite: 'fail',
      });
      assert.equal(up.transport, transport);
      assert.equal(up.files.length, files.size);
      assert.equal(up.bytes, [...files.values()].reduce((sum, data) => sum + data.length, 0));
      const localView = await describeLocal(join(local, 'tree'));
      const remoteView = await describeRemote(shared.server, `${remote.relative}/tree`);
      assert.deepEqual(remoteView, localView);

      const back = await makeTempDir('tree-down');
      const down = await download(context(shared.channels, { transport }), directoryDownload(`${remote.relative}/tree`, back, { recursive: true, preserve: true }));
      assert.equal(down.files.length, files.size);
      assert.deepEqual(await describeLocal(join(back, 'tree')), localView);
      for (const [rel, data] of files) assert.equal(sha256(await fs.readFile(join(back, 'tree', rel))), sha256(data), rel);
      assert.ok(down.directories.includes(join(back, 'tree', 'nested', 'deeper')));
    });

    it('uploads a directory to a missing path as that path (cp -r semantics)', async function () {
      const local = await makeTempDir('tree-new');
      await makeLocalTree(local);
      const remote = await makeServerDir(shared.server, `tree-new-${transport}`);
      await upload(context(shared.channels, { transport }), {
        sources: [{ kind: 'path', path: join(local, 'tree') }],
        remotePath: `${remote.relative}/copy`,
        preserve: false,
        atomic: false,
        overwrite: 'overwrite',
      });
      const listing = await runAsUser(shared.server, `cd ${sq(remote.relative)} && find copy -type f | sort`);
      assert.equal(listing.stdout.toString(), ['copy/a.bin', 'copy/empty.txt', 'copy/nested/b.txt', 'copy/nested/deeper/c.bin', 'copy/run.sh', ''].join('\n'));
    });

    it('uploads several sources in one request: buffer, sized stream, unsized stream, local file', async function () {
      const local = await makeTempDir('multi');
      const fileData = randomData(5000);
      await fs.writeFile(join(local, 'local.bin'), fileData);
      const streamData = randomData(2 * 1024 * 1024 + 3);
      const unsized = new PassThrough();
      // Written in pieces after the call starts: the engine must spool it (SCP needs the size first).
      setImmediate(() => {
        for (let at = 0; at < streamData.length; at += 100_000) unsized.write(streamData.subarray(at, at + 100_000));
        unsized.end();
      });
      const remote = await makeServerDir(shared.server, `multi-${transport}`);
      const result = await upload(context(shared.channels, { transport }), {
        sources: [
          { kind: 'buffer', data: Buffer.from('buffer content'), name: 'buffer.txt' },
          { kind: 'stream', stream: Readable.from([Buffer.from('sized '), Buffer.from('stream')]), size: 12, name: 'sized.txt' },
          { kind: 'stream', stream: unsized, name: 'unsized.bin' },
          { kind: 'path', path: join(local, 'local.bin') },
        ],
        remotePath: remote.relative,
        preserve: false,
        atomic: true,
        overwrite: 'overwrite',
      });
      assert.deepEqual(
        result.files.map((file) => [file.remotePath, file.size]),
        [
          [`${remote.relative}/buffer.txt`, 14],
          [`${remote.relative}/sized.txt`, 12],
          [`${remote.relative}/unsized.bin`, streamData.length],
          [`${remote.relative}/local.bin`, 5000],
        ],
      );
      const sums = await runAsUser(shared.server, `cd ${sq(remote.relative)} && sha256sum buffer.txt sized.txt unsized.bin local.bin && ls -A | wc -l`);
      const lines = sums.stdout.toString().trim().split('\n');
      assert.equal(lines[0].split(' ')[0], sha256(Buffer.from('buffer content')));
      assert.equal(lines[1].split(' ')[0], sha256(Buffer.from('sized stream')));
      assert.equal(lines[2].split(' ')[0], sha256(streamData));
      assert.equal(lines[3].split(' ')[0], sha256(fileData));
      assert.equal(lines[4], '4');
    });

    it('refuses a sized stream that delivers fewer bytes than announced, leaving no file', async function () {
      const remote = await makeServerDir(shared.server, `short-${transport}`);
      await assert.rejects(
        upload(context(shared.channels, { transport }), {
          sources: [{ kind: 'stream', stream: Readable.from([Buffer.from('short')]), size: 100 }],
          remotePath: `${remote.relative}/short.txt`,
          preserve: false,
          atomic: true,
          overwrite: 'overwrite',
        }),
        (error: { code?: string }) => error.code === 'EPROTO',
      );
      const listing = await runAsUser(shared.server, `ls -A ${sq(remote.relative)}`);
      assert.equal(listing.stdout.toString(), '');
    });

    it('downloads a single remote file into a local directory and a local file path', async function () {
      const remote = await makeServerDir(shared.server, `single-${transport}`);
      await runAsUser(shared.server, `printf 'hello' > ${sq(`${remote.relative}/hello.txt`)} && chmod 604 ${sq(`${remote.relative}/hello.txt`)}`);
      const local = await makeTempDir('single-down');
      const result = await download(context(shared.channels, { transport }), directoryDownload(`${remote.relative}/hello.txt`, local, { preserve: true }));
      assert.equal(result.files[0].localPath, join(local, 'hello.txt'));
      assert.equal(await fs.readFile(join(local, 'hello.txt'), 'utf8'), 'hello');
      assert.equal((await fs.stat(join(local, 'hello.txt'))).mode & 0o777, 0o604);
    });

    for (const atomic of [true, false]) {
      it(`uploads a tree with a read-only directory (0555) and gets its files in, atomic ${atomic}`, async function () {
        const local = await makeTempDir('readonly-up');
        await fs.mkdir(join(local, 'ro', 'inner'), { recursive: true });
        for (const name of ['a.txt', 'b.txt']) await fs.writeFile(join(local, 'ro', 'inner', name), name);
        await fs.chmod(join(local, 'ro', 'inner'), 0o555);
        const remote = await makeServerDir(shared.server, `readonly-${transport}`);
        try {
          await upload(context(shared.channels, { transport }), {
            sources: [{ kind: 'path', path: join(local, 'ro') }],
            remotePath: remote.relative,
            preserve: true,
            atomic,
            overwrite: 'overwrite',
          });
          const view = await runAsUser(shared.server, `cd ${sq(`${remote.relative}/ro/inner`)} && stat -c %a . && cat a.txt b.txt && ls -A | wc -l`);
          assert.equal(view.stdout.toString(), '555\na.txtb.txt2\n');
        } finally {
          await fs.chmod(join(local, 'ro', 'inner'), 0o755);
        }
      });
    }

    it('never creates setuid/setgid/sticky bits, even when preserving modes', async function () {
      const remote = await makeServerDir(shared.server, `suid-${transport}`);
      await runAsUser(shared.server, `cd ${sq(remote.relative)} && mkdir d && chmod 1777 d && printf x > d/f && chmod 6755 d/f`);
      const local = await makeTempDir('suid');
      await download(context(shared.channels, { transport }), directoryDownload(`${remote.relative}/d`, local, { recursive: true, preserve: true }));
      assert.equal((await fs.stat(join(local, 'd'))).mode & 0o7777, 0o777);
      assert.equal((await fs.stat(join(local, 'd', 'f'))).mode & 0o7777, 0o755);
    });
  });
}
