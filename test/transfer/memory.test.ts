/**
 * Back-pressure end to end: a 200 MiB file goes up and comes back through the engine in a child process
 * whose resident memory may grow by less than 96 MiB. (The 2 GiB version runs in `npm run bench`, capped at 64 MiB.)
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { type SshdServer, makeServerDir, makeTempDir, sharedSshd } from '../harness';
import { makeBigFile, runMemoryChild, sha256File } from './memory-support';

/**
 * What this test guards is back-pressure: without it the 200 MiB file would sit in memory (growth near
 * 200 MiB). The peak RSS growth measured here is 43-57 MiB typically but reached 75-76 MiB under
 * stress-ng, on the code before and after the change that noticed it: SFTP uploads hold 45-60 MiB live at
 * their peak and a CPU-starved collector adds garbage on top. So the suite allows 96 MiB; bringing the
 * peak under 64 MiB is performance work, measured by `npm run bench` against MEMORY_CAP.
 */
const SUITE_MEMORY_CAP = 96 * 1024 * 1024;

describe('transfer: memory stays flat (200 MiB round trip in a child process)', function () {
  this.timeout(180_000);
  // MEMORY_TEST_MIB overrides the size (e.g. 2048 by hand); the suite keeps 200 MiB to stay fast.
  const SIZE = Number(process.env.MEMORY_TEST_MIB ?? 200) * 1024 * 1024;
  let server: SshdServer;
  let local: string;
  let digest: string;

  before(async function () {
    server = await sharedSshd();
    local = await makeTempDir('memory');
    digest = await makeBigFile(join(local, 'big.bin'), SIZE);
  });
  after(async () => {
    if (local) await fs.rm(join(local, 'big.bin'), { force: true });
  });

  for (const transport of ['scp', 'sftp'] as const) {
    it(`${transport}: up and down byte-exact with RSS growth under 96 MiB (half the file)`, async function () {
      const remote = await makeServerDir(server, `memory-${transport}`);
      const back = join(local, `back-${transport}.bin`);
      const report = await runMemoryChild(server, transport, join(local, 'big.bin'), remote.relative, back);
      try {
        if (process.env.MEMORY_TEST_VERBOSE) console.log(JSON.stringify(report));
        assert.equal(report.transport, transport);
        assert.equal(report.upBytes, SIZE);
        assert.equal(report.downBytes, SIZE);
        assert.equal(await sha256File(back), digest);
        assert.ok(report.growth < SUITE_MEMORY_CAP, `RSS grew by ${(report.growth / 1048576).toFixed(1)} MiB`);
        console.log(
          `      ${transport}: RSS +${(report.growth / 1048576).toFixed(1)} MiB, up ${(SIZE / 1048576 / (report.upMs / 1000)).toFixed(0)} MiB/s, down ${(SIZE / 1048576 / (report.downMs / 1000)).toFixed(0)} MiB/s`,
        );
      } finally {
        await fs.rm(back, { force: true });
        await fs.rm(join(remote.absolute, 'big.bin'), { force: true });
      }
    });
  }
});
