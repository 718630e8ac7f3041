/**
 * SOCKS5 (Dante) and HTTP CONNECT (tinyproxy) proxies, real ones started by the harness, between the pool
 * and the run's sshd: transfers both ways with and without proxy authentication, a jump host reached through
 * the proxy, and each failure with its own code: the proxy refusing the device (EPROXY), the proxy down
 * (ECONNREFUSED naming the proxy), wrong proxy credentials (EPROXYAUTH). The proxy password never shows.
 */
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { testConnection, SshPool } from '../../src/ssh';
import type { ProxyConfig, SshEndpoint } from '../../src/ssh/types';
import { download, upload } from '../../src/transfer';
import { makeServerDir, needThrowawayUser, runAsUser, sharedSshd, startDante, startTinyproxy, type ProxyServer, type SshdServer } from '../harness';
import { freePort } from '../harness/server-process';
import { bufferDownload, context, sha256, sq } from '../transfer/support';
import { endpointFor, rejection } from './helpers';
import { startedProxy } from '../support';

const PROXY_PASSWORD = `proxy-secret-${crypto.randomBytes(4).toString('hex')}`;
const HTTP_USER = 'flowproxy';

function proxyOf(server: ProxyServer, credentials?: { username: string; password: string }): ProxyConfig {
  return { kind: server.kind, host: server.host, port: server.port, ...credentials };
}

