/**
 * Resume (src/transfer/link/resume/) against a real sshd of its own: a big file (see SIZE) cut at about 60% (the
 * server's session processes for the test user killed, as a dropped link would) and sent again continues
 * where it stopped, up and down, over SFTP (offsets) and SCP (shell commands): msg.scp.resumedFrom ≥ 60% of
 * the size, the second try moves ≤ 45% of it, the final sha256 equal, nothing partial at the final path in
 * between. A source changed between the tries, or a part older than the age limit, starts from zero.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { FileLeftoverJournal, download, upload, type DownloadRequest, type TransferContext, type UploadRequest } from '../../src/transfer';
import { makeServerDir, runAsUser } from '../harness';
import { useOwnSshd } from '../support/servers';
import { useBigFile } from './big-file';
import { makeBigFile, sha256File } from './memory-support';
import { killUserSessions } from './link-support';
import { DEFAULT_LIMITS, sq, usePoolTo } from './support';

const MIB = 1024 * 1024;
/**
 * Issue 18 asks for 300 MiB; on this shared 2-core machine that took 23–35 s per case (2 min for the file), so
 * the default is 100 MiB (the code path is the same at any size); RESUME_TEST_MIB=300 runs the issue's size, and
 * `npm run bench:transfer-links` measures 300 MiB.
 */
const SIZE = Number(process.env.RESUME_TEST_MIB ?? 100) * MIB;
const SMALL = 16 * MIB;
/**
 * The cut is made once this share is counted. Over SCP an upload counts what the channel took: up to its
 * window (2 MiB) is still in flight and lost with the link, so the cut comes a little after 60%.
 */
const CUT_AT = 0.65;

