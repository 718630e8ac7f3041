/**
 * PlaceLater (src/transfer/local/place-later.ts): small downloaded files are written a few at a time behind
 * the wire, but placed strictly in the order they arrived; the first failure in that order is the job's
 * and nothing after it is placed; a stopped job places nothing more.
 */
import * as assert from 'node:assert/strict';
import { TransferError } from '../../src/errors';
import { PlaceLater } from '../../src/transfer/local/place-later';

function job(): { signal: AbortSignal; stopError(): TransferError; abort(): void } {
  const controller = new AbortController();
  return { signal: controller.signal, stopError: () => new TransferError('EABORTED', 'transfer aborted', { host: 'h' }), abort: () => controller.abort() };
}

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('transfer: PlaceLater (small downloaded files placed behind the wire)', () => {
  it('writes up to `concurrency` files at once, places them in arrival order even when a later write ends first', async () => {
    const later = new PlaceLater(job(), 3, 64, 1 << 20);
    const placed: number[] = [];
    let writing = 0;
    let mostAtOnce = 0;
    for (let index = 0; index < 10; index += 1) {
      await later.add(1, async () => {
        writing += 1;
        mostAtOnce = Math.max(mostAtOnce, writing);
        await tick(index % 2 === 0 ? 20 : 1);
        writing -= 1;
        return async () => void placed.push(index);
      });
    }
    await later.drain();
    assert.deepEqual(placed, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(mostAtOnce, 3);
  });

  it('a failed write fails in its turn: the files before it are placed, none after it, and drain() throws it', async () => {
    const later = new PlaceLater(job(), 4, 64, 1 << 20);
    const placed: number[] = [];
    const failure = new Error('EISDIR at 3');
    for (let index = 0; index < 8; index += 1) {
      await later
        .add(1, async () => {
          if (index === 3) throw failure;
          await tick(index < 3 ? 10 : 0);
          return async () => void placed.push(index);
        })
        .catch(() => undefined);
    }
    await assert.rejects(later.drain(), (error) => error === failure);
    assert.deepEqual(placed, [0, 1, 2]);
    assert.deepEqual(await later.settle(), { error: failure });
    assert.throws(() => later.check(), (error) => error === failure);
  });

  it('holds at most maxFiles queued: add() waits for the oldest to be placed', async () => {
    const later = new PlaceLater(job(), 4, 2, 1 << 20);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await later.add(1, async () => async () => gate);
    await later.add(1, async () => async () => undefined);
    let third = false;
    const adding = later.add(1, async () => async () => undefined).then(() => (third = true));
    await tick(20);
    assert.equal(third, false, 'a third file was queued while two waited');
    release();
    await adding;
    await later.drain();
  });

  it('once the job is stopped nothing more is placed, and the stop is the failure', async () => {
    const stopping = job();
    const later = new PlaceLater(stopping, 2, 64, 1 << 20);
    const placed: number[] = [];
    for (let index = 0; index < 6; index += 1) {
      await later.add(1, async () => async () => {
        placed.push(index);
        if (index === 1) stopping.abort();
      });
    }
    const settled = await later.settle();
    assert.equal((settled?.error as TransferError).code, 'EABORTED');
    assert.deepEqual(placed, [0, 1]);
  });
});
