/** How the scp-connection form becomes an SshEndpoint: defaults, validation, secrets kept out of errors. */
import assert from 'assert';
import os from 'os';
import path from 'path';
import { TransferError } from '../../src/errors';
import { COMPRESSION_ALGORITHMS } from '../../src/ssh';
import { destinationOf, endpointOf, normaliseLineEndings, parseAlgorithms, poolOptionsOf, idleTimeoutMsOf, transferTimeoutMsOf } from '../../src/nodes/endpoint';

const STORE = '/tmp/store.json';

function invalid(run: () => unknown): TransferError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof TransferError);
    assert.strictEqual(error.code, 'EINVAL');
    return error;
  }
  throw new Error('expected EINVAL');
}

describe('nodes: connection settings → endpoint', function () {
  it('fills defaults and derives auth from what is filled in', function () {
    const endpoint = endpointOf({ host: ' example.org ', username: 'pi' }, { password: 'pw', privateKey: 'a\r\nb\rc\n' }, STORE);
    assert.strictEqual(endpoint.host, 'example.org');
    assert.strictEqual(endpoint.port, 22);
    assert.strictEqual(endpoint.readyTimeoutMs, 20_000);
    assert.strictEqual(endpoint.keepaliveIntervalMs, 15_000);
    assert.deepStrictEqual(endpoint.hostKey, { kind: 'tofu', storeFile: STORE });
    assert.deepStrictEqual(endpoint.auth, { password: 'pw', privateKey: 'a\nb\nc\n' });
    assert.strictEqual(endpoint.algorithms, undefined);
    assert.deepStrictEqual(poolOptionsOf({}), { maxChannelsPerConnection: 8, maxConnections: 2 });
    assert.strictEqual(idleTimeoutMsOf({ idleTimeout: '45' }), 45_000);
  });

  it('agent, key path, keyboard-interactive and host-key policies', function () {
    const endpoint = endpointOf(
      {
        host: 'h',
        username: 'u',
        port: '2222',
        agent: 'path',
        agentSocket: '~/agent.sock',
        privateKeyPath: '~/.ssh/id_ed25519',
        keyboardInteractive: true,
        hostKeyPolicy: 'known_hosts',
        knownHostsFile: '',
      },
      { password: 'pw', passphrase: '' },
      STORE,
    );
    assert.strictEqual(endpoint.port, 2222);
    assert.deepStrictEqual(endpoint.auth, {
      password: 'pw',
      privateKeyPath: path.join(os.homedir(), '.ssh/id_ed25519'),
      agent: path.join(os.homedir(), 'agent.sock'),
      keyboardInteractive: true,
    });
    assert.deepStrictEqual(endpoint.hostKey, { kind: 'known_hosts', file: path.join(os.homedir(), '.ssh/known_hosts') });
    const pinned = endpointOf({ host: 'h', username: 'u', hostKeyPolicy: 'fingerprint', hostFingerprints: 'SHA256:a\r\n\n# note\nSHA256:b ' }, {}, STORE);
    assert.deepStrictEqual(pinned.hostKey, { kind: 'fingerprint', fingerprints: ['SHA256:a', 'SHA256:b'] });
    assert.deepStrictEqual(endpointOf({ host: 'h', username: 'u', hostKeyPolicy: 'any' }, {}, STORE).hostKey, { kind: 'any' });
  });

  it('refuses unusable settings with EINVAL, never quoting a secret', function () {
    invalid(() => endpointOf({ host: '', username: 'u' }, {}, STORE));
    invalid(() => endpointOf({ host: 'h', username: '' }, {}, STORE));
    invalid(() => endpointOf({ host: 'h', username: 'u', port: 70000 }, {}, STORE));
    invalid(() => endpointOf({ host: 'h', username: 'u', port: 'abc' }, {}, STORE));
    invalid(() => endpointOf({ host: 'h', username: 'u', hostKeyPolicy: 'fingerprint', hostFingerprints: ' \n' }, {}, STORE));
    invalid(() => endpointOf({ host: 'h', username: 'u', agent: 'path', agentSocket: '' }, {}, STORE));
    const error = invalid(() => endpointOf({ host: 'h', username: 'u', port: 'x' }, { password: 'hunter2-secret' }, STORE));
    assert.ok(!error.message.includes('hunter2-secret'));
  });

  it('a port (and every other count) must be a whole number: a fraction is EINVAL naming the field', function () {
    const error = invalid(() => endpointOf({ host: 'h', username: 'u', port: '2601.5' }, {}, STORE));
    assert.match(error.message, /port must be a whole number from 1 to 65535/);
    invalid(() => endpointOf({ host: 'h', username: 'u', port: 2601.5 }, {}, STORE));
    invalid(() => endpointOf({ host: 'h', username: 'u', port: 0 }, {}, STORE));
    invalid(() => endpointOf({ host: 'h', username: 'u', readyTimeout: '1.5' }, {}, STORE));
    invalid(() => poolOptionsOf({ maxChannels: 2.5 }));
    assert.strictEqual(endpointOf({ host: 'h', username: 'u', port: ' 65535 ' }, {}, STORE).port, 65535);
  });

  it('the transfer time limit: blank or 0 is none, whole seconds otherwise', function () {
    assert.strictEqual(transferTimeoutMsOf({}), 0);
    assert.strictEqual(transferTimeoutMsOf({ transferTimeout: '' }), 0);
    assert.strictEqual(transferTimeoutMsOf({ transferTimeout: '0' }), 0);
    assert.strictEqual(transferTimeoutMsOf({ transferTimeout: '600' }), 600_000);
    assert.match(invalid(() => transferTimeoutMsOf({ transferTimeout: -1 })).message, /transfer time limit/);
    invalid(() => transferTimeoutMsOf({ transferTimeout: '1.5' }));
    invalid(() => transferTimeoutMsOf({ transferTimeout: 'soon' }));
  });

  it('validates the algorithms JSON', function () {
    assert.deepStrictEqual(parseAlgorithms('{"cipher": ["aes128-gcm@openssh.com"], "kex": {"append": ["diffie-hellman-group14-sha1"]}}'), {
      cipher: ['aes128-gcm@openssh.com'],
      kex: { append: ['diffie-hellman-group14-sha1'] },
    });
    assert.strictEqual(parseAlgorithms('  '), undefined);
    invalid(() => parseAlgorithms('{"cipher": ['));
    invalid(() => parseAlgorithms('["aes"]'));
    invalid(() => parseAlgorithms('{"ciphers": ["aes"]}'));
    invalid(() => parseAlgorithms('{"cipher": [1]}'));
    invalid(() => parseAlgorithms('{"cipher": {"add": ["x"]}}'));
  });

  it('a proxy: none by default, SOCKS5 or HTTP with default ports, a login only with a user, a half-filled one EINVAL', function () {
    const base = { host: 'device', username: 'pi' };
    assert.strictEqual(endpointOf(base, {}, STORE).proxy, undefined);
    assert.strictEqual(endpointOf({ ...base, proxyType: 'none', proxyHost: 'ignored' }, {}, STORE).proxy, undefined);
    assert.deepStrictEqual(endpointOf({ ...base, proxyType: 'socks5', proxyHost: ' gw ' }, { proxyPassword: 'unused' }, STORE).proxy, { kind: 'socks5', host: 'gw', port: 1080 });
    assert.deepStrictEqual(endpointOf({ ...base, proxyType: 'http', proxyHost: '[fd00::1]', proxyUsername: 'u' }, {}, STORE).proxy, {
      kind: 'http',
      host: 'fd00::1',
      port: 3128,
      username: 'u',
      password: '',
    });
    assert.deepStrictEqual(endpointOf({ ...base, proxyType: 'http', proxyHost: 'gw', proxyPort: '8080', proxyUsername: 'u' }, { proxyPassword: 'S3CRET' }, STORE).proxy, {
      kind: 'http',
      host: 'gw',
      port: 8080,
      username: 'u',
      password: 'S3CRET',
    });
    assert.match(invalid(() => endpointOf({ ...base, proxyType: 'socks5' }, { proxyPassword: 'S3CRET' }, STORE)).message, /proxy has no host/);
    assert.match(invalid(() => endpointOf({ ...base, proxyType: 'socks5', proxyHost: 'gw', proxyPort: '70000' }, {}, STORE)).message, /proxy port/);
    const unknown = invalid(() => endpointOf({ ...base, proxyType: 'socks4' as never, proxyHost: 'gw' }, { proxyPassword: 'S3CRET' }, STORE));
    assert.ok(!unknown.message.includes('S3CRET'));
  });

  it('compression: off by default; on offers zlib@openssh.com, zlib, none; an own compress list wins', function () {
    const base = { host: 'device', username: 'pi' };
    assert.strictEqual(endpointOf(base, {}, STORE).algorithms, undefined);
    assert.deepStrictEqual(endpointOf({ ...base, compression: true }, {}, STORE).algorithms, { compress: COMPRESSION_ALGORITHMS });
    assert.deepStrictEqual(COMPRESSION_ALGORITHMS, ['zlib@openssh.com', 'zlib', 'none']);
    assert.deepStrictEqual(endpointOf({ ...base, compression: true, algorithms: '{"kex": ["curve25519-sha256"]}' }, {}, STORE).algorithms, {
      kex: ['curve25519-sha256'],
      compress: COMPRESSION_ALGORITHMS,
    });
    assert.deepStrictEqual(endpointOf({ ...base, compression: true, algorithms: '{"compress": ["none"]}' }, {}, STORE).algorithms, { compress: ['none'] });
  });

  it('destination: the same one written another way is equal; another host, port, user, jump host or proxy is not', function () {
    const deployed = { host: 'Device.example', port: '22', username: 'pi', proxyType: 'http' as const, proxyHost: '10.0.0.9', proxyPort: 3128, proxyUsername: 'u' };
    const written = { host: ' device.example ', port: 22, username: 'pi', proxyType: 'http' as const, proxyHost: '[10.0.0.9]', proxyPort: '', proxyUsername: 'u', hostKeyPolicy: 'any' as const };
    assert.strictEqual(destinationOf(written), destinationOf(deployed));
    assert.strictEqual(destinationOf({ host: 'h', username: 'u', proxyHost: 'ignored' }), destinationOf({ host: 'h', port: '', username: 'u', proxyType: 'none' }));
    for (const changed of [{ host: 'other' }, { port: 2222 }, { username: 'root' }, { jumpHost: 'j1' }, { proxyType: 'socks5' as const }, { proxyHost: '10.0.0.10' }, { proxyPort: 8080 }, { proxyUsername: 'v' }]) {
      assert.notStrictEqual(destinationOf({ ...deployed, ...changed }), destinationOf(deployed), JSON.stringify(changed));
    }
  });

  it('normalises CRLF and CR line endings to LF', function () {
    assert.strictEqual(normaliseLineEndings('a\r\nb\rc\nd'), 'a\nb\nc\nd');
  });
});
