import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { needThrowawayUser, sharedSshd, startFakeServer, startSilentServer, type SshdServer } from '../harness';
import { SshPool, type PoolState } from '../../src/ssh';
import { collect, endpointFor, recordingLog, rejection } from './helpers';
import { eventually, useSshdPerTest } from '../support';
import { freePort } from '../support/node-red-process';


describe('ssh pool', function () {
  let server: SshdServer;
  before(async function () {
    needThrowawayUser(this);
    server = await sharedSshd();
  });

  const keyAuth = (target: SshdServer = server) => endpointFor(target, { privateKey: target.clientKey });

  it('runs 20 concurrent commands with at most 8 channels per connection', async () => {
    const pool = new SshPool(keyAuth(), { maxConnections: 2 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => pool.exec(`sleep 0.3; echo ${i}`).then((lease) => collect(lease))),
    );
    results.forEach((result, i) => {
      assert.equal(result.stdout, `${i}\n`);
      assert.equal(result.code, 0);
    });
    assert.ok(pool.stats().maxChannelsSeen <= 8, `maxChannelsSeen ${pool.stats().maxChannelsSeen}`);
    assert.ok(pool.stats().maxChannelsSeen >= 2, 'channels did run in parallel');
    await pool.close();
  });

  it('re-queues channels the server refuses (MaxSessions 10 under a cap of 12) until they succeed', async () => {
    const log = recordingLog();
    const pool = new SshPool(keyAuth(), { maxChannelsPerConnection: 12, maxConnections: 1 }, { log });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => pool.exec(`sleep 0.3; echo ${i}`).then((lease) => collect(lease))),
    ).catch((error: unknown) => {
      console.log(log.debugs.join('\n'));
      throw error;
    });
    results.forEach((result, i) => assert.equal(result.stdout, `${i}\n`));
    assert.ok(log.debugs.some((line) => /refused a channel.*re-queued/.test(line)), log.debugs.join('\n'));
    assert.equal(pool.stats().connections, 1);
    await pool.close();
  });

  it('opens a second connection when requests queue', async () => {
    const pool = new SshPool(keyAuth(), { maxChannelsPerConnection: 2, maxConnections: 2 });
    // `cat` holds its channel until we end its stdin, so the first two cannot finish before the others queue.
    const leases = await Promise.all(Array.from({ length: 4 }, () => pool.exec('cat')));
    assert.equal(pool.stats().connections, 2);
    assert.equal(pool.stats().channels, 4);
    assert.equal(pool.stats().maxChannelsSeen, 2);
    const outputs = leases.map((lease) => collect(lease));
    for (const lease of leases) lease.channel.end('done');
    for (const output of await Promise.all(outputs)) assert.equal(output.stdout, 'done');
    await pool.close();
  });

  it('counts SFTP sessions as channels, and release() is idempotent', async () => {
    const pool = new SshPool(keyAuth(), { maxChannelsPerConnection: 1, maxConnections: 1 });
    const lease = await pool.sftp();
    const home = await new Promise<string>((resolve, reject) => lease.sftp.realpath('.', (error, real) => (error ? reject(error) : resolve(real))));
    assert.equal(home, server.home);
    let execStarted = false;
    const queued = pool.exec('echo after').then((execLease) => {
      execStarted = true;
      return collect(execLease);
    });
    await eventually('the exec to queue', () => pool.stats().queued === 1);
    assert.equal(execStarted, false);
    lease.release();
    lease.release();
    assert.equal((await queued).stdout, 'after\n');
    await pool.close();
  });

  it('frees the slot when the channel closes even if nobody reads its output', async () => {
    const pool = new SshPool(keyAuth(), { maxChannelsPerConnection: 1, maxConnections: 1 });
    const unread = await pool.exec('echo ignored');
    assert.ok(unread.channel.readable);
    assert.equal((await collect(await pool.exec('echo second'))).stdout, 'second\n');
    await pool.close();
  });

  it('sends a Buffer command as raw bytes', async () => {
    const pool = new SshPool(keyAuth());
    const command = Buffer.concat([Buffer.from("printf '%s' '"), Buffer.from([0xc3, 0xa9, 0xff]), Buffer.from("' | od -An -tx1")]);
    assert.equal((await collect(await pool.exec(command))).stdout.trim(), 'c3 a9 ff');
    await pool.close();
  });

  it('closes a connection that stays idle, and reconnects for the next request', async () => {
    const states: PoolState[] = [];
    const pool = new SshPool(keyAuth(), { idleCloseMs: 100 }, { onState: (state) => states.push(state) });
    await collect(await pool.exec('true'));
    await eventually('the idle close', () => pool.stats().connections === 0);
    await eventually('the idle state', () => states.includes('idle'));
    assert.equal((await collect(await pool.exec('echo again'))).stdout, 'again\n');
    assert.deepEqual(states.slice(0, 2), ['connecting', 'connected']);
    await pool.close();
    assert.equal(states[states.length - 1], 'closed');
  });

  it('aborts a queued request with EABORTED', async () => {
    const pool = new SshPool(keyAuth(), { maxChannelsPerConnection: 1, maxConnections: 1 });
    const first = await pool.exec('cat');
    const controller = new AbortController();
    const queued = pool.exec('echo never', { signal: controller.signal });
    await eventually('the request to queue', () => pool.stats().queued === 1);
    controller.abort();
    assert.equal((await rejection(queued)).code, 'EABORTED');
    assert.equal(pool.stats().queued, 0);
    first.channel.end();
    await collect(first);
    assert.equal((await collect(await pool.exec('echo next'))).stdout, 'next\n');
    await pool.close();
  });

  it('aborts a request that waits for its connection with EABORTED', async () => {
    const silent = await startSilentServer();
    try {
      const pool = new SshPool(endpointFor({ ...silent, username: 'nobody', hostKeyFingerprints: ['SHA256:x'] }, { password: 'x' }));
      const controller = new AbortController();
      const pending = pool.exec('true', { signal: controller.signal });
      await eventually('the TCP connection', () => silent.connectionCount() === 1);
      controller.abort();
      assert.equal((await rejection(pending)).code, 'EABORTED');
      await pool.close();
    } finally {
      await silent.close();
    }
  });

  it('close() fails queued and in-flight work with EABORTED and resolves', async () => {
    const pool = new SshPool(keyAuth(), { maxChannelsPerConnection: 1, maxConnections: 1 });
    const running = await pool.exec('sleep 30');
    const ended = collect(running);
    const queued = rejection(pool.exec('echo never'));
    await eventually('the request to queue', () => pool.stats().queued === 1);
    await pool.close();
    assert.equal((await queued).code, 'EABORTED');
    await ended;
    assert.equal(running.connectionError()?.code, 'EABORTED');
    assert.equal(pool.stats().connections, 0);
    assert.equal((await rejection(pool.exec('true'))).code, 'EABORTED');
  });

  it('runs through a jump host', async () => {
    const target = keyAuth();
    const pool = new SshPool({ ...target, jumpHost: keyAuth() });
    assert.equal((await collect(await pool.exec('echo "$SSH_CONNECTION"'))).stdout.split(' ')[0], '127.0.0.1');
    await pool.close();
  });

  it("reports a jump host's own refusal as such", async () => {
    const pool = new SshPool({ ...keyAuth(), jumpHost: endpointFor(server, { password: 'wrong for the jump' }) });
    const error = await rejection(pool.exec('true'));
    assert.equal(error.code, 'EAUTH');
    assert.match(error.message, /^jump host: authentication failed/);
    await pool.close();
  });

  it('asks once more when the server refuses the SFTP subsystem, and then lets the refusal stand', async () => {
    let refusals = 0;
    let refuseAll = false;
    const fake = await startFakeServer(() => undefined, {
      sftp: () => undefined,
      rejectSftp: () => {
        const refuse = refuseAll || refusals === 0;
        if (refuse) refusals += 1;
        return refuse;
      },
    });
    const pool = new SshPool(endpointFor({ ...fake, username: 'tester' }, { password: fake.password }));
    try {
      const lease = await pool.sftp();
      assert.equal(refusals, 1, 'the first request was refused, the retry accepted');
      lease.release();

      refuseAll = true;
      refusals = 0;
      const error = await rejection(pool.sftp());
      assert.equal(error.code, 'EPROTO');
      assert.match(error.message, /refused to open an SFTP session/);
      assert.equal(refusals, 2, 'one retry, not a loop');
    } finally {
      await pool.close();
      await fake.close();
    }
  });

  describe('connection failures', () => {
    const startOwnSshd = useSshdPerTest();

    it('reports ECONNRESET on the lease when sshd dies, and reconnects after a restart without a new pool', async () => {
      const own = await startOwnSshd();
      const states: PoolState[] = [];
      const pool = new SshPool(keyAuth(own), {}, { onState: (state) => states.push(state) });
      const lease = await pool.exec('sleep 30');
      const ended = collect(lease);
      await own.kill();
      await ended;
      assert.equal(lease.connectionError()?.code, 'ECONNRESET');
      await eventually('the pool to notice', () => pool.stats().connections === 0);
      assert.ok(states.includes('error'));
      // A request while the server is down fails, and starts the back-off...
      assert.equal((await rejection(pool.exec('true'))).code, 'ECONNREFUSED');
      await own.restart();
      // ...which the next request waits out instead of failing.
      assert.equal((await collect(await pool.exec('echo back'))).stdout, 'back\n');
      await pool.close();
    });

    it('fails with ECONNREFUSED on a closed port, then waits out the back-off before the next attempt', async () => {
      const port = await freePort();
      const log = recordingLog();
      const pool = new SshPool(
        endpointFor({ host: '127.0.0.1', port, username: 'nobody', hostKeyFingerprints: ['SHA256:x'] }, { password: 'x' }),
        { reconnectBaseMs: 200 },
        { log },
      );
      const first = await rejection(pool.exec('true'));
      assert.equal(first.code, 'ECONNREFUSED');
      assert.ok(first.message.includes(`127.0.0.1:${port}`));
      // Now something listens (and hangs up at once): the next request waits for the back-off, then tries once.
      let accepted = 0;
      const listener = net.createServer((socket) => {
        accepted++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', () => resolve()));
      const second = await rejection(pool.exec('true'));
      assert.equal(second.code, 'ECONNRESET');
      assert.equal(accepted, 1);
      assert.ok(log.debugs.some((line) => /waiting \d+ ms before reconnecting/.test(line)), log.debugs.join('\n'));
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await pool.close();
    });

    it('aborts a request that waits out the back-off', async () => {
      const port = await freePort();
      const pool = new SshPool(
        endpointFor({ host: '127.0.0.1', port, username: 'nobody', hostKeyFingerprints: ['SHA256:x'] }, { password: 'x' }),
        { reconnectBaseMs: 60_000 },
      );
      assert.equal((await rejection(pool.exec('true'))).code, 'ECONNREFUSED');
      const controller = new AbortController();
      const waiting = rejection(pool.exec('true', { signal: controller.signal }));
      await eventually('the request to wait', () => pool.stats().queued === 1);
      controller.abort();
      assert.equal((await waiting).code, 'EABORTED');
      const closing = rejection(pool.exec('true'));
      await pool.close();
      assert.equal((await closing).code, 'EABORTED');
    });

    it('fails with ENOTFOUND when the host name does not resolve', async () => {
      const pool = new SshPool(
        endpointFor({ host: 'no-such-host.invalid', port: 22, username: 'nobody', hostKeyFingerprints: ['SHA256:x'] }, { password: 'x' }),
      );
      const error = await rejection(pool.exec('true'));
      assert.equal(error.code, 'ENOTFOUND');
      assert.ok(error.message.includes('no-such-host.invalid'));
      await pool.close();
    });

    it('fails with ETIMEDOUT naming the host when the server never answers', async () => {
      const silent = await startSilentServer();
      try {
        const pool = new SshPool(
          endpointFor({ ...silent, username: 'nobody', hostKeyFingerprints: ['SHA256:x'] }, { password: 'x' }, undefined, { readyTimeoutMs: 300 }),
        );
        const error = await rejection(pool.exec('true'));
        assert.equal(error.code, 'ETIMEDOUT');
        assert.ok(error.message.includes(`127.0.0.1:${silent.port}`), error.message);
        await pool.close();
      } finally {
        await silent.close();
      }
    });
  });
});