describe('ssh: connections through SOCKS5 and HTTP CONNECT proxies', function () {
  let sshd: SshdServer;
  let dir: string;
  const proxies: ProxyServer[] = [];
  let dante: ProxyServer;
  let danteAuth: ProxyServer;
  let tiny: ProxyServer;
  let tinyAuth: ProxyServer;
  let blockedPort: number;

  before(async function () {
    needThrowawayUser(this);
    sshd = await sharedSshd();
    dir = (await makeServerDir(sshd, 'proxy')).relative;
    blockedPort = await freePort();
    dante = await startedProxy(this, 'danted (dante-server)', () => startDante({ blockPort: blockedPort }));
    proxies.push(dante);
    danteAuth = await startedProxy(this, 'danted (dante-server)', () => startDante({ auth: 'username' }));
    proxies.push(danteAuth);
    tiny = await startedProxy(this, 'tinyproxy', () => startTinyproxy({ connectPorts: [sshd.port] }));
    proxies.push(tiny);
    tinyAuth = await startedProxy(this, 'tinyproxy', () => startTinyproxy({ basicAuth: { username: HTTP_USER, password: PROXY_PASSWORD } }));
    proxies.push(tinyAuth);
  });

  after(async function () {
    await Promise.all(proxies.map((proxy) => proxy.stop()));
  });

  const device = (proxy: ProxyConfig, extra: Partial<SshEndpoint> = {}): SshEndpoint =>
    endpointFor(sshd, { privateKey: sshd.clientKey }, undefined, { proxy, ...extra });

  /** Uploads and downloads a file through `endpoint` over both transports, checked on the server itself. */
  async function roundTrip(endpoint: SshEndpoint, name: string): Promise<void> {
    const pool = new SshPool(endpoint);
    try {
      for (const transport of ['scp', 'sftp'] as const) {
        const data = crypto.randomBytes(300_000 + 17);
        const remotePath = `${dir}/${name}-${transport}.bin`;
        const up = await upload(context(pool, { transport }), { sources: [{ kind: 'buffer', data }], remotePath, preserve: false, atomic: true, overwrite: 'overwrite' });
        assert.equal(up.bytes, data.length);
        const onServer = await runAsUser(sshd, `cat ${sq(remotePath)}`);
        assert.equal(sha256(onServer.stdout), sha256(data), 'the uploaded bytes are on the server');
        const down = await download(context(pool, { transport }), bufferDownload(remotePath, data.length));
        assert.equal(sha256(down.files[0]?.data ?? Buffer.alloc(0)), sha256(data), 'the downloaded bytes are the file');
      }
    } finally {
      await pool.close();
    }
  }

  /** The error of a first request through a pool for `endpoint` (the pool closed after it). */
  async function failure(endpoint: SshEndpoint): Promise<Error & { code?: string; host?: string }> {
    const pool = new SshPool(endpoint);
    try {
      return await rejection(pool.exec('true'));
    } finally {
      await pool.close();
    }
  }

  function assertProxied(proxy: ProxyServer, port: number): void {
    // Dante logs "127.0.0.1.<port>", tinyproxy "127.0.0.1:<port>": the proxy itself carried the connection.
    assert.match(proxy.logs(), new RegExp(`127\\.0\\.0\\.1[.:]${port}\\b`), `${proxy.kind} proxy log names the device port:\n${proxy.logs().slice(-2000)}`);
  }

  function assertNoSecret(error: Error): void {
    assert.ok(!error.message.includes(PROXY_PASSWORD) && !(error.stack ?? '').includes(PROXY_PASSWORD), 'the proxy password is never shown');
    assert.ok(!error.message.includes(sshd.password), 'the device password is never shown');
  }

  it('SOCKS5 without authentication: upload and download over SCP and SFTP', async function () {
    await roundTrip(device(proxyOf(dante)), 'socks');
    assertProxied(dante, sshd.port);
  });

  it('SOCKS5 with user name and password (RFC 1929): upload and download', async function () {
    await roundTrip(device(proxyOf(danteAuth, { username: sshd.username, password: sshd.password })), 'socks-auth');
    assertProxied(danteAuth, sshd.port);
  });

  it('HTTP CONNECT without authentication: upload and download', async function () {
    await roundTrip(device(proxyOf(tiny)), 'http');
    assertProxied(tiny, sshd.port);
  });

  it('HTTP CONNECT with Basic authentication: upload and download', async function () {
    await roundTrip(device(proxyOf(tinyAuth, { username: HTTP_USER, password: PROXY_PASSWORD })), 'http-auth');
    assertProxied(tinyAuth, sshd.port);
  });

  for (const kind of ['socks5', 'http'] as const) {
    it(`a jump host reached through the ${kind} proxy carries the device's connection`, async function () {
      const proxy = kind === 'socks5' ? dante : tinyAuth;
      const config = kind === 'socks5' ? proxyOf(dante) : proxyOf(tinyAuth, { username: HTTP_USER, password: PROXY_PASSWORD });
      const jumpHost = endpointFor(sshd, { privateKey: sshd.clientKey });
      await roundTrip(device(config, { jumpHost }), `jump-${kind}`);
      assertProxied(proxy, sshd.port);
      // Only the first hop goes through the proxy: a jump host that fails through it says so.
      const error = await failure(device({ ...config, port: await freePort() }, { jumpHost }));
      assert.equal(error.code, 'ECONNREFUSED');
      assert.match(error.message, /^jump host: .*proxy/);
    });
  }

  it('Test connection goes through the proxy and names it', async function () {
    const report = await testConnection(device(proxyOf(danteAuth, { username: sshd.username, password: sshd.password })));
    assert.equal(report.error, undefined, JSON.stringify(report));
    assert.equal(report.authenticated, true);
    assert.equal(report.sftp, true);
    assert.equal(report.proxy, `SOCKS5 proxy 127.0.0.1:${danteAuth.port}`);
    const refused = await testConnection(device(proxyOf(tinyAuth, { username: HTTP_USER, password: 'wrong' })));
    assert.equal(refused.error?.code, 'EPROXYAUTH');
    assert.equal(refused.reached, false, 'the device was never reached');
  });

  describe('failures, each with its own code', function () {
    it('SOCKS5: a rule refusing the device is EPROXY with the reply code, naming the device', async function () {
      const error = await failure(endpointFor({ ...sshd, port: blockedPort }, { privateKey: sshd.clientKey }, undefined, { proxy: proxyOf(dante) }));
      assert.equal(error.code, 'EPROXY');
      assert.match(error.message, new RegExp(`SOCKS5 proxy 127\\.0\\.0\\.1:${dante.port} could not connect to 127\\.0\\.0\\.1:${blockedPort}.*not allowed by ruleset \\(SOCKS reply 2\\)`));
    });

    it('HTTP: a CONNECT to a port the proxy does not allow is EPROXY with the HTTP status', async function () {
      const error = await failure(endpointFor({ ...sshd, port: blockedPort }, { privateKey: sshd.clientKey }, undefined, { proxy: proxyOf(tiny) }));
      assert.equal(error.code, 'EPROXY');
      assert.match(error.message, /could not connect to 127\.0\.0\.1:\d+.*HTTP 403/);
    });

    for (const kind of ['socks5', 'http'] as const) {
      it(`${kind}: the proxy down is ECONNREFUSED naming the proxy, not the device`, async function () {
        const port = await freePort();
        const error = (await failure(device({ kind, host: '127.0.0.1', port }))) as Error & { code?: string; host?: string };
        assert.equal(error.code, 'ECONNREFUSED');
        assert.equal(error.host, `127.0.0.1:${port}`);
        assert.match(error.message, new RegExp(`^${kind === 'socks5' ? 'SOCKS5' : 'HTTP'} proxy 127\\.0\\.0\\.1:${port} refused the connection`));
        assert.ok(!error.message.includes(String(sshd.port)), 'the device is not blamed');
      });
    }

    it('SOCKS5: a wrong password is EPROXYAUTH, no credentials too', async function () {
      const wrong = await failure(device(proxyOf(danteAuth, { username: sshd.username, password: PROXY_PASSWORD })));
      assert.equal(wrong.code, 'EPROXYAUTH');
      assert.match(wrong.message, /refused the proxy user name or password/);
      assertNoSecret(wrong);
      const none = await failure(device(proxyOf(danteAuth)));
      assert.equal(none.code, 'EPROXYAUTH');
      assert.match(none.message, /wants credentials that were not given/);
    });

    it('HTTP: a wrong password is EPROXYAUTH (401/407), no credentials too', async function () {
      const wrong = await failure(device(proxyOf(tinyAuth, { username: HTTP_USER, password: 'not-it' })));
      assert.equal(wrong.code, 'EPROXYAUTH', wrong.message);
      assert.match(wrong.message, /HTTP 40[17]/); // tinyproxy says 401 where RFC 9110 says 407
      const none = await failure(device(proxyOf(tinyAuth)));
      assert.equal(none.code, 'EPROXYAUTH');
      assertNoSecret(none);
    });
  });
});
