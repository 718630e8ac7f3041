/**
 * A lost connection reaches the sessions on it as an event from the pool: every `onLost` listener of a lease
 * is called once, with the error `connectionError()` returns, as soon as the pool knows; a listener added
 * after the loss is called at once; a removed one never. Waiting for the event costs no timer, so a session
 * no longer samples `connectionError()` every 50 ms per channel.
 */
import * as assert from 'node:assert/strict';
import type { TransferError } from '../../src/errors';
import type { LeaseConnection, LossListener } from '../../src/ssh';
import { fakeServerPerTest, trackTimers } from './helpers';

/** The listener every pooled lease has (a lease without it fails the test here, not later). */
function onLostOf(lease: LeaseConnection): (listener: LossListener) => () => void {
  assert.equal(typeof lease.onLost, 'function', 'a lease from SshPool tells of a lost connection');
  return (listener) => (lease.onLost as (listener: LossListener) => () => void)(listener);
}

/** Resolves with the first loss the lease reports, recording every call in `heard`. */
function firstLoss(lease: LeaseConnection, heard: TransferError[]): Promise<TransferError> {
  return new Promise((resolve) =>
    onLostOf(lease)((error) => {
      heard.push(error);
      resolve(error);
    }),
  );
}

describe('ssh pool: a lost connection reaches its leases as an event', function () {
  this.timeout(30_000);
  const { fake, poolFor } = fakeServerPerTest();

  it('tells a held exec lease once, with ECONNRESET, when its connection is killed; late listeners at once, removed ones never', async function () {
    const pool = poolFor();
    const lease = await pool.exec('hold');
    assert.equal(lease.connectionError(), undefined);
    const heard: TransferError[] = [];
    const lost = firstLoss(lease, heard);
    const removedHeard: TransferError[] = [];
    const remove = onLostOf(lease)((error) => removedHeard.push(error));
    remove();
    remove();

    await fake().close();
    const error = await lost;
    assert.equal(error.code, 'ECONNRESET');
    assert.ok(error.message.includes(`127.0.0.1:${fake().port}`), error.message);
    assert.equal(lease.connectionError(), error, 'the event carries what connectionError() returns');

    let late: TransferError | undefined;
    onLostOf(lease)((lateError) => {
      late = lateError;
    });
    assert.equal(late, error, 'a listener added after the loss is called before onLost returns');

    // Closing the pool afterwards reports nothing more: the first loss stands and is told once.
    await pool.close();
    assert.deepEqual(heard, [error]);
    assert.deepEqual(removedHeard, []);
    assert.equal(lease.connectionError(), error);
  });

  it('tells an SFTP lease and every exec lease on the connection, each listener once', async function () {
    const pool = poolFor();
    const execs = await Promise.all([pool.exec('hold'), pool.exec('hold')]);
    const sftp = await pool.sftp();
    const heard: TransferError[][] = [];
    const losses = [...execs, sftp].map((lease) => {
      const mine: TransferError[] = [];
      heard.push(mine);
      return firstLoss(lease, mine);
    });
    // A listener that throws must not keep the others from hearing (nor break the pool).
    onLostOf(sftp)(() => {
      throw new Error('a buggy listener');
    });

    await fake().close();
    const errors = await Promise.all(losses);
    for (const error of errors) assert.equal(error.code, 'ECONNRESET');
    assert.deepEqual(
      heard.map((calls) => calls.length),
      [1, 1, 1],
    );
    assert.equal(sftp.connectionError()?.code, 'ECONNRESET');
    assert.equal(pool.stats().connections, 0);
  });

  it("tells the leases EABORTED when the pool is closed under them", async function () {
    const pool = poolFor();
    const lease = await pool.exec('hold');
    const heard: TransferError[] = [];
    const lost = firstLoss(lease, heard);
    await pool.close();
    const error = await lost;
    assert.equal(error.code, 'EABORTED');
    assert.equal(lease.connectionError(), error);
    assert.equal(heard.length, 1);
  });

  it('holds no timer per lease: opening leases and waiting for their loss leaves no timer running', async function () {
    const pool = poolFor();
    const first = await pool.exec('hold');
    // The connection exists now; what follows must start no timer that is still running after it.
    const timers = trackTimers();
    const more = await Promise.all([pool.exec('hold'), pool.exec('hold'), pool.sftp()]);
    const heard: TransferError[] = [];
    const losses = [first, ...more].map((lease) => firstLoss(lease, heard));
    const left = await timers.stop();
    assert.deepEqual(left, [], 'timers left running by four held leases and their listeners');
    assert.equal(pool.stats().channels, 4);

    await fake().close();
    await Promise.all(losses);
    assert.equal(heard.length, 4);
    assert.ok(heard.every((error) => error.code === 'ECONNRESET'));
  });
});
