/** How the scp-connection form becomes an SshEndpoint: defaults, validation, secrets kept out of errors. */
import assert from 'assert';
import os from 'os';
import path from 'path';
import { TransferError } from '../../src/errors';
import { endpointOf, normaliseLineEndings, parseAlgorithms, poolOptionsOf, idleTimeoutMsOf, transferTimeoutMsOf } from '../../src/nodes/endpoint';

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

  it('normalises CRLF and CR line endings to LF', function () {
    assert.strictEqual(normaliseLineEndings('a\r\nb\rc\nd'), 'a\nb\nc\nd');
  });
});
