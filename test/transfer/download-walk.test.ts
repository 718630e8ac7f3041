/**
 * The download walker's rules, the same over both transports against the real sshd: what a tree with
 * entries the server cannot send leaves behind, what the total-bytes cap counts, and the remote times
 * every result carries.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { download, type DownloadRequest } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { DEFAULT_LIMITS, context, useSharedPool, sq, directoryDownload, transferFailure } from './support';

const MTIME = 1_500_000_000;

/** Every entry below `dir` as "relative path" (directories with a trailing slash), sorted. */
async function localEntries(dir: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const rel = `${prefix}${entry.name}`;
    if (entry.isDirectory()) found.push(`${rel}/`, ...(await localEntries(join(dir, entry.name), `${rel}/`)));
    else found.push(rel);
  }
  return found.sort();
}

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: download walker rules over ${transport}`, function () {
    const shared = useSharedPool();

    function treeRequest(remotePath: string, target: string, extra: Partial<DownloadRequest> = {}): DownloadRequest {
      return directoryDownload(remotePath, target, { recursive: true, ...extra });
    }

    it('a tree with an unreadable file and an unreadable directory: everything else arrives, then EACCES', async function () {
      const remote = await makeServerDir(shared.server, `walk-partial-${transport}`);
      const tree = `${remote.relative}/tree`;
      await runAsUser(
        shared.server,
        [
          `mkdir -p ${sq(tree)}/a ${sq(tree)}/locked ${sq(tree)}/z`,
          `echo one > ${sq(tree)}/a/one.txt`,
          `echo hidden > ${sq(tree)}/a/secret.txt && chmod 000 ${sq(tree)}/a/secret.txt`,
          `echo inside > ${sq(tree)}/locked/inside.txt && chmod 000 ${sq(tree)}/locked`,
          `echo last > ${sq(tree)}/z/last.txt`,
        ].join(' && '),
      );
      try {
        const back = await makeTempDir(`walk-partial-${transport}`);
        const error = await transferFailure(download(context(shared.channels, { transport }), treeRequest(tree, back)));
        assert.equal(error.code, 'EACCES', error.message);
        assert.ok(error.message.includes('127.0.0.1'), error.message);
        // complete files only, nothing of the unreadable directory, no temporary file
        assert.deepEqual(await localEntries(back), ['tree/', 'tree/a/', 'tree/a/one.txt', 'tree/z/', 'tree/z/last.txt']);
        assert.equal(await fs.readFile(join(back, 'tree', 'z', 'last.txt'), 'utf8'), 'last\n');
      } finally {
        await runAsUser(shared.server, `chmod 700 ${sq(tree)}/locked`);
      }
    });

    it('a FIFO inside a tree: the files arrive, then EPROTO (not a regular file)', async function () {
      const remote = await makeServerDir(shared.server, `walk-fifo-${transport}`);
      const tree = `${remote.relative}/tree`;
      await runAsUser(shared.server, `mkdir -p ${sq(tree)} && echo a > ${sq(tree)}/a.txt && mkfifo ${sq(tree)}/pipe && echo z > ${sq(tree)}/z.txt`);
      const back = await makeTempDir(`walk-fifo-${transport}`);
      const error = await transferFailure(download(context(shared.channels, { transport }), treeRequest(tree, back)));
      assert.equal(error.code, 'EPROTO', error.message);
      assert.match(error.message, /not a regular file/);
      assert.match(error.message, /pipe/);
      assert.deepEqual(await localEntries(back), ['tree/', 'tree/a.txt', 'tree/z.txt']);
    });

    it('an unreadable file among glob matches: the others arrive, then EACCES naming it', async function () {
      const remote = await makeServerDir(shared.server, `walk-glob-${transport}`);
      await runAsUser(
        shared.server,
        `cd ${sq(remote.relative)} && echo a > a.log && echo b > b.log && chmod 000 b.log && echo c > c.log`,
      );
      const back = await makeTempDir(`walk-glob-${transport}`);
      const request = { ...treeRequest(`${remote.relative}/*.log`, back), recursive: false, glob: true };
      const error = await transferFailure(download(context(shared.channels, { transport }), request));
      assert.equal(error.code, 'EACCES', error.message);
      assert.match(error.message, /b\.log/);
      assert.deepEqual(await localEntries(back), ['a.log', 'c.log']);
    });

    it('a directory among glob matches without recursive: the files arrive, then EISDIR', async function () {
      const remote = await makeServerDir(shared.server, `walk-globdir-${transport}`);
      await runAsUser(shared.server, `cd ${sq(remote.relative)} && echo a > a.x && mkdir b.x && echo c > c.x`);
      const back = await makeTempDir(`walk-globdir-${transport}`);
      const request = { ...treeRequest(`${remote.relative}/*.x`, back), recursive: false, glob: true };
      const error = await transferFailure(download(context(shared.channels, { transport }), request));
      assert.equal(error.code, 'EISDIR', error.message);
      assert.deepEqual(await localEntries(back), ['a.x', 'c.x']);
    });

    it('the total-bytes cap counts the files fetched, not the ones skipped as existing', async function () {
      const remote = await makeServerDir(shared.server, `walk-total-${transport}`);
      await runAsUser(shared.server, `cd ${sq(remote.relative)} && head -c 300 /dev/zero > a.bin && head -c 300 /dev/zero > b.bin`);
      const back = await makeTempDir(`walk-total-${transport}`);
      await fs.writeFile(join(back, 'a.bin'), 'already here');
      // a glob: both transports take the matches in name order, so a.bin (skipped) comes first
      const request: DownloadRequest = { ...treeRequest(`${remote.relative}/*.bin`, back), recursive: false, glob: true, overwrite: 'skip' };
      request.limits = { ...DEFAULT_LIMITS, maxTotalBytes: 500 };
      const result = await download(context(shared.channels, { transport }), request);
      assert.deepEqual(
        result.files.map((file) => `${file.remotePath.replace(/.*\//, '')} ${String(file.transferred)}`),
        ['a.bin false', 'b.bin true'],
      );
      assert.equal(result.bytes, 300);
      assert.equal(await fs.readFile(join(back, 'a.bin'), 'utf8'), 'already here');
      assert.equal((await fs.stat(join(back, 'b.bin'))).size, 300);
      // fetching both goes over it
      const again = await makeTempDir(`walk-total-over-${transport}`);
      const error = await transferFailure(download(context(shared.channels, { transport }), { ...request, target: { kind: 'directory', path: again } }));
      assert.equal(error.code, 'ETOOBIG', error.message);
      assert.match(error.message, /more than the limit of 500 bytes/);
    });

    /** A remote tree of `count` small files f00.. with distinct contents. */
    async function smallTree(name: string, count: number): Promise<{ tree: string; content: (index: number) => string; order: string[] }> {
      const remote = await makeServerDir(shared.server, `${name}-${transport}`);
      const tree = `${remote.relative}/tree`;
      const content = (index: number): string => `file ${index} `.repeat(50 + index);
      const made = Array.from({ length: count }, (_, index) => `printf %s ${sq(content(index))} > ${sq(`${tree}/f${String(index).padStart(2, '0')}`)}`);
      const out = await runAsUser(shared.server, [`mkdir -p ${sq(tree)}`, ...made].join(' && '));
      assert.equal(out.code, 0, out.stderr.toString());
      // The order the server sends them in: its directory order, not sorted.
      const listed = await runAsUser(shared.server, `ls -U ${sq(tree)}`);
      return { tree, content, order: listed.stdout.toString().trim().split('\n') };
    }

    /** fileStart/fileEnd alternate, one file at a time, indexes counting up from 0. */
    function assertInOrder(events: { type: string; index?: number }[]): void {
      const files = events.filter((event) => event.type === 'fileStart' || event.type === 'fileEnd');
      files.forEach((event, at) => {
        assert.equal(event.type, at % 2 === 0 ? 'fileStart' : 'fileEnd', `event ${at}`);
        assert.equal(event.index, Math.floor(at / 2), `event ${at}`);
      });
    }

    it('a local placement that fails while later files already arrive (a directory in the way of f07): EISDIR naming it, the files sent before it in place, none after, no temporary, progress in order', async function () {
      const { tree, content, order } = await smallTree('walk-placement-fails', 20);
      const back = await makeTempDir(`walk-placement-fails-${transport}`);
      await fs.mkdir(join(back, 'tree', 'f07'), { recursive: true });
      const events: { type: string; index?: number }[] = [];
      const error = await transferFailure(download(context(shared.channels, { transport, onProgress: (event) => events.push(event) }), treeRequest(tree, back, { overwrite: 'overwrite' })));
      assert.equal(error.code, 'EISDIR');
      assert.ok(error.message.includes(join(back, 'tree', 'f07')), error.message);
      const before = order.slice(0, order.indexOf('f07'));
      assert.deepEqual(await localEntries(back), ['tree/', ...before.map((name) => `tree/${name}`), 'tree/f07/'].sort());
      for (const name of before) assert.equal(await fs.readFile(join(back, 'tree', name), 'utf8'), content(Number(name.slice(1))));
      assertInOrder(events);
      assert.equal(events.filter((event) => event.type === 'fileEnd').length, before.length);
    });

    it('stopped part way through a tree of small files (more of them already received): EABORTED, exactly the files reported are there and whole, no temporary, progress in order', async function () {
      const { tree, content, order } = await smallTree('walk-abort', 40);
      const back = await makeTempDir(`walk-abort-${transport}`);
      const controller = new AbortController();
      const events: { type: string; index?: number }[] = [];
      const onProgress = (event: { type: string; index?: number }): void => {
        events.push(event);
        if (event.type === 'fileEnd' && event.index === 9) controller.abort();
      };
      const error = await transferFailure(download(context(shared.channels, { transport, onProgress, signal: controller.signal }), treeRequest(tree, back, { overwrite: 'overwrite' })));
      assert.equal(error.code, 'EABORTED');
      // Nothing is placed once the job is stopped, however much arrived already.
      assert.deepEqual(await localEntries(back), ['tree/', ...order.slice(0, 10).map((name) => `tree/${name}`)].sort());
      for (const name of order.slice(0, 10)) assert.equal(await fs.readFile(join(back, 'tree', name), 'utf8'), content(Number(name.slice(1))));
      assertInOrder(events);
      assert.equal(events.filter((event) => event.type === 'fileEnd').length, 10);
    });

    it('results carry the remote times without preserve; the local file keeps its own', async function () {
      const remote = await makeServerDir(shared.server, `walk-times-${transport}`);
      const remotePath = `${remote.relative}/stamped.txt`;
      await runAsUser(shared.server, `echo stamped > ${sq(remotePath)} && touch -m -d @${MTIME} ${sq(remotePath)}`);
      const back = await makeTempDir(`walk-times-${transport}`);
      const request: DownloadRequest = { ...treeRequest(remotePath, back), recursive: false };
      const result = await download(context(shared.channels, { transport }), request);
      assert.equal(result.files.length, 1);
      assert.equal(result.files[0].mtime, MTIME);
      assert.equal(typeof result.files[0].atime, 'number');
      const stats = await fs.stat(join(back, 'stamped.txt'));
      assert.notEqual(Math.floor(stats.mtimeMs / 1000), MTIME);
      const payload = await download(context(shared.channels, { transport }), { ...request, target: { kind: 'buffer', maxBytes: 100 } });
      assert.equal(payload.files[0].mtime, MTIME);
      assert.equal(payload.files[0].data?.toString(), 'stamped\n');
    });
  });
}
