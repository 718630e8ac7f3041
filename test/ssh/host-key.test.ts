import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeTempDir, needThrowawayUser, sharedSshd, sshKeyPair, type SshdServer } from '../harness';
import { SshPool } from '../../src/ssh';
import type { HostKeyPolicy } from '../../src/ssh/types';
import { startAuthRecorder } from './auth-recorder';
import { collect, endpointFor, recordingLog, rejection } from './helpers';
import { useSshdPerTest } from '../support';

const run = promisify(execFile);

async function echoThrough(server: SshdServer, hostKey: HostKeyPolicy, log = recordingLog()): Promise<string> {
  const pool = new SshPool(endpointFor(server, { privateKey: server.clientKey }, hostKey), {}, { log });
  try {
    return (await collect(await pool.exec('echo trusted'))).stdout;
  } finally {
    await pool.close();
  }
}

async function refusal(server: SshdServer, hostKey: HostKeyPolicy): Promise<Error & { code?: string }> {
  const pool = new SshPool(endpointFor(server, { privateKey: server.clientKey }, hostKey));
  try {
    return await rejection(pool.exec('echo trusted'));
  } finally {
    await pool.close();
  }
}

function otherKeyLine(): string {
  return sshKeyPair().public.split(' ').slice(0, 2).join(' ');
}

