import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, startSshd } from '../harness';
import { useSharedSshd } from '../support';
import { testConnection } from '../../src/ssh';
import { endpointFor } from './helpers';

describe('ssh testConnection', function () {
  const server = useSharedSshd({ throwawayUser: true });

  it('reports a healthy server: reached, authenticated, version, key, scp and sftp', async () => {
    const report = await testConnection(endpointFor(server, { password: server.password }));
    assert.equal(report.error, undefined, JSON.stringify(report));
    assert.equal(report.reached, true);
    assert.equal(report.authenticated, true);
    assert.match(report.serverVersion ?? '', /^OpenSSH_/);
    assert.equal(report.hostKeyFingerprint, server.hostKeyFingerprints[0]);
    assert.equal(report.hostKeyType, 'ssh-ed25519');
    assert.equal(report.hostKeyTrusted, true);
    assert.equal(report.scp, true);
    assert.equal(report.sftp, true);
  });

  it('reports scp false and sftp true for an SFTP-only account (ForceCommand internal-sftp)', async () => {
    const sftpOnly = await startSshd({ config: ['ForceCommand internal-sftp'] });
    try {
      const report = await testConnection(endpointFor(sftpOnly, { privateKey: sftpOnly.clientKey }));
      assert.equal(report.authenticated, true, JSON.stringify(report));
      assert.equal(report.sftp, true);
      assert.equal(report.scp, false);
    } finally {
      await sftpOnly.stop();
    }
  });

  it('with inspectHostKey, reports an untrusted key and does not authenticate', async () => {
    const from = server.logs().length;
    const report = await testConnection(
      endpointFor(server, { password: server.password }, { kind: 'fingerprint', fingerprints: ['SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'] }),
      { inspectHostKey: true },
    );
    assert.equal(report.reached, true);
    assert.equal(report.authenticated, false);
    assert.equal(report.hostKeyTrusted, false);
    assert.equal(report.hostKeyFingerprint, server.hostKeyFingerprints[0]);
    assert.equal(report.hostKeyType, 'ssh-ed25519');
    assert.equal(report.scp, null);
    assert.equal(report.sftp, null);
    assert.equal(report.error?.code, 'EHOSTKEY');
    assert.ok(!/Failed password|Accepted/.test(server.logs().slice(from)), 'no credential reached the server');
  });

  it('with inspectHostKey, does not write a tofu store', async () => {
    const store = path.join(await makeTempDir('ssh-test-connection'), 'tofu.json');
    const report = await testConnection(endpointFor(server, { password: server.password }, { kind: 'tofu', storeFile: store }), {
      inspectHostKey: true,
    });
    assert.equal(report.authenticated, true);
    assert.equal(report.hostKeyFingerprint, server.hostKeyFingerprints[0]);
    await assert.rejects(fs.stat(store), { code: 'ENOENT' });
  });

  it('under trust on first use, a key never seen is reported as "first use", not as trusted; a stored one as trusted', async () => {
    const store = path.join(await makeTempDir('ssh-test-connection'), 'tofu.json');
    const endpoint = endpointFor(server, { password: server.password }, { kind: 'tofu', storeFile: store });
    const first = await testConnection(endpoint, { inspectHostKey: true });
    assert.equal(first.hostKeyFirstUse, true, JSON.stringify(first));
    // A real connection is the first use: it stores the key, and the next test finds it trusted.
    const stored = await testConnection(endpoint);
    assert.equal(stored.hostKeyFirstUse, undefined, JSON.stringify(stored));
    await fs.stat(store);
    const again = await testConnection(endpoint, { inspectHostKey: true });
    assert.equal(again.hostKeyFirstUse, undefined, JSON.stringify(again));
    assert.equal(again.hostKeyTrusted, true);
  });

  it('reports a refused login with EAUTH after reaching the server', async () => {
    const report = await testConnection(endpointFor(server, { password: 'not it' }));
    assert.equal(report.reached, true);
    assert.equal(report.hostKeyTrusted, true);
    assert.equal(report.authenticated, false);
    assert.equal(report.error?.code, 'EAUTH');
    assert.ok(!report.error?.message.includes('not it'));
    // The dialog names the host already: the message says it at most once, with no "(host ...)" after it.
    const host = `${server.host}:${server.port}`;
    assert.ok((report.error?.message.split(host).length ?? 0) <= 2, report.error?.message);
    assert.ok(!report.error?.message.includes(`(host ${host}`), report.error?.message);
  });

  it('reports an unreachable server', async () => {
    const stopped = await startSshd();
    await stopped.stop();
    const report = await testConnection(endpointFor(stopped, { password: 'x' }));
    assert.equal(report.reached, false);
    assert.equal(report.error?.code, 'ECONNREFUSED');
  });
});
