/**
 * Compression (as `ssh -C`) through a throttled link: the harness's relay in front of sshd passes 2 MiB/s
 * each way and counts the bytes that cross it. The assertions are on those bytes, not on time: a 50 MiB log
 * crosses as at most a third of its size (so at least 3× faster on a link this slow), and random data, which
 * zlib cannot shrink, crosses as at most 10 % more than its size. bench/compression.ts measures the times.
 */
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { COMPRESSION_ALGORITHMS, SshPool } from '../../src/ssh';
import { download, upload } from '../../src/transfer';
import { logText, makeServerDir, runAsUser, sharedSshd, startThrottledRelay, type SshdServer, type ThrottledRelay } from '../harness';
import { bufferDownload, context, poolProvider, sha256, sq } from '../transfer/support';

const MIB = 1024 * 1024;
const LINK_BYTES_PER_SECOND = 2 * MIB;
const TEXT_BYTES = 50 * MIB;
const RANDOM_BYTES = 6 * MIB;

describe('ssh: compression through a throttled link (2 MiB/s)', function () {
  this.timeout(120_000);
  let sshd: SshdServer;
  let relay: ThrottledRelay;
  let pool: SshPool;
  let dir: string;

  before(async function () {
    sshd = await sharedSshd();
    dir = (await makeServerDir(sshd, 'compression')).relative;
    relay = await startThrottledRelay(sshd, LINK_BYTES_PER_SECOND);
    // The relay's address with the server's keys: the host key is pinned by fingerprint, not by address.
    pool = poolProvider({ ...sshd, host: relay.host, port: relay.port }, { compress: COMPRESSION_ALGORITHMS });
    await pool.exec('true').then((lease) => lease.channel.end());
  });

  after(async function () {
    await pool?.close();
    await relay?.close();
  });

  it('a 50 MiB log crosses the link as at most a third of its size, up and down, byte-exact', async function () {
    const text = logText(TEXT_BYTES);
    const remotePath = `${dir}/device.log`;
    relay.resetCounts();
    await upload(context(pool, { transport: 'sftp' }), { sources: [{ kind: 'buffer', data: text }], remotePath, preserve: false, atomic: true, overwrite: 'overwrite' });
    const up = relay.bytesUp;
    assert.equal(sha256((await runAsUser(sshd, `cat ${sq(remotePath)}`)).stdout), sha256(text));
    assert.ok(up <= TEXT_BYTES / 3, `upload: ${up} bytes on the wire for ${TEXT_BYTES} (ratio ${(up / TEXT_BYTES).toFixed(3)})`);

    relay.resetCounts();
    const down = await download(context(pool, { transport: 'scp' }), bufferDownload(remotePath, TEXT_BYTES));
    assert.equal(sha256(down.files[0]?.data ?? Buffer.alloc(0)), sha256(text));
    assert.ok(relay.bytesDown <= TEXT_BYTES / 3, `download: ${relay.bytesDown} bytes on the wire for ${TEXT_BYTES}`);
    console.log(`      (50 MiB log on the wire: up ${(up / MIB).toFixed(2)} MiB, down ${(relay.bytesDown / MIB).toFixed(2)} MiB)`);
  });

  it('random data crosses at most 10 % larger than its size', async function () {
    const data = crypto.randomBytes(RANDOM_BYTES);
    const remotePath = `${dir}/random.bin`;
    relay.resetCounts();
    await upload(context(pool, { transport: 'sftp' }), { sources: [{ kind: 'buffer', data }], remotePath, preserve: false, atomic: true, overwrite: 'overwrite' });
    assert.equal(sha256((await runAsUser(sshd, `cat ${sq(remotePath)}`)).stdout), sha256(data));
    // Compression cannot shrink random bytes: it must have crossed (nearly) whole, and not much more.
    assert.ok(relay.bytesUp >= RANDOM_BYTES, `${relay.bytesUp} bytes on the wire`);
    assert.ok(relay.bytesUp <= RANDOM_BYTES * 1.1, `${relay.bytesUp} bytes on the wire for ${RANDOM_BYTES} (ratio ${(relay.bytesUp / RANDOM_BYTES).toFixed(3)})`);
  });
});
