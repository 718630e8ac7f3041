/**
 * Scheduled pulls over both transports against the real sshd: the after-action (keep, delete, move)
 * only for files complete locally, only new or changed files, and a missing local directory created
 * on request.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { download, type DownloadRequest, type PullRecord } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { DEFAULT_LIMITS, context, useSharedPool, sq, directoryDownload, transferFailure } from './support';

/** A record of earlier pulls kept in memory (the node keeps it in a file). */
function memoryRecord(): PullRecord & { entries: Map<string, { size: number; mtime: number }> } {
  const entries = new Map<string, { size: number; mtime: number }>();
  return { entries, get: (path) => entries.get(path), set: (path, seen) => entries.set(path, seen) };
}

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: scheduled pulls over ${transport}`, function () {
    const shared = useSharedPool();

    /** The names in a remote directory, sorted (as the server's user sees them). */
    async function remoteNames(dir: string): Promise<string[]> {
      const listed = await runAsUser(shared.server, `ls -A ${sq(dir)}`);
      assert.equal(listed.code, 0, listed.stderr);
      return listed.stdout.toString().split('\n').filter((name) => name !== '').sort();
    }

    function globRequest(remotePath: string, target: string, extra: Partial<DownloadRequest> = {}): DownloadRequest {
      return directoryDownload(remotePath, target, { glob: true, overwrite: 'overwrite', ...extra });
    }

    it('delete: each remote file is removed once its local copy is complete; the result says removed', async function () {
      const remote = await makeServerDir(shared.server, `pull-delete-${transport}`);
      await runAsUser(shared.server, `cd ${sq(remote.relative)} && printf one > a.log && printf twotwo > b.log && printf keep > c.txt`);
      const local = await makeTempDir(`pull-delete-${transport}`);
      const result = await download(context(shared.channels, { transport }), globRequest(`${remote.relative}/*.log`, local, { afterAction: { kind: 'delete' } }));
      assert.deepEqual(
        result.files.map((file) => [file.remotePath, file.removed]),
        [
          [`${remote.relative}/a.log`, true],
          [`${remote.relative}/b.log`, true],
        ],
      );
      assert.equal(await fs.readFile(join(local, 'a.log'), 'utf8'), 'one');
      assert.equal(await fs.readFile(join(local, 'b.log'), 'utf8'), 'twotwo');
      assert.deepEqual(await remoteNames(remote.relative), ['c.txt']);
    });

    it('move: into a directory created when missing; a taken name gets a suffix and nothing is overwritten', async function () {
      const remote = await makeServerDir(shared.server, `pull-move-${transport}`);
      const done = `${remote.relative}/done/sub`;
      await runAsUser(shared.server, `cd ${sq(remote.relative)} && mkdir in && printf new > in/a.log && printf b > in/b.log`);
      const local = await makeTempDir(`pull-move-${transport}`);
      const first = await download(context(shared.channels, { transport }), globRequest(`${remote.relative}/in/*.log`, local, { afterAction: { kind: 'move', directory: done } }));
      assert.deepEqual(first.files.map((file) => file.movedTo), [`${done}/a.log`, `${done}/b.log`]);
      // The same name again: the moved file already there stays, the new one gets ".1".
      await runAsUser(shared.server, `cd ${sq(remote.relative)} && printf newer > in/a.log`);
      const second = await download(context(shared.channels, { transport }), globRequest(`${remote.relative}/in/*.log`, local, { afterAction: { kind: 'move', directory: done } }));
      assert.deepEqual(second.files.map((file) => file.movedTo), [`${done}/a.log.1`]);
      assert.deepEqual(await remoteNames(`${remote.relative}/in`), []);
      assert.deepEqual(await remoteNames(done), ['a.log', 'a.log.1', 'b.log']);
      const kept = await runAsUser(shared.server, `cat ${sq(done)}/a.log; echo; cat ${sq(done)}/a.log.1`);
      assert.equal(kept.stdout.toString(), 'new\nnewer');
      assert.equal(await fs.readFile(join(local, 'a.log'), 'utf8'), 'newer');
    });

    it('never for a skipped file or a file the server could not send; keep is the default', async function () {
      const remote = await makeServerDir(shared.server, `pull-never-${transport}`);
      await runAsUser(shared.server, `cd ${sq(remote.relative)} && printf a > a.log && printf b > b.log && printf c > c.log && chmod 000 c.log`);
      const local = await makeTempDir(`pull-never-${transport}`);
      await fs.writeFile(join(local, 'b.log'), 'old');
      const error = await transferFailure(download(context(shared.channels, { transport }), globRequest(`${remote.relative}/*.log`, local, { overwrite: 'skip', afterAction: { kind: 'delete' } })));
      assert.equal(error.code, 'EACCES', error.message);
      // a.log fetched and deleted; b.log skipped (local kept) and still remote; c.log unreadable and still remote
      assert.deepEqual(await remoteNames(remote.relative), ['b.log', 'c.log']);
      assert.equal(await fs.readFile(join(local, 'a.log'), 'utf8'), 'a');
      assert.equal(await fs.readFile(join(local, 'b.log'), 'utf8'), 'old');
      const kept = await download(context(shared.channels, { transport }), globRequest(`${remote.relative}/b.log`, local));
      assert.equal(kept.files[0].removed, undefined);
      assert.deepEqual(await remoteNames(remote.relative), ['b.log', 'c.log']);
    });

    it('a failed delete fails the job with its code, names the file, and the local copy stays', async function () {
      const remote = await makeServerDir(shared.server, `pull-denied-${transport}`);
      await runAsUser(shared.server, `cd ${sq(remote.relative)} && mkdir ro && printf data > ro/x.log && chmod 555 ro`);
      const local = await makeTempDir(`pull-denied-${transport}`);
      const error = await transferFailure(download(context(shared.channels, { transport }), globRequest(`${remote.relative}/ro/*.log`, local, { afterAction: { kind: 'delete' } })));
      assert.equal(error.code, 'EACCES', error.message);
      assert.match(error.message, /x\.log/);
      assert.equal(await fs.readFile(join(local, 'x.log'), 'utf8'), 'data');
      assert.deepEqual(await remoteNames(`${remote.relative}/ro`), ['x.log']);
    });

    it('only new or changed: unchanged skipped by the record (payload) or the local copy (folder); an appended log is fetched again', async function () {
      const remote = await makeServerDir(shared.server, `pull-new-${transport}`);
      const log = `${remote.relative}/app.log`;
      await runAsUser(shared.server, `printf 'line 1\\n' > ${sq(log)} && touch -d @1600000000 ${sq(log)}`);
      const record = memoryRecord();
      const payload = (): DownloadRequest => ({
        remotePath: log,
        target: { kind: 'buffer', maxBytes: 1024 },
        recursive: false,
        glob: false,
        preserve: false,
        overwrite: 'overwrite',
        limits: DEFAULT_LIMITS,
        onlyChanged: { record },
      });
      const first = await download(context(shared.channels, { transport }), payload());
      assert.equal(first.files[0].data?.toString(), 'line 1\n');
      assert.deepEqual(record.entries.get(log), { size: 7, mtime: 1600000000 });
      const again = await download(context(shared.channels, { transport }), payload());
      assert.deepEqual([again.files[0].transferred, again.files[0].unchanged, again.files[0].data], [false, true, undefined]);
      await runAsUser(shared.server, `printf 'line 2\\n' >> ${sq(log)}`);
      const grown = await download(context(shared.channels, { transport }), payload());
      assert.equal(grown.files[0].data?.toString(), 'line 1\nline 2\n');

      // A folder with preserve: the local copy's size and mtime decide, without a record.
      const local = await makeTempDir(`pull-new-${transport}`);
      const folder = (): DownloadRequest => ({ ...globRequest(`${remote.relative}/*.log`, local), preserve: true, onlyChanged: {} });
      assert.equal((await download(context(shared.channels, { transport }), folder())).files[0].transferred, true);
      const unchanged = await download(context(shared.channels, { transport }), folder());
      assert.equal(unchanged.files[0].unchanged, true);
      await runAsUser(shared.server, `printf 'line 3\\n' >> ${sq(log)}`);
      assert.equal((await download(context(shared.channels, { transport }), folder())).files[0].transferred, true);
      assert.equal(await fs.readFile(join(local, 'app.log'), 'utf8'), 'line 1\nline 2\nline 3\n');
    });

    it('create the directory: a missing local directory is made on request, refused (ENOENT) without', async function () {
      const remote = await makeServerDir(shared.server, `pull-mkdir-${transport}`);
      await runAsUser(shared.server, `printf x > ${sq(remote.relative)}/x.txt`);
      const local = join(await makeTempDir(`pull-mkdir-${transport}`), 'new', 'deeper');
      const refused = await transferFailure(download(context(shared.channels, { transport }), globRequest(`${remote.relative}/*.txt`, local)));
      assert.equal(refused.code, 'ENOENT', refused.message);
      await download(context(shared.channels, { transport }), globRequest(`${remote.relative}/*.txt`, local, { createDirectory: true }));
      assert.equal(await fs.readFile(join(local, 'x.txt'), 'utf8'), 'x');
      const file = join(await makeTempDir(`pull-mkdir-file-${transport}`), 'a', 'b.txt');
      await download(context(shared.channels, { transport }), { ...globRequest(`${remote.relative}/x.txt`, file), glob: false, target: { kind: 'file', path: file }, createDirectory: true });
      assert.equal(await fs.readFile(file, 'utf8'), 'x');
    });
  });
}
