import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { generateTestKey, makeTempDir, type SshdServer } from '../harness';
import { eventually, shiftClock, useOwnSshd, useSharedSshd } from '../support';
import { SshPool } from '../../src/ssh';
import type { AuthConfig, SshEndpoint } from '../../src/ssh/types';
import { startAuthRecorder, type AuthRecorder, type AuthRecorderOptions } from './auth-recorder';
import { collect, endpointFor, rejection } from './helpers';

/** The error of a first command through a new pool for `endpoint`, which must have `code` (the pool is closed). */
async function firstFailure(endpoint: SshEndpoint, code: string): Promise<Error & { code?: string }> {
  const pool = new SshPool(endpoint);
  try {
    const error = await rejection(pool.exec('true'));
    assert.equal(error.code, code);
    return error;
  } finally {
    await pool.close();
  }
}

/** A fake server that records each login attempt, for `use`; closed after it. */
async function withAuthRecorder(options: AuthRecorderOptions, use: (fake: AuthRecorder, endpoint: (auth: AuthConfig) => SshEndpoint) => Promise<void>): Promise<void> {
  const fake = await startAuthRecorder(options);
  try {
    await use(fake, (auth) => endpointFor({ ...fake, hostKeyFingerprints: [fake.hostKeyFingerprint] }, auth));
  } finally {
    await fake.close();
  }
}

async function runWith(pool: SshPool, command = 'echo ok'): Promise<string> {
  try {
    return (await collect(await pool.exec(command))).stdout;
  } finally {
    await pool.close();
  }
}

/** "Accepted <method> for <user>" lines of the server log since `from` */
function acceptedSince(server: SshdServer, from: number): string[] {
  return server
    .logs()
    .slice(from)
    .split('\n')
    .map((line) => /Accepted (\S+) for /.exec(line)?.[1])
    .filter((method): method is string => method !== undefined);
}

