/**
 * DevicePools (src/ssh/device-pools.ts): one pool per device, a cap on devices at once, idle devices closed
 * first (a disconnected one before the one unused longest), busy ones never, waiting requests admitted in
 * order and abortable. Stand-in pools count what is asked of them; the real pools are exercised by the fleet
 * test in test/nodes/fleet.test.ts.
 */
import assert from 'assert';
import { TransferError } from '../../src/errors';
import { DevicePools, deviceKeyOf, type DevicePool } from '../../src/ssh/device-pools';
import type { ExecLease, SftpLease, SshEndpoint } from '../../src/ssh/types';

class StandInPool implements DevicePool {
  readonly label: string;
  connections = 1;
  closed = false;
  constructor(readonly endpoint: SshEndpoint) {
    this.label = `${endpoint.username}@${endpoint.host}:${endpoint.port}`;
  }
  exec(): Promise<ExecLease> {
    return Promise.reject(new Error('not used'));
  }
  sftp(): Promise<SftpLease> {
    return Promise.reject(new Error('not used'));
  }
  stats() {
    return { connections: this.connections, channels: 0, queued: 0, maxChannelsSeen: 1 };
  }
  close(): Promise<void> {
    this.closed = true;
    this.connections = 0;
    return Promise.resolve();
  }
}

function device(host: string, port = 22, username = 'u'): SshEndpoint {
  return { host, port, username, auth: {}, hostKey: { kind: 'any' }, readyTimeoutMs: 1000, keepaliveIntervalMs: 0 };
}

function registry(maxDevices: number): { pools: DevicePools<StandInPool>; created: StandInPool[] } {
  const created: StandInPool[] = [];
  const pools = new DevicePools((endpoint) => {
    const pool = new StandInPool(endpoint);
    created.push(pool);
    return pool;
  }, maxDevices);
  return { pools, created };
}

/** Whether `promise` settled by the time queued callbacks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('ssh: DevicePools, one pool per device with a cap on devices at once', function () {
  it('one pool per (user, host, port); the same device in another spelling of its host shares it', async function () {
    const { pools, created } = registry(10);
    const a = await pools.acquire(device('Box'));
    const b = await pools.acquire(device('box'));
    const c = await pools.acquire(device('box', 2222));
    const d = await pools.acquire(device('box', 22, 'other'));
    assert.strictEqual(a.pool, b.pool);
    assert.strictEqual(created.length, 3);
    assert.notStrictEqual(c.pool, a.pool);
    assert.notStrictEqual(d.pool, a.pool);
    assert.strictEqual(pools.stats().devices, 3);
    assert.strictEqual(pools.stats().connections, 3);
    assert.strictEqual(deviceKeyOf(device('BOX')), deviceKeyOf(device('box')));
  });

  it('at the cap, an idle device is closed to make room: a disconnected one first, then the one unused longest', async function () {
    const { pools, created } = registry(3);
    for (const host of ['a', 'b', 'c']) (await pools.acquire(device(host))).release();
    const [a, b, c] = created;
    // b's connections closed on their own (idle timeout): it goes first although a was used before it.
    b.connections = 0;
    await pools.acquire(device('d'));
    assert.deepStrictEqual([a.closed, b.closed, c.closed], [false, true, false]);
    // Then the one unused longest (a, released first).
    await pools.acquire(device('e'));
    assert.deepStrictEqual([a.closed, c.closed], [true, false]);
    assert.strictEqual(pools.stats().devices, 3);
  });

  it('a busy device is never closed: a new device waits for a release, and later requests for existing devices do not wait', async function () {
    const { pools, created } = registry(2);
    const a = await pools.acquire(device('a'));
    const b = await pools.acquire(device('b'));
    const c = pools.acquire(device('c'));
    const d = pools.acquire(device('d'));
    assert.strictEqual(await settled(c), false, 'c waits: both devices are busy');
    assert.strictEqual(pools.stats().waitingForDevice, 2);
    // A second job for a device that has its pool is not held up by the devices waiting.
    const a2 = await pools.acquire(device('a'));
    assert.strictEqual(a2.pool, a.pool);
    b.release();
    b.release(); // idempotent: one release, one place
    const admittedC = await c;
    assert.strictEqual(admittedC.pool.endpoint.host, 'c');
    assert.strictEqual(created[1].closed, true, "b's pool was closed for c");
    assert.strictEqual(await settled(d), false, 'd still waits (a is held twice, c once)');
    a.release();
    assert.strictEqual(await settled(d), false, 'a is still held by its second job');
    a2.release();
    assert.strictEqual((await d).pool.endpoint.host, 'd');
    assert.strictEqual(created[0].closed, true);
    assert.strictEqual(pools.stats().devices, 2);
  });

  it('waiting requests are admitted in order of arrival, and one aborted while waiting leaves the line', async function () {
    const { pools } = registry(1);
    const a = await pools.acquire(device('a'));
    const controller = new AbortController();
    const b = pools.acquire(device('b'), controller.signal);
    const c = pools.acquire(device('c'));
    controller.abort();
    await assert.rejects(b, (error: unknown) => error instanceof TransferError && error.code === 'EABORTED' && error.host === 'b:22');
    assert.strictEqual(pools.stats().waitingForDevice, 1);
    a.release();
    assert.strictEqual((await c).pool.endpoint.host, 'c');
  });

  it('close() closes every pool and fails waiting and later requests with EABORTED; the counters stay readable', async function () {
    const { pools, created } = registry(1);
    await pools.acquire(device('a'));
    const waiting = pools.acquire(device('b'));
    await pools.close();
    await assert.rejects(waiting, (error: unknown) => error instanceof TransferError && error.code === 'EABORTED');
    await assert.rejects(pools.acquire(device('a')), (error: unknown) => error instanceof TransferError && error.code === 'EABORTED');
    assert.ok(created.every((pool) => pool.closed));
    assert.strictEqual(pools.stats().devices, 1);
  });
});
