/**
 * Issue 16: pulls that leave files still being written. "Minimum age" skips a file modified in the last N
 * seconds; "stable size" looks twice, an interval apart, and skips a file that changed in between (here a
 * remote writer appends to it the whole time). Glob and tree, over both transports, against the real sshd.
 * Skipped files are in the result with the reason, and they are never deleted.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { download, type DownloadRequest } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { startWriter } from './writer';
import { DEFAULT_LIMITS, context, sq, useSharedPool } from './support';

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: minimum age and stable size over ${transport}`, function () {
    this.timeout(120_000);
    const shared = useSharedPool();

    function request(remotePath: string, local: string, extra: Partial<DownloadRequest>): DownloadRequest {
      return { remotePath, target: { kind: 'directory', path: local }, recursive: false, glob: false, preserve: false, overwrite: 'overwrite', limits: DEFAULT_LIMITS, ...extra };
    }

    async function remoteNames(dir: string): Promise<string[]> {
      const listed = await runAsUser(shared.server, `cd ${sq(dir)} && find . -type f | sort`);
      return listed.stdout.toString().split('\n').filter((name) => name !== '');
    }

    for (const selection of ['glob', 'tree'] as const) {
      it(`${selection}: minimum age skips the file modified just now (reason minimumAge) and never deletes it`, async function () {
        const remote = await makeServerDir(shared.server, `settle-age-${selection}-${transport}`);
        await runAsUser(shared.server, `cd ${sq(remote.relative)} && mkdir -p d/sub && printf old > d/old.log && printf old2 > d/sub/old2.log && touch -d @1600000000 d/old.log d/sub/old2.log && printf fresh > d/fresh.log`);
        const local = await makeTempDir(`settle-age-${transport}`);
        const remotePath = selection === 'glob' ? `${remote.relative}/d/*.log` : `${remote.relative}/d`;
        const result = await download(
          context(shared.channels, { transport }),
          request(remotePath, local, { glob: selection === 'glob', recursive: selection === 'tree', afterAction: { kind: 'delete' }, settle: { minimumAgeSeconds: 3600 } }),
        );
        const outcome = result.files.map((file) => [file.remotePath.slice(remote.relative.length + 1), file.transferred, file.skipped ?? '-', file.removed === true]);
        const expected = [
          ['d/fresh.log', false, 'minimumAge', false],
          ['d/old.log', true, '-', true],
          ...(selection === 'tree' ? [['d/sub/old2.log', true, '-', true]] : []),
        ];
        assert.deepEqual(outcome.sort(), expected);
        assert.deepEqual(await remoteNames(remote.relative), selection === 'glob' ? ['./d/fresh.log', './d/sub/old2.log'] : ['./d/fresh.log']);
        const fetched = selection === 'glob' ? ['old.log'] : ['d'];
        assert.deepEqual((await fs.readdir(local)).sort(), fetched);
      });

      it(`${selection}: stable size skips the file a writer appends to between the two looks (reason notStable); the quiet one is fetched`, async function () {
        const remote = await makeServerDir(shared.server, `settle-stable-${selection}-${transport}`);
        await runAsUser(shared.server, `cd ${sq(remote.relative)} && mkdir d && printf quiet > d/quiet.log && printf '%09d\\n' 0 > d/busy.log`);
        const writer = await startWriter(shared.server, `${remote.absolute}/d/busy.log`, 1);
        try {
          const local = await makeTempDir(`settle-stable-${transport}`);
          const remotePath = selection === 'glob' ? `${remote.relative}/d/*.log` : `${remote.relative}/d`;
          const result = await download(
            context(shared.channels, { transport }),
            request(remotePath, local, { glob: selection === 'glob', recursive: selection === 'tree', afterAction: { kind: 'delete' }, settle: { stableIntervalMs: 1500 } }),
          );
          assert.deepEqual(
            // (sorted: a tree comes in the server's directory order)
            result.files.map((file) => [file.remotePath.split('/').pop(), file.transferred, file.skipped ?? '-', file.removed === true]).sort(),
            [
              ['busy.log', false, 'notStable', false],
              ['quiet.log', true, '-', true],
            ],
          );
          const quiet = selection === 'glob' ? join(local, 'quiet.log') : join(local, 'd', 'quiet.log');
          assert.equal(await fs.readFile(quiet, 'utf8'), 'quiet');
        } finally {
          await writer.stop();
        }
        assert.deepEqual(await remoteNames(remote.relative), ['./d/busy.log']);
      });
    }
  });
}
