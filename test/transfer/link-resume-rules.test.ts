/**
 * Resume (src/transfer/link/resume/) must not step around the safe-pull rules: a single-file download with the
 * resume option and delete-after, minimum age or only-changed behaves exactly as without resume (the resumed
 * path fetches one file and knows none of those rules), against the real sshd, over both transports.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { FileLeftoverJournal, download, type DownloadRequest, type PullRecord } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { DEFAULT_LIMITS, context, sq, useSharedPool } from './support';

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: resume keeps the safe-pull rules over ${transport}`, function () {
    this.timeout(120_000);
    const shared = useSharedPool();
    let local: string;
    let journal: FileLeftoverJournal;

    before(async () => {
      local = await makeTempDir(`link-resume-rules-${transport}`);
      journal = new FileLeftoverJournal(join(local, 'journal', 'leftovers'));
    });
    after(async () => {
      if (local) await fs.rm(local, { recursive: true, force: true });
    });

    function request(remotePath: string, target: string, extra: Partial<DownloadRequest>): DownloadRequest {
      return {
        remotePath,
        target: { kind: 'file', path: target },
        recursive: false,
        glob: false,
        preserve: false,
        overwrite: 'overwrite',
        limits: DEFAULT_LIMITS,
        link: { resume: {} },
        ...extra,
      };
    }
    const ctx = (): ReturnType<typeof context> => context(shared.channels, { transport, leftovers: journal });

    it('delete after the pull: the remote file is fetched, then deleted', async () => {
      const remote = await makeServerDir(shared.server, `resume-delete-${transport}`);
      await runAsUser(shared.server, `printf 'pulled once' > ${sq(remote.relative)}/a.log`);
      const target = join(local, `deleted-${transport}.log`);
      const result = await download(ctx(), request(`${remote.relative}/a.log`, target, { afterAction: { kind: 'delete' } }));
      assert.equal(await fs.readFile(target, 'utf8'), 'pulled once');
      assert.deepEqual(result.files.map((file) => [file.transferred, file.removed === true]), [[true, true]]);
      const left = await runAsUser(shared.server, `ls -A ${sq(remote.relative)}`);
      assert.equal(left.stdout.toString(), '', 'the remote file was deleted');
    });

    it('minimum age: a file modified just now is left alone (reason minimumAge), not fetched', async () => {
      const remote = await makeServerDir(shared.server, `resume-age-${transport}`);
      await runAsUser(shared.server, `printf fresh > ${sq(remote.relative)}/fresh.log`);
      const target = join(local, `fresh-${transport}.log`);
      const result = await download(ctx(), request(`${remote.relative}/fresh.log`, target, { afterAction: { kind: 'delete' }, settle: { minimumAgeSeconds: 3600 } }));
      assert.deepEqual(result.files.map((file) => [file.transferred, file.skipped ?? '-', file.removed === true]), [[false, 'minimumAge', false]]);
      await assert.rejects(fs.stat(target), 'nothing fetched');
      const left = await runAsUser(shared.server, `ls -A ${sq(remote.relative)}`);
      assert.equal(left.stdout.toString(), 'fresh.log\n', 'the fresh file stays');
    });

    it('only changed: a file whose size and mtime are in the record is skipped as unchanged', async () => {
      const remote = await makeServerDir(shared.server, `resume-changed-${transport}`);
      await runAsUser(shared.server, `printf same > ${sq(remote.relative)}/same.log && touch -d @1600000000 ${sq(remote.relative)}/same.log`);
      const remotePath = `${remote.relative}/same.log`;
      const seen = new Map<string, { size: number; mtime: number }>();
      const record: PullRecord = { get: (path) => seen.get(path), set: (path, value) => void seen.set(path, value) };
      const target = join(local, `same-${transport}.log`);
      const first = await download(ctx(), request(remotePath, target, { onlyChanged: { record } }));
      assert.deepEqual(first.files.map((file) => file.transferred), [true]);
      assert.equal(seen.size, 1, 'the pull was recorded');
      await fs.rm(target);
      const second = await download(ctx(), request(remotePath, target, { onlyChanged: { record } }));
      assert.deepEqual(second.files.map((file) => [file.transferred, file.unchanged === true]), [[false, true]]);
      await assert.rejects(fs.stat(target), 'nothing fetched the second time');
    });
  });
}
