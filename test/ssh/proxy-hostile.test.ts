/**
 * Proxies that misbehave (scripted TCP servers: the real ones are in proxy.test.ts): wrong versions,
 * silence, a close mid-handshake, a header without end, an unknown address type. Each fails with its code
 * within the connection deadline and leaves nothing open; and a reply that shares its TCP segment with the
 * SSH server's greeting loses no byte of it. A device host that cannot be sent fails with EINVAL before any
 * socket opens, and an IPv6 zone reaches an HTTP proxy as RFC 6874 writes it ("%25").
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { SshPool } from '../../src/ssh';
import { SshConnection } from '../../src/ssh/connection';
import { openProxyTunnel } from '../../src/ssh/proxy';
import type { ProxyConfig } from '../../src/ssh/types';
import { needThrowawayUser, sharedSshd, type SshdServer } from '../harness';
import { endpointFor, rejection } from './helpers';

interface ScriptedProxy {
  port: number;
  /** connections the proxy accepted */
  accepted: () => number;
  /** the client ports of the connections it accepted, in order */
  clientPorts: () => number[];
  /** sockets the script saw closed by the client */
  closedByClient: () => number;
  close(): Promise<void>;
}

/** A TCP server running `script` on each connection (with an error listener on it). */
async function scriptedProxy(script: (socket: net.Socket) => void): Promise<ScriptedProxy> {
  let closed = 0;
  let accepted = 0;
  const clientPorts: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    accepted += 1;
    clientPorts.push(socket.remotePort ?? 0);
    sockets.add(socket);
    socket.on('error', () => undefined);
    // (a socket nobody reads from never learns that the other side closed it)
    socket.on('close', () => {
      closed += 1;
      sockets.delete(socket);
    });
    script(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    clientPorts: () => [...clientPorts],
    closedByClient: () => closed,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * How many connections the proxy accepted before one of our own: a socket opened earlier was queued
 * earlier, so once our probe is accepted every earlier one has been too.
 */
async function acceptedBeforeProbe(proxy: ScriptedProxy): Promise<number> {
  const probe = net.connect({ host: '127.0.0.1', port: proxy.port });
  probe.on('error', () => undefined);
  await new Promise((resolve) => probe.once('connect', resolve));
  const port = probe.localPort;
  while (!proxy.clientPorts().includes(port ?? -1)) await new Promise((resolve) => setImmediate(resolve));
  probe.destroy();
  return proxy.clientPorts().indexOf(port ?? -1);
}

/** Reads the SOCKS5 greeting and answers `reply`; then, for the CONNECT, `connectReply` (if any). */
function socksScript(reply: number[], connectReply?: number[]): (socket: net.Socket) => void {
  return (socket) => {
    let step = 0;
    socket.on('data', () => {
      step += 1;
      if (step === 1) socket.write(Buffer.from(reply));
      else if (step === 2 && connectReply) socket.write(Buffer.from(connectReply));
    });
  };
}

describe('ssh: hostile proxies', function () {
  let sshd: SshdServer;
  before(async function () {
    needThrowawayUser(this);
    sshd = await sharedSshd();
  });

  const cases: { name: string; kind: ProxyConfig['kind']; script: (socket: net.Socket) => void; code: string; text: RegExp }[] = [
    { name: 'SOCKS: greeting answered by another version', kind: 'socks5', script: socksScript([4, 0]), code: 'EPROTO', text: /does not speak SOCKS5.*version 4/ },
    { name: 'SOCKS: a method that was not offered', kind: 'socks5', script: socksScript([5, 0x03]), code: 'EPROTO', text: /method 3/ },
    { name: 'SOCKS: an unknown address type in the reply', kind: 'socks5', script: socksScript([5, 0], [5, 0, 0, 9, 1, 2]), code: 'EPROTO', text: /unknown type 9/ },
    { name: 'SOCKS: an unknown reply code', kind: 'socks5', script: socksScript([5, 0], [5, 0x42, 0, 1]), code: 'EPROXY', text: /SOCKS reply 66/ },
    { name: 'SOCKS: silence after the greeting', kind: 'socks5', script: (s) => s.resume(), code: 'ETIMEDOUT', text: /did not finish its handshake/ },
    { name: 'SOCKS: a close in the middle of the handshake', kind: 'socks5', script: (s) => s.once('data', () => s.end(Buffer.from([5]))), code: 'ECONNRESET', text: /closed the connection during its handshake/ },
    { name: 'HTTP: a reply that is not HTTP', kind: 'http', script: (s) => s.once('data', () => s.write('SSH-2.0-surprise\r\n\r\n')), code: 'EPROTO', text: /not HTTP/ },
    { name: 'HTTP: a header without end', kind: 'http', script: (s) => s.once('data', () => s.write(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(20_000)}`)), code: 'EPROTO', text: /longer than 16384 bytes/ },
    { name: 'HTTP: a status line alone, then silence', kind: 'http', script: (s) => s.once('data', () => s.write('HTTP/1.1 200 OK\r\n')), code: 'ETIMEDOUT', text: /did not finish its handshake/ },
    { name: 'HTTP: 502 from the proxy', kind: 'http', script: (s) => s.once('data', () => s.end('HTTP/1.1 502 Bad Gateway\r\n\r\n')), code: 'EPROXY', text: /HTTP 502 Bad Gateway/ },
  ];

  for (const { name, kind, script, code, text } of cases) {
    it(`${name}: ${code}, within the deadline, the socket closed`, async function () {
      const proxy = await scriptedProxy(script);
      try {
        const endpoint = endpointFor(sshd, { privateKey: sshd.clientKey }, undefined, {
          proxy: { kind, host: '127.0.0.1', port: proxy.port },
          readyTimeoutMs: 600,
        });
        const error = await rejection(SshConnection.open(endpoint));
        assert.equal(error.code, code, error.message);
        assert.match(error.message, text);
        // Our side closed its socket: the script saw the close (bounded by mocha's timeout, not by a sleep).
        while (proxy.closedByClient() === 0) await new Promise((resolve) => setImmediate(resolve));
      } finally {
        await proxy.close();
      }
    });
  }

  it('a proxy that refuses our login is asked once, not on every message (EPROXYAUTH cools down like EAUTH)', async function () {
    const proxy = await scriptedProxy(socksScript([5, 0xff]));
    const pool = new SshPool(
      endpointFor(sshd, { privateKey: sshd.clientKey }, undefined, { proxy: { kind: 'socks5', host: '127.0.0.1', port: proxy.port, username: 'u', password: 'p' } }),
    );
    try {
      for (let attempt = 0; attempt < 3; attempt++) assert.equal((await rejection(pool.exec('true'))).code, 'EPROXYAUTH');
      assert.equal(proxy.accepted(), 1, 'one connection to the proxy for three requests');
    } finally {
      await pool.close();
      await proxy.close();
    }
  });

  it('SOCKS5 CONNECT names the device as RFC 1928 says: IPv4, IPv6 (with ::), or a host name for the proxy to resolve', async function () {
    const requests: Buffer[] = [];
    const proxy = await scriptedProxy((socket) => {
      let step = 0;
      socket.on('data', (chunk: Buffer) => {
        step += 1;
        if (step === 1) socket.write(Buffer.from([5, 0]));
        else {
          requests.push(chunk);
          socket.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]));
        }
      });
    });
    try {
      const expected: [string, number[]][] = [
        ['10.1.2.3', [1, 10, 1, 2, 3]],
        ['fd00::1:2', [4, 0xfd, 0, ...new Array<number>(10).fill(0), 0, 1, 0, 2]],
        ['::ffff:10.1.2.3', [4, ...new Array<number>(10).fill(0), 0xff, 0xff, 10, 1, 2, 3]],
        ['device.example', [3, 14, ...Buffer.from('device.example')]],
      ];
      for (const [host, address] of expected) {
        const error = await rejection(SshConnection.open(endpointFor({ ...sshd, host, port: 2222 }, { privateKey: sshd.clientKey }, undefined, { proxy: { kind: 'socks5', host: '127.0.0.1', port: proxy.port } })));
        assert.equal(error.code, 'ECONNREFUSED', 'SOCKS reply 5: the device refused');
        assert.deepEqual([...(requests.pop() ?? [])], [5, 1, 0, ...address, 0x08, 0xae], host);
      }
    } finally {
      await proxy.close();
    }
  });

  const unsendable: { kind: ProxyConfig['kind']; host: string }[] = [
    { kind: 'http', host: 'device\r\nX-Injected: 1' },
    { kind: 'http', host: 'two words' },
    { kind: 'http', host: 'name%with-percent' },
    { kind: 'http', host: 'fe80::1%eth 0' },
    { kind: 'http', host: 'not:an:address' },
    { kind: 'socks5', host: 'd'.repeat(256) },
  ];
  for (const { kind, host } of unsendable) {
    it(`${kind}: a device host that cannot be sent (${JSON.stringify(host.slice(0, 24))}) is EINVAL before any socket opens`, async function () {
      const proxy = await scriptedProxy((socket) => socket.resume());
      try {
        const error = await rejection(openProxyTunnel({ kind, host: '127.0.0.1', port: proxy.port }, { host, port: 22 }, { deadlineMs: 5_000 }));
        assert.equal(error.code, 'EINVAL', error.message);
        assert.equal(await acceptedBeforeProbe(proxy), 0, 'no connection reached the proxy');
      } finally {
        await proxy.close();
      }
    });
  }

  it('HTTP CONNECT brackets an IPv6 device and writes its zone "%" as "%25" (RFC 6874)', async function () {
    const requests: string[] = [];
    const proxy = await scriptedProxy((socket) =>
      socket.once('data', (chunk: Buffer) => {
        requests.push(chunk.toString('latin1'));
        socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      }),
    );
    try {
      const expected: [string, string][] = [
        ['fe80::1%eth0', '[fe80::1%25eth0]:2222'],
        ['fd00::1:2', '[fd00::1:2]:2222'],
        ['10.1.2.3', '10.1.2.3:2222'],
        ['device.example', 'device.example:2222'],
      ];
      for (const [host, authority] of expected) {
        const error = await rejection(openProxyTunnel({ kind: 'http', host: '127.0.0.1', port: proxy.port }, { host, port: 2222 }, { deadlineMs: 5_000 }));
        assert.equal(error.code, 'EPROXY', error.message);
        assert.equal(requests.pop(), `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`, host);
      }
    } finally {
      await proxy.close();
    }
  });

  it('an abort during the handshake is EABORTED', async function () {
    const proxy = await scriptedProxy(() => undefined);
    try {
      const controller = new AbortController();
      const opening = SshConnection.open(endpointFor(sshd, { privateKey: sshd.clientKey }, undefined, { proxy: { kind: 'http', host: '127.0.0.1', port: proxy.port } }), {
        signal: controller.signal,
      });
      setImmediate(() => controller.abort());
      assert.equal((await rejection(opening)).code, 'EABORTED');
    } finally {
      await proxy.close();
    }
  });

  it("HTTP: the SSH greeting in the same segment as the proxy's 200 reaches the SSH client whole", async function () {
    const proxy = await scriptedProxy((client) => {
      client.once('data', () => {
        const upstream = net.connect({ host: sshd.host, port: sshd.port });
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.once('data', (greeting: Buffer) => {
          client.write(Buffer.concat([Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n'), greeting]));
          upstream.pipe(client);
          client.pipe(upstream);
        });
      });
    });
    try {
      const connection = await SshConnection.open(endpointFor(sshd, { privateKey: sshd.clientKey }, undefined, { proxy: { kind: 'http', host: '127.0.0.1', port: proxy.port } }));
      assert.equal(connection.closed, false);
      await connection.end();
    } finally {
      await proxy.close();
    }
  });
});
