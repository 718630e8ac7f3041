/**
 * The local file writer of downloads (src/transfer/local/local-files.ts): small chunks are gathered in its
 * slab, a big one that finds the slab empty is written from the caller's buffer. The caller (the SCP inbox,
 * the SFTP reader) reuses that buffer as soon as the write settles, so a write that settled before its
 * bytes were on disk would leave other bytes in the file.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../harness';
import { Job } from '../../src/transfer/job/job';
import { AtomicFileWriter } from '../../src/transfer/local/local-files';
import type { ChannelProvider } from '../../src/ssh/types';

const KIB = 1024;
/** Small and big chunks mixed: gathered, written directly, gathered across the slab's end. */
const SIZES = [3 * KIB, 600 * KIB, 1024 * KIB, 100 * KIB, 1000 * KIB, 512 * KIB, 7, 2048 * KIB, 700 * KIB, 64 * KIB, 1024 * KIB, 1];

describe('transfer: the local file writer', function () {
  it('writes mixed small and big chunks from one reused buffer byte for byte (each reused once its write settled)', async function () {
    const dir = await makeTempDir('local-writer');
    const job = new Job({ channels: { label: 'test' } as unknown as ChannelProvider, transport: 'scp', idleTimeoutMs: 10_000 });
    const total = SIZES.reduce((sum, size) => sum + size, 0);
    const writer = await AtomicFileWriter.create(job, dir, 'out.bin', join(dir, 'out.bin'), total);
    const reused = Buffer.allocUnsafe(Math.max(...SIZES));
    const expected = createHash('sha256');
    for (const [index, size] of SIZES.entries()) {
      const chunk = reused.subarray(0, size);
      for (let i = 0; i < size; i += 1) chunk[i] = (i * 31 + index * 97) & 0xff;
      expected.update(chunk);
      await writer.write(chunk);
      // What the inbox does once the write settled: the next delivery overwrites the same bytes.
      reused.fill(0xaa);
    }
    assert.equal(await writer.commit(total, { mode: 0o600, replace: true }), true);
    const written = await fs.readFile(join(dir, 'out.bin'));
    assert.equal(written.length, total);
    assert.equal(createHash('sha256').update(written).digest('hex'), expected.digest('hex'), 'the file holds other bytes than were written');
  });
});
