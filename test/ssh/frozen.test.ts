/**
 * A connection whose server froze must not be handed the next job: when we close a channel the server has
 * not closed (a timeout, an abort), or a channel open goes unanswered, the pool checks the connection with a
 * keepalive round trip and retires it when nothing comes back. A live server must keep its connection.
 */
import * as assert from 'node:assert/strict';
import { collect, fakeServerPerTest, recordingLog, rejection } from './helpers';
import { eventually } from '../support';

describe('ssh pool: frozen connections', function () {
  this.timeout(30_000);
  const { fake, poolFor } = fakeServerPerTest();

  it('retires a frozen connection after we close a channel the server left open, and runs the next command on a new one', async function () {
    const log = recordingLog();
    const pool = poolFor(log);
    const held = await pool.exec('hold');
    fake().freeze();
    // What a timed-out session does: close its channel; the frozen server never confirms.
    held.channel.close();
    const next = await pool.exec('echo');
    assert.deepEqual(await collect(next), { stdout: 'ok', stderr: '', code: 0 });
    assert.equal(fake().connectionCount(), 2, 'the next command went over a new connection');
    // The held channel learns why its connection went: the server stopped answering.
    assert.equal(held.connectionError()?.code, 'ETIMEDOUT');
    assert.ok(log.debugs.some((line) => /gave no sign of life/.test(line)), log.debugs.join('\n'));
    await eventually('the slots to be free', () => pool.stats().channels === 0);
    assert.equal(pool.stats().connections, 1);
  });

  it('retires a connection whose server froze before a channel open, instead of waiting for ssh2 keepalives', async function () {
    const pool = poolFor();
    assert.deepEqual(await collect(await pool.exec('echo')), { stdout: 'ok', stderr: '', code: 0 });
    fake().freeze();
    // The open goes to the frozen connection (it looks healthy); the pool's check moves it to a new one.
    const next = await pool.exec('echo');
    assert.deepEqual(await collect(next), { stdout: 'ok', stderr: '', code: 0 });
    assert.equal(fake().connectionCount(), 2);
  });

  it('an SFTP session released on a frozen connection gets that connection retired too', async function () {
    const pool = poolFor();
    const lease = await pool.sftp();
    fake().freeze();
    lease.release();
    assert.deepEqual(await collect(await pool.exec('echo')), { stdout: 'ok', stderr: '', code: 0 });
    assert.equal(fake().connectionCount(), 2);
  });

  it('keeps a live connection after an early channel close', async function () {
    const log = recordingLog();
    const pool = poolFor(log);
    const held = await pool.exec('hold');
    held.channel.close();
    await eventually('the server to confirm the close', () => pool.stats().channels === 0);
    assert.deepEqual(await collect(await pool.exec('echo')), { stdout: 'ok', stderr: '', code: 0 });
    assert.equal(fake().connectionCount(), 1, 'the live connection was kept');
    assert.ok(!log.debugs.some((line) => /gave no sign of life/.test(line)), log.debugs.join('\n'));
  });

  it('keeps a live connection after SFTP sessions are released', async function () {
    const log = recordingLog();
    const pool = poolFor(log);
    for (let i = 0; i < 3; i += 1) (await pool.sftp()).release();
    await eventually('the sessions to close', () => pool.stats().channels === 0);
    assert.deepEqual(await collect(await pool.exec('echo')), { stdout: 'ok', stderr: '', code: 0 });
    assert.equal(fake().connectionCount(), 1);
    assert.ok(!log.debugs.some((line) => /gave no sign of life/.test(line)), log.debugs.join('\n'));
  });

  it('a request aborted while its connection is being checked fails with EABORTED', async function () {
    const pool = poolFor();
    const held = await pool.exec('hold');
    fake().freeze();
    held.channel.close();
    const controller = new AbortController();
    const pending = pool.exec('echo', { signal: controller.signal });
    controller.abort();
    assert.equal((await rejection(pending)).code, 'EABORTED');
  });
});
