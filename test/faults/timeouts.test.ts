/**
 * Servers that stop talking: one that accepts TCP and never sends a banner (connect timeout), and fake
 * SSH servers that stall in the middle of an SCP upload or download (idle timeout). Each message must
 * fail with ETIMEDOUT, and not much later than the configured time (bounds are generous: the machine is
 * shared, so only "it ended, and within about twice the setting" is asserted).
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { makeTempDir, startFakeServer, startSilentServer, type FakeServer, type SilentServer } from '../harness';
import { codeOf, connectionDef, startSilentScpSink, downloadDef, elapsed, loadFlow, track, uploadDef, useNodeRed } from './support';

const TIMEOUT_S = 2;

describe('faults: servers that stop talking', function () {
  this.timeout(30_000);
  useNodeRed();
  const servers: Array<FakeServer | SilentServer> = [];
  after(async function () {
    for (const server of servers) await server.close();
  });

  it('a server that accepts TCP and never speaks: ETIMEDOUT within about the connect timeout', async function () {
    const silent = await startSilentServer();
    servers.push(silent);
    await loadFlow([
      connectionDef({ ...silent, hostKeyFingerprints: ['SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'] }, { readyTimeout: TIMEOUT_S }),
      uploadDef(),
    ], { conn: { password: 'irrelevant' } });
    const up = track('up');
    const { value, ms } = await elapsed(() => codeOf(up, { payload: Buffer.from('never sent'), remotePath: '/tmp/silent.txt' }));
    assert.strictEqual(value.code, 'ETIMEDOUT', value.error?.message ?? 'succeeded');
    assert.ok(ms < 2 * TIMEOUT_S * 1000, `took ${ms} ms with a ${TIMEOUT_S} s connect timeout`);
    assert.ok(silent.connectionCount() >= 1, 'the client did reach the silent server');
  });

  it('a server that acknowledges the upload and then goes silent: ETIMEDOUT within about the idle timeout', async function () {
    const root = await makeTempDir('faults-stall-up');
    const { fake, scpStarted } = await startSilentScpSink();
    servers.push(fake);
    await loadFlow([connectionDef(fake, { idleTimeout: TIMEOUT_S }), uploadDef()], { conn: { password: fake.password } });
    const up = track('up');
    const remotePath = path.join(root, 'stalled.bin');
    const { value, ms } = await elapsed(() => codeOf(up, { payload: Buffer.alloc(256 * 1024, 7), remotePath }));
    assert.strictEqual(value.code, 'ETIMEDOUT', value.error?.message ?? 'succeeded');
    assert.strictEqual(scpStarted(), 1, `commands: ${fake.commands.join(' | ')}`);
    // Connecting and probing happen before the stall; allow those on top of the idle time, nothing like a default 30 s.
    assert.ok(ms < 3 * TIMEOUT_S * 1000, `took ${ms} ms with a ${TIMEOUT_S} s idle timeout`);
    assert.ok(!fs.existsSync(remotePath), 'nothing may appear at the final path');
    assert.deepStrictEqual(fake.handlerErrors, []);
  });

  it('a server that sends part of a download and then goes silent: ETIMEDOUT within about the idle timeout', async function () {
    const size = 1024 * 1024;
    const fake = await startFakeServer(({ command, channel }) => {
      assert.ok(command.startsWith('scp '), `unexpected command ${command}`);
      let acks = 0;
      channel.on('data', (chunk: Buffer) => {
        for (const byte of chunk) {
          if (byte !== 0) continue;
          acks += 1;
          // First \0: the client is ready, announce the file. Second: it accepted the record, send 64 KiB of 1 MiB and stall.
          if (acks === 1) channel.write(Buffer.from(`C0644 ${size} stall.bin\n`));
          else if (acks === 2) channel.write(Buffer.alloc(64 * 1024, 1));
        }
      });
    });
    servers.push(fake);
    await loadFlow([connectionDef(fake, { idleTimeout: TIMEOUT_S }), downloadDef()], { conn: { password: fake.password } });
    const down = track('down');
    const { value, ms } = await elapsed(() => codeOf(down, { remotePath: '/srv/stall.bin' }));
    assert.strictEqual(value.code, 'ETIMEDOUT', value.error?.message ?? 'succeeded');
    assert.ok(ms < 3 * TIMEOUT_S * 1000, `took ${ms} ms with a ${TIMEOUT_S} s idle timeout`);
    assert.deepStrictEqual(fake.handlerErrors, []);
  });
});
