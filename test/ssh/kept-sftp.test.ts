/**
 * The SFTP session a pooled connection keeps for small jobs (src/ssh/pool/kept-sftp.ts), against a fake
 * server that counts the subsystem sessions it was asked for: later and concurrent shared requests get the
 * same session (one subsystem start), it holds one channel slot and gives it up to a waiting request when
 * unused, its failures reach exactly the jobs on it, and it closes with its connection and the pool.
 */
import * as assert from 'node:assert/strict';
import type { SFTPWrapper } from 'ssh2';
import type { TransferError } from '../../src/errors';
import { SshPool, type SftpLease, type SshPoolOptions } from '../../src/ssh';
import { startFakeServer, type FakeServer } from '../harness';
import { eventually } from '../support';
import { collect, endpointFor, holdOrOk, trackTimers } from './helpers';

/** Resolves with the first loss `lease` reports. */
function lossOf(lease: SftpLease): Promise<TransferError> {
  return new Promise((resolve) => (lease.onLost as (listener: (error: TransferError) => void) => () => void)(resolve));
}

describe('ssh pool: the SFTP session a connection keeps for small jobs', function () {
  this.timeout(30_000);
  let fake: FakeServer | undefined;
  /** every SFTP session the server opened, and whether it has closed */
  let sessions: { sftp: SFTPWrapper; closed: boolean }[] = [];
  const pools: SshPool[] = [];

  beforeEach(async function () {
    sessions = [];
    fake = await startFakeServer(holdOrOk, {
      sftp: ({ sftp }) => {
        const entry = { sftp, closed: false };
        sessions.push(entry);
        sftp.on('end', () => sftp.end());
        sftp.on('close', () => {
          entry.closed = true;
        });
      },
    });
  });
  afterEach(async function () {
    for (const pool of pools.splice(0)) await pool.close();
    await fake?.close();
  });

  function poolFor(options: Partial<SshPoolOptions> = {}): SshPool {
    const server = fake as FakeServer;
    const pool = new SshPool(endpointFor({ ...server, username: 'tester' }, { password: server.password }), { maxConnections: 1, ...options });
    pools.push(pool);
    return pool;
  }

  it('lends one session to later and concurrent requests (one subsystem, one slot); release() leaves it open', async function () {
    const pool = poolFor();
    const first = await pool.sftp({ shared: true });
    assert.equal(first.shared, true);
    const more = await Promise.all([pool.sftp({ shared: true }), pool.sftp({ shared: true })]);
    for (const lease of more) assert.equal(lease.sftp, first.sftp, 'a concurrent request got another session');
    assert.equal(sessions.length, 1);
    assert.deepEqual(pool.sharedSftp(), { sessions: 1, jobs: 3 });
    assert.equal(pool.stats().channels, 1, 'the kept session holds one slot, whatever the jobs on it');

    first.release();
    first.release();
    for (const lease of more) lease.release();
    assert.deepEqual(pool.sharedSftp(), { sessions: 1, jobs: 0 });
    const later = await pool.sftp({ shared: true });
    assert.equal(later.sftp, first.sftp, 'a later request got another session');
    later.release();
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0].closed, false);

    // A request without `shared` still gets a session of its own, ended by its release.
    const own = await pool.sftp();
    assert.notEqual(own.sftp, first.sftp);
    assert.equal(own.shared, undefined);
    assert.equal(sessions.length, 2);
    own.release();
    await eventually('the own session to close', () => sessions[1].closed && pool.stats().channels === 1);
  });

  it('lets at most maxSharedSftpJobs jobs use it at once: the next waits in the queue for a release', async function () {
    const pool = poolFor({ maxSharedSftpJobs: 2 });
    const a = await pool.sftp({ shared: true });
    const b = await pool.sftp({ shared: true });
    let third: SftpLease | undefined;
    const waiting = pool.sftp({ shared: true }).then((lease) => {
      third = lease;
      return lease;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(third, undefined, 'a third job was let onto a session capped at two');
    assert.equal(pool.stats().queued, 1);
    a.release();
    assert.equal((await waiting).sftp, b.sftp);
    assert.deepEqual(pool.sharedSftp(), { sessions: 1, jobs: 2 });
    assert.equal(sessions.length, 1, 'a waiting job opened a session of its own');
  });

  it('counts as a channel slot, and an unused one gives its slot to a command waiting for one, before a later shared request', async function () {
    const pool = poolFor({ maxChannelsPerConnection: 2 });
    const shared = await pool.sftp({ shared: true });
    const held = await pool.exec('hold');
    const waiting = pool.exec('ok');
    assert.equal(pool.stats().queued, 1, 'the kept session must count against the cap');
    assert.equal(pool.stats().channels, 2);
    // Still in use: it keeps its slot (the pool hands out slots as requests and releases come, on no timer).
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(pool.stats().queued, 1);
    shared.release();
    // A shared request that comes meanwhile does not take the slot the command waits for.
    let late: SftpLease | undefined;
    const lateRequest = pool.sftp({ shared: true }).then((lease) => (late = lease));
    const lease = await waiting;
    assert.equal(late, undefined);
    assert.equal((await collect(lease)).stdout, 'ok');
    await eventually('the unused kept session to close', () => sessions[0].closed);
    held.channel.close();
    // The shared request opens a new one once a slot is free.
    const again = await lateRequest;
    assert.equal(sessions.length, 2);
    assert.deepEqual(pool.sharedSftp(), { sessions: 1, jobs: 1 });
    again.release();
  });

  it('closed by the server: the jobs on it hear ECONNRESET, the connection stays, the next request opens a new one', async function () {
    const pool = poolFor();
    const a = await pool.sftp({ shared: true });
    const b = await pool.sftp({ shared: true });
    const losses = Promise.all([lossOf(a), lossOf(b)]);
    sessions[0].sftp.end();
    for (const error of await losses) {
      assert.equal(error.code, 'ECONNRESET');
      assert.match(error.message, /SFTP session/);
    }
    assert.equal(a.connectionError()?.code, 'ECONNRESET');
    await eventually('the slot to free', () => pool.stats().channels === 0);
    a.release();
    b.release();
    const c = await pool.sftp({ shared: true });
    assert.notEqual(c.sftp, a.sftp);
    assert.equal(c.connectionError(), undefined);
    assert.equal(sessions.length, 2);
    assert.equal(pool.stats().connections, 1);
    assert.equal((fake as FakeServer).connectionCount(), 1);
    c.release();
  });

  it('discard() closes it for every job on it; the next request opens a new one', async function () {
    const pool = poolFor();
    const a = await pool.sftp({ shared: true });
    const b = await pool.sftp({ shared: true });
    const lost = lossOf(b);
    (a.discard as () => void)();
    assert.equal((await lost).code, 'ECONNRESET');
    await eventually('the server to see it closed', () => sessions[0].closed);
    const c = await pool.sftp({ shared: true });
    assert.notEqual(c.sftp, a.sftp);
    assert.deepEqual(pool.sharedSftp(), { sessions: 1, jobs: 1 }, 'c alone is on the new session');
    b.release();
    c.release();
    assert.deepEqual(pool.sharedSftp(), { sessions: 1, jobs: 0 });
  });

  it("ends with the pool's close (its jobs hear EABORTED) and with its connection's idle close", async function () {
    const pool = poolFor();
    const a = await pool.sftp({ shared: true });
    const lost = lossOf(a);
    await pool.close();
    assert.equal((await lost).code, 'EABORTED');
    await eventually('the server to see the session closed', () => sessions[0].closed);

    const idle = poolFor({ idleCloseMs: 200 });
    const timers = trackTimers();
    const b = await idle.sftp({ shared: true });
    // In use, it keeps the connection open past the idle time: no idle close is armed while a job is on it.
    const armed = (await timers.stop()).filter((stack) => stack.includes('armIdleClose'));
    assert.deepEqual(armed, [], 'an idle close was armed while the kept session was in use');
    assert.equal(idle.stats().connections, 1);
    b.release();
    await eventually('the idle connection and its kept session to close', () => idle.stats().connections === 0 && sessions[1].closed);
    assert.deepEqual(idle.sharedSftp(), { sessions: 0, jobs: 0 });
  });

  it('a request aborted while the session opens leaves it to the next job; leases leave no listener and no timer behind', async function () {
    const pool = poolFor();
    await collect(await pool.exec('ok'));
    // Connected: the request's channel open goes out at once, and the abort comes while it is on its way.
    const controller = new AbortController();
    const aborted = pool.sftp({ shared: true, signal: controller.signal });
    controller.abort();
    await assert.rejects(aborted, (error: TransferError) => error.code === 'EABORTED');
    const first = await pool.sftp({ shared: true });
    first.release();
    await eventually('the kept session', () => pool.sharedSftp().sessions === 1);
    assert.equal(sessions.length, 1, 'the session opened for the aborted request was not kept for the next');

    const sftp = first.sftp;
    const listeners = (): number[] => ['close', 'end', 'error'].map((event) => sftp.listenerCount(event));
    const before = listeners();
    const timers = trackTimers();
    for (let round = 0; round < 5; round += 1) {
      const leases = await Promise.all(Array.from({ length: 10 }, () => pool.sftp({ shared: true })));
      const removals = leases.map((lease) => (lease.onLost as (listener: () => void) => () => void)(() => undefined));
      for (const remove of removals) remove();
      for (const lease of leases) lease.release();
    }
    const left = (await timers.stop()).filter((stack) => !stack.includes('armIdleClose'));
    assert.deepEqual(left, [], 'timers left running by fifty leases');
    assert.deepEqual(listeners(), before, 'listeners piled up on the kept session');
    assert.equal(sessions.length, 1);
  });
});
