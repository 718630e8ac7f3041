/**
 * Host-key verification also runs when the server re-keys. ssh2 shows the client the server's host key
 * at every key exchange; a server (or someone in the middle) that presents another key at a re-key must
 * lose the connection, exactly as if it had presented that key at the start.
 *
 * The fake server's host key is a switchable key object: ssh2's Server accepts an already parsed key
 * (utils.parseKey's result) in `hostKeys`, and this one forwards to whichever of two ed25519 keys is
 * current. The server re-keys (Connection.rekey(), public API) inside an exec request, after the switch.
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { Server, utils, type Connection, type ParsedKey } from 'ssh2';
import { SshPool } from '../../src/ssh';
import { fingerprintOfPublicKeyLine, sshKeyPair } from '../harness';
import { collect, rejection } from './helpers';

interface SwitchableKey {
  key: ParsedKey;
  use(index: number): void;
}

function parsed(text: string): ParsedKey {
  const key = utils.parseKey(text);
  if (key instanceof Error) throw key;
  return Array.isArray(key) ? key[0] : key;
}

function switchableKey(keys: ParsedKey[]): SwitchableKey {
  let current = 0;
  const key = new Proxy(keys[0], {
    get(_target, property) {
      const target = keys[current] as unknown as Record<string | symbol, unknown>;
      const value = target[property];
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { key, use: (index) => (current = index) };
}

function fingerprintOf(key: ParsedKey): string {
  return fingerprintOfPublicKeyLine(`${key.type} ${key.getPublicSSH().toString('base64')}`);
}

describe('ssh: host key at re-key', function () {
  const pairs = [sshKeyPair(), sshKeyPair()];
  const hostKey = switchableKey(pairs.map((pair) => parsed(pair.private)));
  const clientKey = sshKeyPair();
  const sockets = new Set<net.Socket>();
  let tcp: net.Server;
  let port: number;
  let connections = 0;
  let rekeys = 0;
  let pool: SshPool;

  before(async function () {
    const ssh = new Server({ hostKeys: [{ key: hostKey.key as unknown as string }] });
    ssh.on('connection', (connection: Connection) => {
      connections += 1;
      connection.on('error', () => undefined);
      connection.on('authentication', (ctx) => ctx.accept());
      connection.on('rekey', () => (rekeys += 1));
      connection.on('ready', () => {
        connection.on('session', (acceptSession) => {
          const session = acceptSession();
          session.on('exec', (accept, _reject, info) => {
            const channel = accept();
            channel.on('error', () => undefined);
            const reply = (): void => {
              channel.write(`ran ${info.command}\n`);
              channel.exit(0);
              channel.end();
            };
            // "rekey": a new key exchange first, the reply after it (queued by ssh2 until it is done).
            if (info.command === 'rekey') connection.rekey();
            reply();
          });
        });
      });
    });
    tcp = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
      ssh.injectSocket(socket);
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    port = (tcp.address() as net.AddressInfo).port;
    pool = new SshPool({
      host: '127.0.0.1',
      port,
      username: 'tester',
      auth: { privateKey: clientKey.private },
      // Only the first key is trusted.
      hostKey: { kind: 'fingerprint', fingerprints: [fingerprintOf(parsed(pairs[0].private))] },
      readyTimeoutMs: 20_000,
      keepaliveIntervalMs: 0,
    });
  });
  after(async function () {
    await pool?.close();
    tcp?.close();
    for (const socket of sockets) socket.destroy();
  });

  it('a re-key with the same key keeps the connection; one with another key ends it, and it is not trusted after', async function () {
    assert.equal((await collect(await pool.exec('first'))).stdout, 'ran first\n');
    assert.equal((await collect(await pool.exec('rekey'))).stdout, 'ran rekey\n');
    assert.equal(rekeys, 1, 'the server re-keyed once');
    assert.equal((await collect(await pool.exec('still the same connection'))).stdout, 'ran still the same connection\n');
    assert.equal(connections, 1);

    // Now the server presents the second key at the next key exchange.
    hostKey.use(1);
    const during = await collect(await pool.exec('rekey'));
    assert.equal(during.stdout, '', 'a reply sent after the re-key with another key was read');
    assert.equal(rekeys, 1, 'the re-key with another key completed');
    // The connection is gone; a new one meets the second key at once and refuses it.
    const refused = await rejection(pool.exec('after'));
    assert.equal(refused.code, 'EHOSTKEY', refused.message);
    assert.equal(connections, 2, 'the next request needed a new connection');
  });
});