describe('ssh authentication', function () {
  const server = useSharedSshd({ throwawayUser: true });

  it('logs in with a password', async () => {
    const from = server.logs().length;
    assert.equal(await runWith(new SshPool(endpointFor(server, { password: server.password }))), 'ok\n');
    assert.deepEqual(acceptedSince(server, from), ['password']);
  });

  it('logs in with private key text', async () => {
    const from = server.logs().length;
    assert.equal(await runWith(new SshPool(endpointFor(server, { privateKey: server.clientKey }))), 'ok\n');
    assert.deepEqual(acceptedSince(server, from), ['publickey']);
  });

  it('logs in with a private key read from a path', async () => {
    assert.equal(await runWith(new SshPool(endpointFor(server, { privateKeyPath: server.clientKeyPath }))), 'ok\n');
  });

  it('logs in with an encrypted key and its passphrase', async () => {
    const pool = new SshPool(endpointFor(server, { privateKey: server.clientKeyEncrypted, passphrase: server.clientKeyPassphrase }));
    assert.equal(await runWith(pool), 'ok\n');
  });

  it('fails with EAUTH naming the passphrase, before connecting, when the passphrase is wrong or missing', async () => {
    for (const passphrase of ['not-the-passphrase', undefined]) {
      const from = server.logs().length;
      const pool = new SshPool(endpointFor(server, { privateKey: server.clientKeyEncrypted, passphrase }));
      const error = await rejection(pool.exec('true'));
      assert.equal(error.code, 'EAUTH');
      assert.match(error.message, /private key could not be decrypted: wrong or missing passphrase/);
      // named like every other error of the pool: user@host:port
      assert.equal((error as { host?: string }).host, `${server.username}@127.0.0.1:${server.port}`);
      assert.ok(!error.message.includes('not-the-passphrase'), 'the passphrase must not appear in the message');
      assert.ok(!error.message.includes('PRIVATE KEY'), 'the key must not appear in the message');
      assert.equal(pool.stats().connections, 0);
      await pool.close();
      assert.ok(!server.logs().slice(from).includes('Connection from'), 'no connection may be made');
    }
  });

  it('fails with ENOENT naming the file when the key file is missing', async () => {
    const missing = path.join(await makeTempDir('ssh-auth'), 'no-such-key');
    const error = await firstFailure(endpointFor(server, { privateKeyPath: missing }), 'ENOENT');
    assert.ok(error.message.includes(missing), error.message);
  });

  it('fails with EAUTH naming the file when the key file is not a key', async () => {
    const file = path.join(await makeTempDir('ssh-auth'), 'garbage-key');
    await fs.writeFile(file, 'this is not a key\n');
    const error = await firstFailure(endpointFor(server, { privateKeyPath: file }), 'EAUTH');
    assert.ok(error.message.includes(file), error.message);
    assert.ok(!error.message.includes('this is not a key'), 'the file content must not appear');
  });

  it('moves on from an unreachable ssh-agent to the next method, and names it when nothing else is left', async () => {
    const socket = path.join(await makeTempDir('ssh-agent-missing'), 'no-agent.sock');
    const from = server.logs().length;
    assert.equal(await runWith(new SshPool(endpointFor(server, { agent: socket, password: server.password }))), 'ok\n');
    assert.deepEqual(acceptedSince(server, from), ['password']);
    const alone = new SshPool(endpointFor(server, { agent: socket }));
    const error = await rejection(alone.exec('true'));
    assert.equal(error.code, 'EAUTH');
    assert.match(error.message, /tried: agent/);
    assert.match(error.message, /ssh-agent: /);
    await alone.close();
  });

  describe('ssh-agent', () => {
    let agent: ChildProcess | undefined;
    let socket: string;
    before(async () => {
      socket = path.join(await makeTempDir('ssh-agent'), 'agent.sock');
      agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
      agent.on('error', () => undefined);
      await eventually('ssh-agent to listen on its socket', () => fs.stat(socket).then(() => true, () => false));
      await new Promise<void>((resolve, reject) => {
        const add = spawn('ssh-add', [server.clientKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
        add.on('error', reject);
        add.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ssh-add exited ${code}`))));
      });
    });
    after(() => {
      if (agent?.pid) process.kill(agent.pid);
    });

    it('logs in with a key held by ssh-agent (socket path)', async () => {
      const from = server.logs().length;
      assert.equal(await runWith(new SshPool(endpointFor(server, { agent: socket }))), 'ok\n');
      assert.deepEqual(acceptedSince(server, from), ['publickey']);
    });

    it("uses $SSH_AUTH_SOCK with agent: 'env'", async () => {
      const saved = process.env.SSH_AUTH_SOCK;
      process.env.SSH_AUTH_SOCK = socket;
      try {
        assert.equal(await runWith(new SshPool(endpointFor(server, { agent: 'env' }))), 'ok\n');
      } finally {
        if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
        else process.env.SSH_AUTH_SOCK = saved;
      }
    });

    it('tries the agent before the password by default', async () => {
      const from = server.logs().length;
      const pool = new SshPool(endpointFor(server, { agent: socket, password: server.password }));
      assert.equal(await runWith(pool), 'ok\n');
      assert.deepEqual(acceptedSince(server, from), ['publickey']);
    });
  });

  it('follows the default order publickey → password, trying the next method when one is refused', async () => {
    const from = server.logs().length;
    const stranger = generateTestKey().privateKey;
    const pool = new SshPool(endpointFor(server, { privateKey: stranger, password: server.password }));
    assert.equal(await runWith(pool), 'ok\n');
    assert.deepEqual(acceptedSince(server, from), ['password']);
  });

  it('follows a configured order (password before publickey)', async () => {
    const from = server.logs().length;
    const pool = new SshPool(
      endpointFor(server, { privateKey: server.clientKey, password: server.password, order: ['password', 'publickey'] }),
    );
    assert.equal(await runWith(pool), 'ok\n');
    assert.deepEqual(acceptedSince(server, from), ['password']);
  });

  it('names every method it tried when all are refused', async () => {
    const error = await firstFailure(endpointFor(server, { privateKey: generateTestKey().privateKey, password: 'wrong password' }), 'EAUTH');
    assert.match(error.message, new RegExp(`authentication failed for ${server.username}@127\\.0\\.0\\.1:${server.port} \\(tried: publickey, password\\)`));
    assert.equal((error as { host?: string }).host, `${server.username}@127.0.0.1:${server.port}`);
    assert.ok(!error.message.includes('wrong password'));
  });

  it('says so when the server accepts none of the configured methods', async () => {
    await withAuthRecorder({ methods: ['keyboard-interactive'], password: 'pw' }, async (fake, endpoint) => {
      const error = await firstFailure(endpoint({ password: 'pw' }), 'EAUTH');
      assert.match(error.message, /accepts none of the configured methods \(password\).*server accepts: keyboard-interactive/);
      assert.equal(fake.attempts.length, 0);
    });
  });

  describe('wrong password', () => {
    const own = useOwnSshd();

    // (the harness's own readiness probe also shows up as a connection: count login attempts)
    const loginAttempts = (): number => own.logs().split('\n').filter((line) => line.includes('Failed password for')).length;

    it('fails every request with one EAUTH from one login attempt', async () => {
      const pool = new SshPool(endpointFor(own, { password: 'definitely wrong' }));
      const concurrent = await Promise.all([1, 2, 3, 4, 5].map(() => rejection(pool.exec('true'))));
      for (const error of concurrent) assert.equal(error.code, 'EAUTH');
      for (let i = 0; i < 5; i++) {
        const error = await rejection(pool.exec('true'));
        assert.equal(error.code, 'EAUTH');
        assert.match(error.message, /tried: password/);
        assert.ok(!error.message.includes('definitely wrong'));
      }
      assert.equal(loginAttempts(), 1, own.logs());
      await pool.close();
    });

    it('makes one new attempt after the cool-down', async () => {
      const before = loginAttempts();
      // The cool-down is measured with Date.now(): the test moves that clock past it instead of sleeping.
      const clock = shiftClock();
      const pool = new SshPool(endpointFor(own, { password: 'definitely wrong' }), { authRetryMs: 60_000 });
      try {
        assert.equal((await rejection(pool.exec('true'))).code, 'EAUTH');
        assert.equal(loginAttempts(), before + 1);
        // Within the cool-down a request fails at once with the remembered error, without a login attempt.
        clock.advance(59_000);
        assert.equal((await rejection(pool.exec('true'))).code, 'EAUTH');
        assert.equal(loginAttempts(), before + 1);
        clock.advance(1_001);
        assert.equal((await rejection(pool.exec('true'))).code, 'EAUTH');
        assert.equal(loginAttempts(), before + 2);
      } finally {
        clock.restore();
        await pool.close();
      }
    });
  });

  describe('keyboard-interactive (fake server: OpenSSH needs PAM for it)', () => {
    it('answers a hidden prompt with the password when only keyboard-interactive is offered', async () => {
      await withAuthRecorder({ methods: ['keyboard-interactive'], password: 'kbd-secret' }, async (fake, endpoint) => {
        assert.equal(await runWith(new SshPool(endpoint({ password: 'kbd-secret', keyboardInteractive: true })), 'hello'), 'ran hello\n');
        assert.deepEqual(
          fake.attempts.map((attempt) => attempt.method),
          ['keyboard-interactive'],
        );
        assert.deepEqual(fake.attempts[0].secrets, ['kbd-secret']);
      });
    });

    it('never types the password into an echoed prompt', async () => {
      const echoedPrompt: AuthRecorderOptions = { methods: ['keyboard-interactive'], password: 'kbd-secret', prompts: [{ prompt: 'Username: ', echo: true }] };
      await withAuthRecorder(echoedPrompt, async (fake, endpoint) => {
        const error = await firstFailure(endpoint({ password: 'kbd-secret', keyboardInteractive: true }), 'EAUTH');
        assert.match(error.message, /tried: keyboard-interactive/);
        assert.deepEqual(fake.attempts[0].secrets, ['']);
      });
    });

    it('does not use keyboard-interactive unless asked to', async () => {
      await withAuthRecorder({ methods: ['keyboard-interactive'], password: 'kbd-secret' }, async (fake, endpoint) => {
        await firstFailure(endpoint({ password: 'kbd-secret' }), 'EAUTH');
        assert.equal(fake.attempts.length, 0, 'password is skipped because the server does not offer it');
      });
    });
  });
});
