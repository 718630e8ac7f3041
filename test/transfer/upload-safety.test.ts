/**
 * Upload crash safety and local-source rules, through the engine against the real sshd, over both
 * transports: streams that yield objects or never end, local files that vanish between planning and
 * sending, symlinks inside pushed folders, set-ID bits, a directory that appears at the final name
 * after the probe, and the partial file an upload without atomic leaves behind.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { TransferError } from '../../src/errors';
import { upload } from '../../src/transfer';
import type { TransportChoice, UploadRequest, UploadSource } from '../../src/transfer/types';
import { makeServerDir, makeTempDir } from '../harness';
import { context, randomData, sha256, sq, useSharedPool } from './support';
import { hookedStream, serverShell, spoolDirsDuring, stallingStream } from './upload-safety-support';

function request(remotePath: string, sources: UploadSource[], overrides: Partial<UploadRequest> = {}): UploadRequest {
  return { sources, remotePath, preserve: false, atomic: true, overwrite: 'overwrite', ...overrides };
}

/** Rejects unless the upload fails with `code`; returns the error for more checks. */
async function failsWith(promise: Promise<unknown>, code: string): Promise<TransferError> {
  let caught: TransferError | undefined;
  await assert.rejects(promise, (error: TransferError) => {
    caught = error;
    assert.equal(error.code, code, error.message);
    return true;
  });
  return caught as TransferError;
}

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: upload safety over ${transport}`, function () {
    const shared = useSharedPool();
    let dir: { relative: string; absolute: string };

    beforeEach(async function () {
      dir = await makeServerDir(shared.server, `upsafe-${transport}`);
    });

    const ctx = (overrides: { idleTimeoutMs?: number; signal?: AbortSignal; transport?: TransportChoice } = {}) =>
      context(shared.channels, { transport, ...overrides });
    const remoteEntries = async (relative: string): Promise<string[]> => {
      const listed = await serverShell(shared.server, `ls -A ${sq(relative)}`);
      return listed.split('\n').filter(Boolean).sort();
    };

    it('an object-mode stream of unknown size fails with EINVAL and leaves no spool directory', async function () {
      const spools = await spoolDirsDuring(async () => {
        const source: UploadSource = { kind: 'stream', stream: Readable.from([{ a: 1 }, 42]), name: 'objects' };
        const error = await failsWith(upload(ctx(), request(`${dir.relative}/objects`, [source])), 'EINVAL');
        assert.match(error.message, /not bytes/);
      });
      assert.deepEqual(spools, []);
      assert.deepEqual(await remoteEntries(dir.relative), []);
    });

    it('a sized stream whose chunks are not bytes fails with EINVAL and leaves nothing remote', async function () {
      const stream = Readable.from([Buffer.from('abcd'), { not: 'bytes' }, Buffer.from('efgh')]);
      const error = await failsWith(upload(ctx(), request(`${dir.relative}/sized`, [{ kind: 'stream', stream, size: 12 }])), 'EINVAL');
      assert.match(error.message, /not bytes/);
      assert.ok(stream.destroyed, 'the source stream was left open');
      assert.deepEqual(await remoteEntries(dir.relative), []);
    });

    it('a sized stream is destroyed when the server refuses the file before a byte of it is read', async function () {
      // Never written to: only the upload's own clean-up can end it. /root is closed to the test user.
      const stream = new PassThrough();
      const source: UploadSource = { kind: 'stream', stream, size: 10, name: 'refused' };
      await failsWith(upload(ctx(), request('/root/scp-refused.bin', [source], { atomic: false })), 'EACCES');
      assert.ok(stream.destroyed, 'the source stream was left open');
    });

    it('a sized stream that fails while it is read: EINVAL (the same code over both transports)', async function () {
      const stream = stallingStream(randomData(1000));
      const source: UploadSource = { kind: 'stream', stream, size: 5000, name: 'broken' };
      const outcome = upload(ctx(), request(`${dir.relative}/broken`, [source]));
      setImmediate(() => stream.destroy(new Error('the producer broke')));
      const error = await failsWith(outcome, 'EINVAL');
      assert.match(error.message, /the producer broke/);
      assert.deepEqual(await remoteEntries(dir.relative), []);
    });

    it('a stream of unknown size that never ends fails with ETIMEDOUT after the idle timeout, spool removed', async function () {
      const stream = stallingStream(Buffer.from('first bytes, then nothing'));
      const spools = await spoolDirsDuring(async () => {
        await failsWith(upload(ctx({ idleTimeoutMs: 400 }), request(`${dir.relative}/endless`, [{ kind: 'stream', stream }])), 'ETIMEDOUT');
      });
      assert.deepEqual(spools, []);
      assert.ok(stream.destroyed, 'the stalled stream was not destroyed');
      assert.deepEqual(await remoteEntries(dir.relative), []);
    });

    it('a sized stream that stalls fails with ETIMEDOUT after the idle timeout, no temporary left', async function () {
      const stream = stallingStream(randomData(1000));
      const source: UploadSource = { kind: 'stream', stream, size: 5000, name: 'stalls' };
      await failsWith(upload(ctx({ idleTimeoutMs: 400 }), request(`${dir.relative}/stalls`, [source])), 'ETIMEDOUT');
      assert.ok(stream.destroyed, 'the stalled stream was not destroyed');
      assert.deepEqual(await remoteEntries(dir.relative), []);
    });

    for (const size of [10, 2 * 1024 * 1024]) {
      it(`a local file (${size} bytes) that vanishes after planning fails with ENOENT naming it`, async function () {
        const local = await makeTempDir('vanish');
        const victim = join(local, 'rotated.log');
        await fs.writeFile(victim, randomData(size));
        // The first source is sent before the second is opened: its first read removes the planned file.
        const first = hookedStream(Buffer.from('sent first'), () => fs.rm(victim));
        const sources: UploadSource[] = [{ kind: 'stream', stream: first, size: 10, name: 'first' }, { kind: 'path', path: victim }];
        const error = await failsWith(upload(ctx(), request(dir.relative, sources)), 'ENOENT');
        assert.equal(error.path, victim);
        assert.ok(error.message.includes(victim), error.message);
        const left = await remoteEntries(dir.relative);
        assert.ok(!left.includes('rotated.log'), `a vanished file was created remotely: ${left.join(', ')}`);
        assert.deepEqual(left.filter((name) => name.endsWith('.part')), [], 'a temporary was left behind');
      });
    }

    it('set-ID and sticky bits are never sent, with preserve on (files, a directory, a stream source)', async function () {
      const local = await makeTempDir('setid');
      const tree = join(local, 'tree');
      await fs.mkdir(tree);
      const modes: Record<string, number> = { setuid: 0o4755, setgid: 0o2755, sticky: 0o1755 };
      for (const [name, mode] of Object.entries(modes)) {
        await fs.writeFile(join(tree, name), name);
        await fs.chmod(join(tree, name), mode);
      }
      await fs.mkdir(join(tree, 'shared'));
      await fs.writeFile(join(tree, 'shared', 'inside'), 'x');
      await fs.chmod(join(tree, 'shared'), 0o2775);
      assert.equal((await fs.stat(join(tree, 'setuid'))).mode & 0o7777, 0o4755, 'the local set-up did not take');

      await upload(ctx(), request(dir.relative, [{ kind: 'path', path: tree }], { preserve: true }));
      const stream: UploadSource = { kind: 'stream', stream: Readable.from([Buffer.from('s')]), size: 1, name: 'streamed', mode: 0o6755 };
      await upload(ctx(), request(`${dir.relative}/streamed`, [stream], { preserve: true }));

      const listed = await serverShell(shared.server, `cd ${sq(dir.relative)} && stat -c '%n %a' tree/setuid tree/setgid tree/sticky tree/shared streamed`);
      assert.deepEqual(listed.trim().split('\n'), [
        'tree/setuid 755',
        'tree/setgid 755',
        'tree/sticky 755',
        'tree/shared 775',
        'streamed 755',
      ]);
    });

    describe('symbolic links inside a pushed folder', function () {
      let tree: string;
      let secret: string;

      beforeEach(async function () {
        const local = await makeTempDir('links');
        secret = join(local, 'shadow');
        await fs.writeFile(secret, 'root:secret-hash\n');
        tree = join(local, 'tree');
        await fs.mkdir(join(tree, 'sub'), { recursive: true });
        await fs.writeFile(join(tree, 'plain'), 'plain');
        await fs.writeFile(join(tree, 'sub', 'inner'), 'inner');
        await fs.symlink(secret, join(tree, 'outside'));
        await fs.symlink('plain', join(tree, 'inside'));
        await fs.symlink(join(local, 'nowhere'), join(tree, 'dangling'));
        await fs.symlink(join(tree, 'sub'), join(tree, 'subdir-link'));
      });

      it('are skipped by default, listed in the result with reason "symlink", and not uploaded', async function () {
        const result = await upload(ctx(), request(dir.relative, [{ kind: 'path', path: tree }]));
        assert.deepEqual(
          (result.skipped ?? []).map((entry) => [entry.localPath, entry.reason]),
          ['dangling', 'inside', 'outside', 'subdir-link'].map((name) => [join(tree, name), 'symlink']),
        );
        assert.deepEqual(await remoteEntries(`${dir.relative}/tree`), ['plain', 'sub']);
        assert.deepEqual(
          result.files.map((file) => file.localPath).sort(),
          [join(tree, 'plain'), join(tree, 'sub', 'inner')],
        );
      });

      it('are followed with followSymlinks (a dangling one is still skipped)', async function () {
        const result = await upload(ctx(), request(dir.relative, [{ kind: 'path', path: tree }], { followSymlinks: true }));
        assert.deepEqual(result.skipped, [{ localPath: join(tree, 'dangling'), reason: 'symlink' }]);
        assert.deepEqual(await remoteEntries(`${dir.relative}/tree`), ['inside', 'outside', 'plain', 'sub', 'subdir-link']);
        assert.equal(await serverShell(shared.server, `cat ${sq(`${dir.relative}/tree/outside`)}`), 'root:secret-hash\n');
      });

      it('a symlink named as the local path itself is followed as given', async function () {
        const named = join(tree, 'outside');
        const result = await upload(ctx(), request(`${dir.relative}/copy`, [{ kind: 'path', path: named }]));
        assert.deepEqual(result.skipped, []);
        assert.equal(await serverShell(shared.server, `cat ${sq(`${dir.relative}/copy`)}`), 'root:secret-hash\n');
      });
    });

    for (const overwrite of ['overwrite', 'fail'] as const) {
      it(`a directory that appears at the final name after the probe is refused with EISDIR (overwrite ${overwrite})`, async function () {
        const final = `${dir.relative}/target`;
        const data = randomData(4096);
        // The probe has run when the content is first read: now the final name becomes a directory.
        const stream = hookedStream(data, async () => {
          await serverShell(shared.server, `mkdir ${sq(final)}`);
        });
        const error = await failsWith(
          upload(ctx(), request(final, [{ kind: 'stream', stream, size: data.length, name: 'target' }], { overwrite })),
          'EISDIR',
        );
        assert.ok(error.message.includes('target'), error.message);
        assert.deepEqual(await remoteEntries(dir.relative), ['target'], 'a temporary was left behind');
        assert.deepEqual(await remoteEntries(final), [], 'the file was moved into the directory');
      });
    }

    it('without atomic, a failure after data went out says the remote file may be incomplete', async function () {
      const half = randomData(256 * 1024);
      // Announces twice the bytes it has: the transfer fails after the first half was written.
      const source: UploadSource = { kind: 'stream', stream: Readable.from([half]), size: half.length * 2, name: 'partial' };
      const final = `${dir.relative}/partial`;
      const error = await failsWith(upload(ctx(), request(final, [source], { atomic: false })), 'EPROTO');
      assert.ok(error.message.includes(`the remote file ${final} may be incomplete`), error.message);
      const left = await serverShell(shared.server, `wc -c < ${sq(final)}`);
      assert.ok(Number(left.trim()) <= half.length, left);
    });

    it('without atomic, a refusal before any data does not claim a partial file', async function () {
      const locked = `${dir.relative}/locked`;
      await serverShell(shared.server, `mkdir ${sq(locked)} && chmod 555 ${sq(locked)}`);
      const error = await failsWith(
        upload(ctx(), request(`${locked}/file`, [{ kind: 'buffer', data: Buffer.from('x'), name: 'file' }], { atomic: false })),
        'EACCES',
      );
      assert.doesNotMatch(error.message, /may be incomplete/);
    });

    it('the same upload works afterwards (the engine and pool are unharmed)', async function () {
      const data = randomData(300 * 1024);
      await upload(ctx(), request(`${dir.relative}/after`, [{ kind: 'buffer', data, name: 'after' }]));
      const check = await serverShell(shared.server, `sha256sum < ${sq(`${dir.relative}/after`)}`);
      assert.equal(check.split(' ')[0], sha256(data));
    });
  });
}

describe('transfer: upload staging over scp refuses a directory that appeared at a final name', function () {
  const shared = useSharedPool();

  it('EISDIR, nothing moved into the directory, no staging directory left', async function () {
    const dir = await makeServerDir(shared.server, 'upsafe-staging');
    const second = `${dir.relative}/second`;
    const stream = hookedStream(Buffer.from('first file'), async () => {
      await serverShell(shared.server, `mkdir ${sq(second)}`);
    });
    const sources: UploadSource[] = [
      { kind: 'stream', stream, size: 10, name: 'first' },
      { kind: 'buffer', data: Buffer.from('second file'), name: 'second' },
    ];
    await failsWith(upload(context(shared.channels, { transport: 'scp' }), request(dir.relative, sources)), 'EISDIR');
    const listed = await serverShell(shared.server, `ls -A ${sq(dir.relative)}; echo --; ls -A ${sq(second)}`);
    const [top, inside] = listed.split('--\n');
    assert.deepEqual(top.split('\n').filter((name) => name.endsWith('.part')), [], 'a staging directory was left');
    assert.equal(inside.trim(), '', 'a file was moved into the directory');
  });
});
