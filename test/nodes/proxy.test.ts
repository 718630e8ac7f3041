/**
 * The proxy and compression settings of the scp-connection node, end to end in Node-RED: a fleet connection
 * whose devices (msg.host) all go through a SOCKS5 proxy with a login, an HTTP CONNECT proxy with Basic auth
 * and compression on, the proxy password kept as a credential (never in an error, a log or a report), wrong
 * proxy credentials caught as EPROXYAUTH, and "Test connection" going through the proxy and naming it — and
 * never sending the stored secrets to a host or proxy typed in the dialog.
 */
import assert from 'assert';
import crypto from 'crypto';
import net from 'net';
import { makeServerDir, needThrowawayUser, runAsUser, startDante, startSshd, startTinyproxy, type ProxyServer, type SshdServer } from '../harness';
import { startedProxy } from '../support';
import { connectionDef, downloadDef, helper, loadFlow, resultOf, send, uploadDef, useNodeRed, type Msg } from './support';

const PROXY_SECRET = `proxy-SECRET-${crypto.randomBytes(6).toString('hex')}`;
const PROXY_USER = 'flows';

/** A stranger's "proxy": it records what each connection sends first and answers 502. */
async function recordingProxy(): Promise<{ port: number; received: string[]; acceptedBeforeProbe(): Promise<number>; close(): Promise<void> }> {
  const received: string[] = [];
  const clientPorts: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    clientPorts.push(socket.remotePort ?? 0);
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', (chunk: Buffer) => {
      received.push(chunk.toString('latin1'));
      socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    received,
    // A connection opened earlier was queued earlier: once our probe is accepted, every earlier one has been.
    async acceptedBeforeProbe() {
      const probe = net.connect({ host: '127.0.0.1', port });
      probe.on('error', () => undefined);
      await new Promise((resolve) => probe.once('connect', resolve));
      const own = probe.localPort ?? -1;
      while (!clientPorts.includes(own)) await new Promise((resolve) => setImmediate(resolve));
      probe.destroy();
      return clientPorts.indexOf(own);
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('nodes: scp-connection through a proxy, with compression', function () {
  this.timeout(60_000);
  useNodeRed();
  let server: SshdServer;
  let dante: ProxyServer;
  let tiny: ProxyServer;
  let remote: string;

  before(async function () {
    needThrowawayUser(this);
    server = await startSshd({ extraAddresses: ['127.0.0.2'] });
    remote = (await makeServerDir(server, 'nodes-proxy')).absolute;
    dante = await startedProxy(this, 'danted (dante-server)', () => startDante({ auth: 'username' }));
    tiny = await startedProxy(this, 'tinyproxy', () => startTinyproxy({ basicAuth: { username: PROXY_USER, password: PROXY_SECRET } }));
  });

  after(async function () {
    await helper.unload();
    await Promise.all([dante?.stop(), tiny?.stop(), server?.stop()]);
  });

  function httpConnection(extra: Msg = {}): Msg {
    return connectionDef(server, {
      username: server.username,
      proxyType: 'http',
      proxyHost: tiny.host,
      proxyPort: String(tiny.port),
      proxyUsername: PROXY_USER,
      compression: true,
      ...extra,
    });
  }

  it('every device a message names goes through the SOCKS5 proxy, with its login', async function () {
    await loadFlow(
      [
        connectionDef(server, {
          username: server.username,
          deviceOverride: true,
          proxyType: 'socks5',
          proxyHost: dante.host,
          proxyPort: dante.port,
          proxyUsername: server.username,
        }),
        uploadDef(),
      ],
      { conn: { password: server.password, proxyPassword: server.password } },
    );
    for (const host of ['127.0.0.1', '127.0.0.2']) {
      const remotePath = `${remote}/from-${host}.txt`;
      const result = resultOf(await send('up', { payload: `via socks to ${host}`, remotePath, host }));
      assert.strictEqual((result.scp as { host: string }).host, host);
      assert.strictEqual((await runAsUser(server, `cat '${remotePath}'`)).stdout.toString(), `via socks to ${host}`);
      assert.match(dante.logs(), new RegExp(`${host.replace(/\./g, '\\.')}\\.${server.port}\\b`), 'the proxy carried this device');
    }
  });

  it('HTTP CONNECT with Basic auth and compression: upload and download; the password is a credential', async function () {
    await loadFlow([httpConnection(), uploadDef(), downloadDef()], { conn: { password: server.password, proxyPassword: PROXY_SECRET } });
    const text = Buffer.from('2026-12-06 INFO sensor reading accepted\n'.repeat(20_000));
    const remotePath = `${remote}/via-http.log`;
    resultOf(await send('up', { payload: text, remotePath }));
    const down = resultOf(await send('down', { remotePath }));
    assert.ok((down.payload as Buffer).equals(text));
    assert.match(tiny.logs(), new RegExp(`127\\.0\\.0\\.1:${server.port}\\b`), 'the proxy carried the connection');

    const report = (await helper.request().post('/scp-connection/conn/test').send({ ...httpConnection(), credentials: { password: '__PWRD__', proxyPassword: '__PWRD__' } }).expect(200))
      .body as { authenticated: boolean; proxy?: string; error?: unknown };
    assert.strictEqual(report.error, undefined, JSON.stringify(report));
    assert.strictEqual(report.authenticated, true, 'the stored proxy password was used');
    assert.strictEqual(report.proxy, `HTTP proxy 127.0.0.1:${tiny.port}`);
  });

  it('Test connection sends the stored secrets only to the deployed destination: another proxy gets no proxy password', async function () {
    await loadFlow([httpConnection(), uploadDef()], { conn: { password: server.password, proxyPassword: PROXY_SECRET } });
    const stranger = await recordingProxy();
    try {
      const test = async (settings: Msg, credentials: Msg): Promise<{ reached: boolean; error?: { code: string; message: string } }> =>
        (await helper.request().post('/scp-connection/conn/test').send({ ...httpConnection(settings), credentials }).expect(200)).body as {
          reached: boolean;
          error?: { code: string; message: string };
        };
      const placeholders = { password: '__PWRD__', proxyPassword: '__PWRD__' };
      // Another proxy port, another device, another user: the stored secrets are refused there, before any connection.
      for (const changed of [{ proxyPort: String(stranger.port) }, { host: '127.0.0.2' }, { username: 'someone-else' }]) {
        const report = await test(changed, placeholders);
        assert.strictEqual(report.error?.code, 'EINVAL', JSON.stringify({ changed, report }));
        assert.strictEqual(report.error?.message, 'scp-connection.errors.secretsStayWithDeployed');
        assert.strictEqual(report.reached, false);
      }
      assert.strictEqual(await stranger.acceptedBeforeProbe(), 0, 'nothing reached the other proxy');
      // The SSH password typed, the proxy password left blank: the other proxy hears the user name and no password.
      const report = await test({ proxyPort: String(stranger.port) }, { password: server.password, proxyPassword: '' });
      assert.strictEqual(report.error?.code, 'EPROXY', JSON.stringify(report));
      assert.strictEqual(stranger.received.length, 1);
      const authorization = /^Proxy-Authorization: Basic (\S+)\r$/m.exec(stranger.received[0] ?? '')?.[1];
      assert.strictEqual(Buffer.from(authorization ?? '', 'base64').toString(), `${PROXY_USER}:`, stranger.received[0]);
      assert.ok(!stranger.received[0]?.includes(Buffer.from(PROXY_SECRET).toString('base64').slice(0, 12)));
      // The deployed destination, written another way (port as a number, host in brackets), still uses them.
      const same = await test({ host: '[127.0.0.1]', port: server.port, proxyPort: tiny.port }, placeholders);
      assert.strictEqual(same.error, undefined, JSON.stringify(same));
    } finally {
      await stranger.close();
    }
  });

  it('wrong proxy credentials are EPROXYAUTH, and no error, log or report shows the password', async function () {
    const wrong = `${PROXY_SECRET}-wrong`;
    await loadFlow([httpConnection(), uploadDef()], { conn: { password: server.password, proxyPassword: wrong } });
    const outcome = await send('up', { payload: 'x', remotePath: `${remote}/never.txt` });
    const error = outcome.error?.error as { code?: string; message?: string } | undefined;
    assert.strictEqual(error?.code, 'EPROXYAUTH', JSON.stringify(error));
    assert.match(error?.message ?? '', /proxy/i);
    const report = (await helper.request().post('/scp-connection/conn/test').send({ ...httpConnection(), credentials: { proxyPassword: wrong } }).expect(200)).body as {
      error?: { code: string };
    };
    assert.strictEqual(report.error?.code, 'EPROXYAUTH');
    const logs = JSON.stringify(helper.log()?.getCalls().map((call) => call.args) ?? []);
    for (const text of [JSON.stringify(outcome), JSON.stringify(report), logs]) {
      assert.ok(!text.includes(PROXY_SECRET), 'the proxy password never shows');
    }
  });
});