describe('transfer: resume after a cut (issue 18)', function () {
  this.timeout(180_000);
  // Killing the session processes needs the throwaway user (root); a skip here skips the big file too.
  const server = useOwnSshd({ throwawayUser: true });
  const channels = usePoolTo(server);
  const big = useBigFile('link-resume', 'firmware.bin', SIZE);
  let journal: FileLeftoverJournal;
  before(function () {
    journal = new FileLeftoverJournal(join(big.dir, 'journal', 'leftovers'));
  });

  function ctx(transport: 'scp' | 'sftp', cutAt?: number, size = SIZE): TransferContext {
    let cut = false;
    return {
      channels,
      transport,
      idleTimeoutMs: 20_000,
      leftovers: journal,
      onProgress: (event) => {
        if (cutAt === undefined || cut || event.type !== 'bytes' || event.fileBytes < cutAt * size) return;
        cut = true;
        assert.ok(killUserSessions(server) > 0, 'a session process was found and killed');
      },
    };
  }

  const uploadRequest = (path: string, remotePath: string, maxAgeMs?: number): UploadRequest => ({
    sources: [{ kind: 'path', path }],
    remotePath,
    preserve: false,
    atomic: true,
    overwrite: 'overwrite',
    link: { resume: maxAgeMs === undefined ? {} : { maxAgeMs } },
  });
  const downloadRequest = (remotePath: string, path: string, maxAgeMs?: number): DownloadRequest => ({
    remotePath,
    target: { kind: 'file', path },
    recursive: false,
    glob: false,
    preserve: false,
    overwrite: 'overwrite',
    limits: DEFAULT_LIMITS,
    link: { resume: maxAgeMs === undefined ? {} : { maxAgeMs } },
  });

  for (const transport of ['sftp', 'scp'] as const) {
    it(`${transport}: a ${SIZE / MIB} MiB upload cut at 60% continues from there`, async () => {
      const remote = await makeServerDir(server, `resume-up-${transport}`);
      const remoteFile = `${remote.relative}/firmware.bin`;
      await assert.rejects(upload(ctx(transport, CUT_AT), uploadRequest(big.path, remoteFile)));
      const between = await runAsUser(server, `ls -A ${sq(remote.relative)}`);
      assert.doesNotMatch(between.stdout.toString(), /^firmware\.bin$/mu, 'nothing at the final path after the cut');
      const again = await upload(ctx(transport), uploadRequest(big.path, remoteFile));
      assert.ok((again.resumedFrom ?? 0) >= 0.6 * SIZE, `resumed from ${again.resumedFrom}`);
      assert.ok(again.bytes <= 0.45 * SIZE, `moved ${again.bytes} bytes the second time`);
      assert.equal(again.bytes + (again.resumedFrom ?? 0), SIZE);
      const there = await runAsUser(server, `sha256sum ${sq(remoteFile)} && ls -A ${sq(remote.relative)}`);
      assert.equal(there.stdout.toString().slice(0, 64), big.digest);
      assert.equal(there.stdout.toString().split('\n').filter((line) => line.includes('.part')).length, 0, 'the part is gone');
      assert.equal((await journal.parts()).length, 0, 'the journal forgot the part');
    });

    it(`${transport}: a ${SIZE / MIB} MiB download cut at 60% continues from there`, async () => {
      const remote = await makeServerDir(server, `resume-down-${transport}`);
      await runAsUser(server, `cp ${sq(server.home)}/${sq(`resume-up-${transport}`)}*/firmware.bin ${sq(remote.relative)}/firmware.bin 2>/dev/null || true`);
      const remoteFile = `${remote.relative}/firmware.bin`;
      const exists = await runAsUser(server, `test -f ${sq(remoteFile)}`);
      if (exists.code !== 0) await upload(ctx(transport), { ...uploadRequest(big.path, remoteFile), link: {} });
      const target = join(big.dir, `back-${transport}.bin`);
      await assert.rejects(download(ctx(transport, CUT_AT), downloadRequest(remoteFile, target)));
      await assert.rejects(fs.stat(target), 'nothing at the final path after the cut');
      const again = await download(ctx(transport), downloadRequest(remoteFile, target));
      assert.ok((again.resumedFrom ?? 0) >= 0.6 * SIZE, `resumed from ${again.resumedFrom}`);
      assert.ok(again.bytes <= 0.45 * SIZE, `moved ${again.bytes} bytes the second time`);
      assert.equal(await sha256File(target), big.digest);
      assert.deepEqual((await fs.readdir(big.dir)).filter((name) => name.endsWith('.part')), [], 'the part is gone');
      await fs.rm(target);
    });

    it(`${transport}: a part nobody came back for is removed by a later job once older than its age limit`, async () => {
      const source = join(big.dir, `orphan-${transport}.bin`);
      await makeBigFile(source, SMALL);
      const remote = await makeServerDir(server, `resume-orphan-${transport}`);
      await assert.rejects(upload(ctx(transport, 0.5, SMALL), uploadRequest(source, `${remote.relative}/orphan.bin`)));
      const kept = await runAsUser(server, `ls -A ${sq(remote.relative)}`);
      assert.match(kept.stdout.toString(), /^\.orphan\.bin\.scp-[0-9a-f]{16}\.part$/mu, 'the cut left its part');
      assert.equal((await journal.parts()).length, 1);
      // Another job, for another file, with an age limit the part is past.
      await upload(ctx(transport), { ...uploadRequest(source, `${remote.relative}/other.bin`), link: { resume: { maxAgeMs: 0 } } });
      const after = await runAsUser(server, `ls -A ${sq(remote.relative)}`);
      assert.equal(after.stdout.toString(), 'other.bin\n');
      assert.equal((await journal.parts()).length, 0);
    });

    it(`${transport}: a source changed between the tries, or a part too old, starts from zero`, async () => {
      const source = join(big.dir, `small-${transport}.bin`);
      await makeBigFile(source, SMALL);
      const remote = await makeServerDir(server, `resume-changed-${transport}`);
      const remoteFile = `${remote.relative}/small.bin`;
      await assert.rejects(upload(ctx(transport, 0.5, SMALL), uploadRequest(source, remoteFile)));
      // Same size, another mtime: changed.
      const later = new Date(Date.now() + 5_000);
      await fs.utimes(source, later, later);
      const again = await upload(ctx(transport), uploadRequest(source, remoteFile));
      assert.equal(again.resumedFrom, 0);
      assert.equal(again.bytes, SMALL);

      const target = join(big.dir, `small-back-${transport}.bin`);
      await assert.rejects(download(ctx(transport, 0.5, SMALL), downloadRequest(remoteFile, target)));
      const old = await download(ctx(transport), downloadRequest(remoteFile, target, 0));
      assert.equal(old.resumedFrom, 0, 'a part older than the age limit (0 ms) is dropped');
      assert.equal(old.bytes, SMALL);
      assert.equal(await sha256File(target), await sha256File(source));
      assert.equal((await journal.parts()).length, 0);
    });
  }
});
