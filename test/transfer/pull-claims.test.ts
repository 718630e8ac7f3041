/**
 * Claims with minimum age, against the real sshd over SCP and SFTP: a file minimum age passes over is never
 * claimed. It stays in place under its name, the very same file (same inode: never renamed into the claim
 * folder and back), so a writer writing by name meanwhile cannot strand it in `.scp-claims`.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { download } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { context, directoryDownload, sq, useSharedPool } from './support';

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: claims with minimum age over ${transport}`, function () {
    this.timeout(120_000);
    const shared = useSharedPool();

    async function onServer(command: string): Promise<string> {
      const run = await runAsUser(shared.server, command);
      assert.equal(run.code, 0, run.stderr.toString());
      return run.stdout.toString().trim();
    }

    it('the fresh file is left untouched in place (not renamed), reported minimumAge; the old one is claimed, fetched and deleted', async function () {
      const remote = await makeServerDir(shared.server, `pull-claims-age-${transport}`);
      const dir = sq(remote.relative);
      await onServer(`cd ${dir} && mkdir in && printf old > in/old.log && touch -d @1600000000 in/old.log && printf fresh > in/fresh.log`);
      const inodeBefore = await onServer(`cd ${dir} && ls -i in/fresh.log`);
      const changedBefore = await onServer(`cd ${dir} && ls -lc --time-style=+%s.%N in/fresh.log`);
      const local = await makeTempDir(`pull-claims-age-${transport}`);
      const result = await download(
        context(shared.channels, { transport }),
        directoryDownload(`${remote.relative}/in/*.log`, local, {
          glob: true,
          overwrite: 'overwrite',
          afterAction: { kind: 'delete' },
          settle: { minimumAgeSeconds: 3600 },
          claim: { instance: 'one', timeoutSeconds: 600 },
        }),
      );
      const outcome = result.files.map((file) => [file.remotePath, file.transferred, file.skipped ?? '-', file.removed === true, file.afterError?.code ?? '-']).sort();
      assert.deepEqual(outcome, [
        [`${remote.relative}/in/fresh.log`, false, 'minimumAge', false, '-'],
        [`${remote.relative}/in/old.log`, true, '-', true, '-'],
      ]);
      assert.deepEqual(await fs.readdir(local), ['old.log']);
      assert.equal(await fs.readFile(`${local}/old.log`, 'utf8'), 'old');
      // The same file, never renamed: a rename changes the inode's ctime, a copy its number.
      assert.equal(await onServer(`cd ${dir} && ls -i in/fresh.log`), inodeBefore);
      assert.equal(await onServer(`cd ${dir} && ls -lc --time-style=+%s.%N in/fresh.log`), changedBefore);
      assert.equal(await onServer(`cd ${dir} && cat in/fresh.log`), 'fresh');
      assert.equal(await onServer(`cd ${dir} && find in -type f | sort`), 'in/fresh.log', 'nothing else left, nothing in a claim folder');
    });
  });
}
