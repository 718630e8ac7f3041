/**
 * The issue-2 slice against the real sshd: one buffer up, one file down into a buffer, over SCP, and the
 * error codes a flow branches on (ENOENT, EISDIR, EACCES, ETOOBIG), each naming host and path.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { download, upload } from '../../src/transfer';
import { TransferError } from '../../src/errors';
import { makeServerDir, runAsUser } from '../harness';
import { DEFAULT_LIMITS, bufferDownload, context, useSharedPool, randomData, sha256, sq } from './support';

async function rejectsWith(promise: Promise<unknown>, code: string, pathPart: string): Promise<TransferError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TransferError, `expected a TransferError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.ok(error.message.includes(pathPart), `message names the path: ${error.message}`);
    assert.ok(error.message.includes('127.0.0.1'), `message names the host: ${error.message}`);
    return error;
  }
  assert.fail(`expected ${code}`);
}

for (const transport of ['scp', 'sftp'] as const)
describe(`transfer: single file over ${transport} (issue 2)`, function () {
  const shared = useSharedPool();
  let dir: { relative: string; absolute: string };

  before(async function () {
    dir = await makeServerDir(shared.server, 'basic');
  });

  for (const size of [0, 1, 65_537, 3 * 1024 * 1024 + 7]) {
    it(`uploads a ${size}-byte buffer and downloads it byte-exact`, async function () {
      const data = randomData(size);
      const remotePath = `${dir.relative}/file-${size}.bin`;
      const up = await upload(context(shared.channels, { transport }), {
        sources: [{ kind: 'buffer', data }],
        remotePath,
        preserve: false,
        atomic: true,
        overwrite: 'overwrite',
      });
      assert.equal(up.transport, transport);
      assert.equal(up.files.length, 1);
      assert.equal(up.files[0].size, size);
      assert.equal(up.bytes, size);
      const onServer = await runAsUser(shared.server, `cat ${sq(remotePath)}`);
      assert.equal(onServer.code, 0);
      assert.equal(sha256(onServer.stdout), sha256(data));
      const listing = await runAsUser(shared.server, `ls -A ${sq(dir.relative)}`);
      assert.ok(!listing.stdout.toString().includes('.part'), 'no temporary file left behind');

      const down = await download(context(shared.channels, { transport }), bufferDownload(remotePath, size));
      assert.equal(down.transport, transport);
      assert.equal(down.files.length, 1);
      assert.equal(down.files[0].size, size);
      assert.ok(down.files[0].data);
      assert.equal(sha256(down.files[0].data), sha256(data));
    });
  }

  it('uploads into an existing directory under the buffer name, with the given mode', async function () {
    const data = Buffer.from('named content\n');
    await upload(context(shared.channels, { transport }), {
      sources: [{ kind: 'buffer', data, name: 'named.txt', mode: 0o640 }],
      remotePath: dir.relative,
      preserve: true,
      atomic: true,
      overwrite: 'overwrite',
    });
    const stat = await runAsUser(shared.server, `stat -c '%a %s' ${sq(`${dir.relative}/named.txt`)}`);
    assert.equal(stat.stdout.toString().trim(), `640 ${data.length}`);
  });

  it('replaces an existing file atomically (overwrite) and without atomic', async function () {
    const remotePath = `${dir.relative}/replace.txt`;
    for (const [atomic, text] of [[true, 'first'], [true, 'second, longer'], [false, 'third']] as const) {
      await upload(context(shared.channels, { transport }), {
        sources: [{ kind: 'buffer', data: Buffer.from(text) }],
        remotePath,
        preserve: false,
        atomic,
        overwrite: 'overwrite',
      });
      const onServer = await runAsUser(shared.server, `cat ${sq(remotePath)}`);
      assert.equal(onServer.stdout.toString(), text);
    }
  });

  it('ENOENT: downloading a missing remote file', async function () {
    await rejectsWith(
      download(context(shared.channels, { transport }), bufferDownload(`${dir.relative}/does-not-exist`, 1000)),
      'ENOENT',
      'does-not-exist',
    );
  });

  it('ENOENT: uploading into a missing remote directory', async function () {
    await rejectsWith(
      upload(context(shared.channels, { transport }), {
        sources: [{ kind: 'buffer', data: Buffer.from('x') }],
        remotePath: `${dir.relative}/no-such-dir/file.txt`,
        preserve: false,
        atomic: true,
        overwrite: 'overwrite',
      }),
      'ENOENT',
      'no-such-dir',
    );
  });

  it('EISDIR: downloading a directory into a buffer', async function () {
    await rejectsWith(
      download(context(shared.channels, { transport }), bufferDownload(dir.relative, 1000)),
      'EISDIR',
      dir.relative,
    );
  });

  it('EISDIR: uploading a nameless buffer onto a directory path', async function () {
    await rejectsWith(
      upload(context(shared.channels, { transport }), {
        sources: [{ kind: 'buffer', data: Buffer.from('x') }],
        remotePath: dir.relative,
        preserve: false,
        atomic: true,
        overwrite: 'overwrite',
      }),
      'EISDIR',
      dir.relative,
    );
  });

  for (const atomic of [true, false]) {
    it(`EACCES: uploading into an unwritable directory (atomic ${atomic})`, async function () {
      const locked = `${dir.relative}/locked-${atomic}`;
      await runAsUser(shared.server, `mkdir ${sq(locked)} && chmod 555 ${sq(locked)}`);
      await rejectsWith(
        upload(context(shared.channels, { transport }), {
          sources: [{ kind: 'buffer', data: Buffer.from('x') }],
          remotePath: `${locked}/file.txt`,
          preserve: false,
          atomic,
          overwrite: 'overwrite',
        }),
        'EACCES',
        'locked',
      );
      const listing = await runAsUser(shared.server, `ls -A ${sq(locked)}`);
      assert.equal(listing.stdout.toString(), '');
    });
  }

  it('EACCES: downloading an unreadable file', async function () {
    const secret = `${dir.relative}/secret.txt`;
    await runAsUser(shared.server, `echo hidden > ${sq(secret)} && chmod 000 ${sq(secret)}`);
    await rejectsWith(
      download(context(shared.channels, { transport }), bufferDownload(secret, 1000)),
      'EACCES',
      'secret.txt',
    );
  });

  it('ETOOBIG: a file over the buffer cap is refused before its data is read', async function () {
    const remotePath = `${dir.relative}/big.bin`;
    await runAsUser(shared.server, `head -c 5000 /dev/zero > ${sq(remotePath)}`);
    const error = await rejectsWith(
      download(context(shared.channels, { transport }), bufferDownload(remotePath, 4999)),
      'ETOOBIG',
      'big.bin',
    );
    assert.ok(!error.message.includes('\u001b'));
  });

  it('downloads a local-file target atomically, leaving no temporary file', async function () {
    const remotePath = `${dir.relative}/to-local.bin`;
    const data = randomData(200_000);
    await upload(context(shared.channels, { transport }), { sources: [{ kind: 'buffer', data }], remotePath, preserve: false, atomic: true, overwrite: 'overwrite' });
    const localDir = await fs.mkdtemp('/tmp/transfer-basic-');
    try {
      const result = await download(context(shared.channels, { transport }), {
        remotePath,
        target: { kind: 'file', path: `${localDir}/out.bin` },
        recursive: false,
        glob: false,
        preserve: false,
        overwrite: 'overwrite',
        limits: DEFAULT_LIMITS,
      });
      assert.equal(result.files[0].localPath, `${localDir}/out.bin`);
      assert.equal(sha256(await fs.readFile(`${localDir}/out.bin`)), sha256(data));
      assert.deepEqual(await fs.readdir(localDir), ['out.bin']);
    } finally {
      await fs.rm(localDir, { recursive: true, force: true });
    }
  });
});
