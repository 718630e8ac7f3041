/**
 * The bandwidth limit (src/transfer/link/throttle.ts) against the real sshd: 20 MiB at 4 MiB/s takes
 * 4.5–6 s (issue 18's band, wide because the machine is shared), up and down, over SCP and SFTP, and it
 * is smooth: no one-second window of the recorded progress carries more than 1.5 × the limit. With no
 * option on, the data path is untouched (the same content object, the same writer).
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { download, upload } from '../../src/transfer';
import { receiveFile } from '../../src/transfer/link/download-receive';
import { linkStateFor } from '../../src/transfer/link/link-state';
import { TokenBucket } from '../../src/transfer/link/throttle';
import { shapedContent } from '../../src/transfer/link/upload-content';
import { Job } from '../../src/transfer/job/job';
import type { DownloadTransport } from '../../src/transfer/walk/download-transport';
import type { ProgressEvent } from '../../src/transfer/types';
import { makeServerDir, runAsUser } from '../harness';
import { useBigFile } from './big-file';
import { busiestSecond } from './link-support';
import { DEFAULT_LIMITS, context, sq, useSharedPool } from './support';

const MIB = 1024 * 1024;
const SIZE = 20 * MIB;
const LIMIT_KIBPS = 4 * 1024;
const RATE = LIMIT_KIBPS * 1024;

/** (time, bytes so far) from the 'bytes' progress events, starting at the first one. */
function recorder(): { onProgress: (event: ProgressEvent) => void; samples: { t: number; bytes: number }[] } {
  const samples: { t: number; bytes: number }[] = [];
  return {
    samples,
    onProgress: (event) => {
      if (event.type === 'bytes') samples.push({ t: performance.now(), bytes: event.totalBytes });
    },
  };
}

describe('transfer: bandwidth limit (issue 18)', function () {
  this.timeout(120_000);
  const shared = useSharedPool();
  const big = useBigFile('link-throttle', 'twenty.bin', SIZE);

  before(async function () {
    // The timed copies start on a connected pool: the band is for the copy, not for a handshake.
    const warm = await makeServerDir(shared.server, 'throttle-warm');
    await upload(context(shared.channels), { sources: [{ kind: 'buffer', data: Buffer.from('warm') }], remotePath: `${warm.relative}/w`, preserve: false, atomic: true, overwrite: 'overwrite' });
  });

  const check = (what: string, ms: number, samples: { t: number; bytes: number }[]): void => {
    assert.ok(ms >= 4500 && ms <= 6000, `${what}: 20 MiB at 4 MiB/s took ${ms.toFixed(0)} ms, outside 4.5–6 s`);
    assert.ok(samples.length > 20, `${what}: only ${samples.length} progress samples`);
    const busiest = busiestSecond(samples);
    assert.ok(busiest <= 1.5 * RATE, `${what}: one second carried ${(busiest / MIB).toFixed(2)} MiB, over 1.5 × 4 MiB`);
  };

  for (const transport of ['scp', 'sftp'] as const) {
    it(`${transport}: uploads and downloads 20 MiB at 4 MiB/s in 4.5–6 s, no second over 1.5 × the limit`, async function () {
      const { server, channels } = shared;
      const remote = await makeServerDir(server, `throttle-${transport}`);
      const remoteFile = `${remote.relative}/twenty.bin`;
      const up = recorder();
      let started = performance.now();
      const sent = await upload(context(channels, { transport, onProgress: up.onProgress }), {
        sources: [{ kind: 'path', path: big.path }],
        remotePath: remoteFile,
        preserve: false,
        atomic: true,
        overwrite: 'overwrite',
        link: { limitKiBps: LIMIT_KIBPS },
      });
      const upMs = performance.now() - started;
      assert.equal(sent.bytes, SIZE);
      const there = await runAsUser(server, `sha256sum ${sq(remoteFile)}`);
      assert.equal(there.stdout.toString().slice(0, 64), big.digest);
      check(`${transport} upload`, upMs, up.samples);

      const down = recorder();
      const back = join(big.dir, `back-${transport}.bin`);
      started = performance.now();
      const got = await download(context(channels, { transport, onProgress: down.onProgress }), {
        remotePath: remoteFile,
        target: { kind: 'file', path: back },
        recursive: false,
        glob: false,
        preserve: false,
        overwrite: 'overwrite',
        limits: DEFAULT_LIMITS,
        link: { limitKiBps: LIMIT_KIBPS },
      });
      const downMs = performance.now() - started;
      assert.equal(got.bytes, SIZE);
      assert.equal(createHash('sha256').update(await fs.readFile(back)).digest('hex'), big.digest);
      check(`${transport} download`, downMs, down.samples);
    });
  }

  it('rejects a limit that is not a number of KiB/s, 0 or more (EINVAL)', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
      assert.throws(() => linkStateFor({ limitKiBps: bad }, 'h'), (error: { code?: string }) => error.code === 'EINVAL');
    }
    assert.equal(linkStateFor({ limitKiBps: 0 }, 'h'), undefined);
    assert.equal(linkStateFor(undefined, 'h'), undefined);
  });

  it('hands out pieces of a twentieth of a second at most, and keeps the long-run rate', async () => {
    const job = new Job(context({ label: 'h' } as never));
    const bucket = new TokenBucket(1024 * 1024);
    assert.equal(bucket.piece, 52428);
    const started = performance.now();
    for (let sent = 0; sent < 512 * 1024; sent += bucket.piece) await bucket.take(bucket.piece, job);
    const ms = performance.now() - started;
    // 512 KiB at 1 MiB/s, the first piece free: about 450 ms; never sooner (a burst would be sooner).
    assert.ok(ms >= 400, `512 KiB at 1 MiB/s went in ${ms.toFixed(0)} ms`);
    job.dispose();
  });

  it('with no option on, the data path is untouched: the same content, the same writer', async () => {
    const job = new Job(context({ label: 'h' } as never));
    const content = Buffer.from('abc');
    assert.equal(shapedContent(job, content, undefined, Buffer.from('x')), content);
    const write = (): void => undefined;
    let given: unknown;
    const transport = { receive: async (w: unknown) => (given = w) } as unknown as DownloadTransport;
    await receiveFile(job, transport, Buffer.from('x'), 'x', 3, write);
    assert.equal(given, write);
    job.dispose();
  });
});
