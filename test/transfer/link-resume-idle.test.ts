/**
 * The shell commands of a resumable SCP transfer (src/transfer/link/resume/exec-stream.ts) under a bandwidth
 * limit: while a received chunk is held back by the limit the channel is paused by us, which is no silence of
 * the server, so the idle timeout must not fire. 64 KiB at 8 KiB/s arrives in chunks of up to 32 KiB (4 s
 * each to write) against an idle timeout of 2 s: the download completes with the same bytes, no ETIMEDOUT.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { FileLeftoverJournal, download, upload } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { DEFAULT_LIMITS, context, randomData, sha256, sq, useSharedPool } from './support';

describe('transfer: a throttled resumable SCP transfer is not idle', function () {
  this.timeout(120_000);
  const shared = useSharedPool();
  let local: string;
  before(async () => {
    local = await makeTempDir('link-resume-idle');
  });
  after(async () => {
    if (local) await fs.rm(local, { recursive: true, force: true });
  });

  it('scp: 64 KiB down and up at 8 KiB/s with a 2 s idle timeout completes, the same bytes', async () => {
    const data = randomData(64 * 1024);
    const source = join(local, 'source.bin');
    await fs.writeFile(source, data);
    const remote = await makeServerDir(shared.server, 'resume-idle');
    const remoteFile = `${remote.relative}/slow.bin`;
    const ctx = context(shared.channels, { transport: 'scp', idleTimeoutMs: 2000, leftovers: new FileLeftoverJournal(join(local, 'journal')) });
    const link = { limitKiBps: 8, resume: {} };
    const up = await upload(ctx, { sources: [{ kind: 'path', path: source }], remotePath: remoteFile, preserve: false, atomic: true, overwrite: 'overwrite', link });
    assert.equal(up.bytes, data.length);
    const there = await runAsUser(shared.server, `sha256sum ${sq(remoteFile)}`);
    assert.equal(there.stdout.toString().slice(0, 64), sha256(data));
    const target = join(local, 'back.bin');
    const down = await download(ctx, { remotePath: remoteFile, target: { kind: 'file', path: target }, recursive: false, glob: false, preserve: false, overwrite: 'overwrite', limits: DEFAULT_LIMITS, link });
    assert.equal(down.bytes, data.length);
    assert.equal(sha256(await fs.readFile(target)), sha256(data));
  });
});