describe('ssh host keys', function () {
  let server: SshdServer;
  let dir: string;
  before(async function () {
    needThrowawayUser(this);
    server = await sharedSshd();
    dir = await makeTempDir('ssh-hostkeys');
  });

  describe('fingerprint', () => {
    it('accepts the pinned fingerprint, however it was pasted', async () => {
      const exact = server.hostKeyFingerprints[0];
      assert.equal(await echoThrough(server, { kind: 'fingerprint', fingerprints: [exact] }), 'trusted\n');
      const sloppy = ` ${exact.replace(/^SHA256:/, '')}= `;
      assert.equal(await echoThrough(server, { kind: 'fingerprint', fingerprints: ['SHA256:somethingelse', sloppy] }), 'trusted\n');
    });

    it('refuses another key with EHOSTKEY naming both fingerprints', async () => {
      const expected = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
      const error = await refusal(server, { kind: 'fingerprint', fingerprints: [expected] });
      assert.equal(error.code, 'EHOSTKEY');
      assert.ok(
        error.message.includes(`host key for 127.0.0.1:${server.port} does not match: expected ${expected}, got ${server.hostKeyFingerprints[0]}`),
        error.message,
      );
    });

    it('sends no credential at all to a server whose key is not the pinned one', async () => {
      const fake = await startAuthRecorder({ methods: ['password', 'keyboard-interactive'], password: 'secret' });
      try {
        const pool = new SshPool(
          endpointFor(
            { ...fake, hostKeyFingerprints: ['SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'] },
            { password: 'secret', keyboardInteractive: true },
          ),
        );
        const error = await rejection(pool.exec('true'));
        assert.equal(error.code, 'EHOSTKEY');
        assert.ok(error.message.includes(fake.hostKeyFingerprint));
        assert.equal(fake.attempts.length, 0);
        await pool.close();
        // The same server with the right pin does get the password: the recorder does record attempts.
        const trusting = new SshPool(endpointFor({ ...fake, hostKeyFingerprints: [fake.hostKeyFingerprint] }, { password: 'secret' }));
        assert.equal((await collect(await trusting.exec('x'))).stdout, 'ran x\n');
        await trusting.close();
        assert.deepEqual(fake.attempts.map((attempt) => attempt.method), ['password']);
      } finally {
        await fake.close();
      }
    });
  });

  describe('known_hosts', () => {
    const file = (name: string): string => path.join(dir, name);

    it('trusts a plain [host]:port line', async () => {
      await fs.writeFile(file('plain'), `${server.knownHostsLine}\n`);
      assert.equal(await echoThrough(server, { kind: 'known_hosts', file: file('plain') }), 'trusted\n');
    });

    it('trusts a name hashed by ssh-keygen -H', async () => {
      await fs.writeFile(file('hashed'), `other.example ${otherKeyLine()}\n${server.knownHostsLine}\n`);
      await run('ssh-keygen', ['-H', '-f', file('hashed')]);
      const text = await fs.readFile(file('hashed'), 'utf8');
      assert.ok(!text.includes('127.0.0.1'), 'ssh-keygen hashed the names');
      assert.match(text, /^\|1\|/m);
      assert.equal(await echoThrough(server, { kind: 'known_hosts', file: file('hashed') }), 'trusted\n');
    });

    it('refuses a @revoked key', async () => {
      const [, type, blob] = server.knownHostsLine.split(' ');
      await fs.writeFile(file('revoked'), `${server.knownHostsLine}\n@revoked * ${type} ${blob}\n`);
      const error = await refusal(server, { kind: 'known_hosts', file: file('revoked') });
      assert.equal(error.code, 'EHOSTKEY');
      assert.match(error.message, /@revoked/);
    });

    it('refuses a host listed with another key', async () => {
      const other = otherKeyLine();
      await fs.writeFile(file('wrong'), `[127.0.0.1]:${server.port} ${other}\n`);
      const error = await refusal(server, { kind: 'known_hosts', file: file('wrong') });
      assert.equal(error.code, 'EHOSTKEY');
      assert.match(error.message, /does not match: expected SHA256:\S+, got /);
      assert.ok(error.message.includes(server.hostKeyFingerprints[0]));
    });

    it('refuses an unknown host, naming the file', async () => {
      await fs.writeFile(file('unknown'), `127.0.0.1 ${server.knownHostsLine.split(' ').slice(1).join(' ')}\n`);
      const error = await refusal(server, { kind: 'known_hosts', file: file('unknown') });
      assert.equal(error.code, 'EHOSTKEY');
      assert.ok(error.message.includes(`not in known_hosts file ${file('unknown')}`), error.message);
    });

    it('refuses a host matched only by a @cert-authority line, saying CA keys are not supported', async () => {
      await fs.writeFile(file('ca'), `@cert-authority [127.0.0.1]:${server.port} ${otherKeyLine()}\n`);
      const error = await refusal(server, { kind: 'known_hosts', file: file('ca') });
      assert.equal(error.code, 'EHOSTKEY');
      assert.match(error.message, /CA keys are not supported/);
    });

    it('refuses when the file is missing', async () => {
      const error = await refusal(server, { kind: 'known_hosts', file: file('absent') });
      assert.equal(error.code, 'EHOSTKEY');
      assert.ok(error.message.includes(file('absent')));
    });
  });

  describe('tofu', () => {
    const startOwnSshd = useSshdPerTest();

    it('stores the first key, accepts it again, and refuses a changed key on the same port', async () => {
      let own = await startOwnSshd();
      const store = path.join(dir, 'tofu', 'trusted-hosts.json');
      const policy: HostKeyPolicy = { kind: 'tofu', storeFile: store };
      assert.equal(await echoThrough(own, policy), 'trusted\n');
      const saved = JSON.parse(await fs.readFile(store, 'utf8')) as Record<string, { type: string; fingerprint: string; firstSeen: string }>;
      const entry = saved[`127.0.0.1:${own.port}`];
      assert.equal(entry.fingerprint, own.hostKeyFingerprints[0]);
      assert.equal(entry.type, 'ssh-ed25519');
      assert.ok(!Number.isNaN(Date.parse(entry.firstSeen)));
      assert.equal((await fs.stat(store)).mode & 0o777, 0o600);
      assert.equal(await echoThrough(own, policy), 'trusted\n');

      const port = own.port;
      const firstFingerprint = own.hostKeyFingerprints[0];
      await own.stop();
      own = await startOwnSshd({ port });
      assert.notEqual(own.hostKeyFingerprints[0], firstFingerprint);
      const error = await refusal(own, policy);
      assert.equal(error.code, 'EHOSTKEY');
      assert.ok(error.message.includes(`expected ${firstFingerprint}, got ${own.hostKeyFingerprints[0]}`), error.message);
      const after = JSON.parse(await fs.readFile(store, 'utf8')) as typeof saved;
      assert.equal(after[`127.0.0.1:${port}`].fingerprint, firstFingerprint, 'a refused key never replaces the stored one');
    });

    it('refuses to use a corrupt store rather than overwrite it', async () => {
      const store = path.join(dir, 'corrupt.json');
      await fs.writeFile(store, '{ not json');
      const error = await refusal(server, { kind: 'tofu', storeFile: store });
      assert.equal(error.code, 'EHOSTKEY');
      assert.equal(await fs.readFile(store, 'utf8'), '{ not json');
    });
  });

  describe('any', () => {
    it('accepts any key and warns once per connection', async () => {
      const log = recordingLog();
      const pool = new SshPool(endpointFor(server, { privateKey: server.clientKey }, { kind: 'any' }), {}, { log });
      for (let i = 0; i < 3; i++) assert.equal((await collect(await pool.exec('echo trusted'))).stdout, 'trusted\n');
      await pool.close();
      const warnings = log.warnings.filter((warning) => warning.includes('without checking'));
      assert.equal(warnings.length, 1, log.warnings.join('\n'));
      assert.ok(warnings[0].includes(server.hostKeyFingerprints[0]));
    });
  });
});
