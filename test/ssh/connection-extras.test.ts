import * as assert from 'node:assert/strict';
import { needThrowawayUser, sharedSshd, startDropbear, type SshdServer } from '../harness';
import { eventually, useOwnSshd, useSharedSshd } from '../support';
import { SshPool, cryptoBindingAvailable } from '../../src/ssh';
import { startAuthRecorder } from './auth-recorder';
import { collect, endpointFor, rejection } from './helpers';

describe('ssh connection extras', () => {
  it('detects a server that stops answering with keepalives: ETIMEDOUT on the lease', async () => {
    const fake = await startAuthRecorder({ methods: ['password'], password: 'pw' });
    try {
      const pool = new SshPool(
        endpointFor({ ...fake, hostKeyFingerprints: [fake.hostKeyFingerprint] }, { password: 'pw' }, undefined, { keepaliveIntervalMs: 100 }),
      );
      const lease = await pool.exec('freeze');
      await collect(lease);
      assert.equal(lease.connectionError()?.code, 'ETIMEDOUT');
      assert.ok(lease.connectionError()?.message.includes(`127.0.0.1:${fake.port}`));
      await pool.close();
    } finally {
      await fake.close();
    }
  });

  describe('against OpenSSH', function () {
    const server = useSharedSshd({ throwawayUser: true });

    it('passes algorithm overrides to ssh2', async () => {
      const pool = new SshPool(
        endpointFor(server, { privateKey: server.clientKey }, undefined, { algorithms: { cipher: ['aes128-ctr'], hmac: ['hmac-sha2-256'] } }),
      );
      assert.equal((await collect(await pool.exec('echo "$SSH_CONNECTION"'))).code, 0);
      await pool.close();
      const impossible = new SshPool(
        endpointFor(server, { privateKey: server.clientKey }, undefined, { algorithms: { serverHostKey: ['ssh-rsa'] } }),
      );
      const error = await rejection(impossible.exec('true'));
      assert.equal(error.code, 'EPROTO');
      assert.match(error.message, /handshake/);
      await impossible.close();
    });
  });

  describe('native crypto binding', function () {
    before(function () {
      needThrowawayUser(this);
    });

    it('warns once per pool when the binding is missing', async () => {
      const server = await sharedSshd();
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean };
      const saved = crypto.bindingAvailable;
      crypto.bindingAvailable = false;
      const warnings: string[] = [];
      const pool = new SshPool(endpointFor(server, { privateKey: server.clientKey }), { idleCloseMs: 50 }, {
        log: { warn: (message) => warnings.push(message) },
      });
      try {
        await collect(await pool.exec('true'));
        // The next request must come on a new connection (a new handshake), once the idle one has closed.
        await eventually('the idle connection to close', () => pool.stats().connections === 0);
        await collect(await pool.exec('true'));
      } finally {
        crypto.bindingAvailable = saved;
        await pool.close();
      }
      assert.equal(warnings.filter((warning) => warning.includes('native crypto binding')).length, 1, warnings.join('\n'));
    });
  });

  describe('re-keying', function () {
    const rekeying = useOwnSshd({ throwawayUser: true, config: ['RekeyLimit 64K'] });

    it('keeps trusting the same host key when the server re-keys mid-stream', async () => {
      const server = rekeying;
      const pool = new SshPool(endpointFor(server, { privateKey: server.clientKey }));
      const lease = await pool.exec('head -c 2000000 /dev/zero');
      let bytes = 0;
      lease.channel.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      const result = await collect(lease);
      assert.equal(result.code, 0);
      assert.equal(bytes, 2_000_000);
      assert.equal(lease.connectionError(), undefined);
      await pool.close();
    });
  });

  describe('against Dropbear', function () {
    let dropbear: SshdServer | undefined;
    before(async function () {
      needThrowawayUser(this);
      dropbear = await startDropbear();
    });
    after(async () => {
      await dropbear?.stop();
    });

    it('logs in with a password and with a key, checking the host key', async () => {
      const server = dropbear as SshdServer;
      for (const auth of [{ password: server.password }, { privateKey: server.clientKey }]) {
        const pool = new SshPool(endpointFor(server, auth));
        assert.equal((await collect(await pool.exec('echo dropbear'))).stdout, 'dropbear\n');
        await pool.close();
      }
    });
  });

  it('says whether the native crypto binding loaded', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { bindingAvailable } = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean };
    assert.equal(cryptoBindingAvailable(), bindingAvailable);
  });
});
