/**
 * Issue 16, defect 2: a local upload source whose size differs from what stat said (a /proc file, a log
 * appended to or truncated while it is sent). One code, ECHANGED, the same over both transports, naming
 * the local path; nothing left at the final remote name.
 */
import * as assert from 'node:assert/strict';
import { promises as fs, appendFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { upload, type ProgressEvent, type UploadRequest } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { context, sq, transferFailure, useSharedPool } from './support';

const BIG = 8 * 1024 * 1024;

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: a local source that changes while it is sent, over ${transport}`, function () {
    this.timeout(60_000);
    const shared = useSharedPool();

    function request(remotePath: string, localPath: string, extra: Partial<UploadRequest> = {}): UploadRequest {
      return { sources: [{ kind: 'path', path: localPath }], remotePath, preserve: false, atomic: true, overwrite: 'overwrite', ...extra };
    }

    async function remoteNames(dir: string): Promise<string[]> {
      const listed = await runAsUser(shared.server, `ls -A ${sq(dir)}`);
      assert.equal(listed.code, 0, listed.stderr);
      return listed.stdout.toString().split('\n').filter((name) => name !== '');
    }

    /** Runs `change` once, when the first bytes of the file went out. */
    function onFirstBytes(change: () => void): (event: ProgressEvent) => void {
      let done = false;
      return (event) => {
        if (!done && event.type === 'bytes') {
          done = true;
          change();
        }
      };
    }

    it('a /proc file (stat says 0 bytes, it has more): ECHANGED naming the local path', async function () {
      const remote = await makeServerDir(shared.server, `changed-proc-${transport}`);
      const error = await transferFailure(upload(context(shared.channels, { transport }), request(`${remote.relative}/status`, '/proc/self/status')));
      assert.equal(error.code, 'ECHANGED', error.message);
      assert.equal(error.path, '/proc/self/status');
      assert.match(error.message, /changed while it was sent/);
      assert.deepEqual(await remoteNames(remote.relative), []);
    });

    for (const atomic of [true, false]) {
      it(`a big file appended to while it is sent (atomic ${atomic}): ECHANGED naming the local path`, async function () {
        const remote = await makeServerDir(shared.server, `changed-grow-${transport}-${atomic}`);
        const local = join(await makeTempDir(`changed-grow-${transport}`), 'app.log');
        await fs.writeFile(local, Buffer.alloc(BIG, 0x61));
        const ctx = context(shared.channels, { transport, onProgress: onFirstBytes(() => appendFileSync(local, 'appended line\n')) });
        const error = await transferFailure(upload(ctx, request(`${remote.relative}/app.log`, local, { atomic })));
        assert.equal(error.code, 'ECHANGED', error.message);
        assert.equal(error.path, local);
        if (atomic) assert.deepEqual(await remoteNames(remote.relative), []);
      });
    }

    it('a big file truncated while it is sent: ECHANGED naming the local path, nothing at the final name', async function () {
      const remote = await makeServerDir(shared.server, `changed-shrink-${transport}`);
      const local = join(await makeTempDir(`changed-shrink-${transport}`), 'app.log');
      await fs.writeFile(local, Buffer.alloc(BIG, 0x62));
      const ctx = context(shared.channels, { transport, onProgress: onFirstBytes(() => truncateSync(local, 1024)) });
      const error = await transferFailure(upload(ctx, request(`${remote.relative}/app.log`, local)));
      assert.equal(error.code, 'ECHANGED', error.message);
      assert.equal(error.path, local);
      assert.deepEqual(await remoteNames(remote.relative), []);
    });

    it('a small file in a folder that differs from its stat: ECHANGED names it', async function () {
      const remote = await makeServerDir(shared.server, `changed-dir-${transport}`);
      const dir = await makeTempDir(`changed-dir-${transport}`);
      await fs.writeFile(join(dir, 'a.txt'), 'first');
      await fs.symlink('/proc/self/status', join(dir, 'b.status'));
      const error = await transferFailure(
        upload(context(shared.channels, { transport }), { ...request(remote.relative, dir), followSymlinks: true }),
      );
      assert.equal(error.code, 'ECHANGED', error.message);
      assert.equal(error.path, join(dir, 'b.status'));
    });
  });
}
