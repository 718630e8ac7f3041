/**
 * Self-test of the test harness: the servers really start, accept the credentials they advertise, run as
 * the throwaway user, stop, restart and die the way the other tests rely on.
 */
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { Client, ConnectConfig } from 'ssh2';
import {
  SshdServer,
  isRoot,
  makeServerDir,
  makeTempDir,
  needThrowawayUser,
  runAsUser,
  serverPath,
  sharedSshd,
  startDropbear,
  startFakeServer,
  startSilentServer,
  startSshd,
} from './harness';
import { composeConfig } from './harness/sshd';
import { processTree } from './harness/proc';
import { eventually } from './support';

interface Connected {
  client: Client;
  hostKey: Buffer;
}

function connect(config: ConnectConfig): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKey: Buffer = Buffer.alloc(0);
    client.on('error', reject);
    client.on('ready', () => resolve({ client, hostKey }));
    client.connect({
      readyTimeout: 20_000,
      ...config,
      hostVerifier: (key: Buffer) => {
        hostKey = key;
        return true;
      },
    });
  });
}

function exec(client: Client, command: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      channel.on('data', (d: Buffer) => (stdout += d.toString()));
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      channel.on('exit', (c: number | null) => (code = c));
      channel.on('error', reject);
      channel.on('close', () => resolve({ stdout, stderr, code }));
    });
  });
}

async function runOver(config: ConnectConfig, command: string): Promise<string> {
  const { client } = await connect(config);
  try {
    const result = await exec(client, command);
    assert.equal(result.code, 0, `"${command}" failed: ${result.stderr}`);
    return result.stdout;
  } finally {
    client.end();
  }
}

function sha256Fingerprint(key: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

function keyAuth(server: SshdServer): ConnectConfig {
  return { host: server.host, port: server.port, username: server.username, privateKey: server.clientKey };
}

describe('test harness', function () {
  describe('OpenSSH sshd', function () {
    let server: SshdServer;
    before(async function () {
      server = await sharedSshd();
    });

    it('is one shared server per run', async function () {
      assert.equal(await sharedSshd(), server);
      assert.equal(server.kind, 'openssh');
      assert.equal(server.host, '127.0.0.1');
    });

    it('logs in with the unencrypted key as the non-root test user, home as cwd', async function () {
      const out = await runOver(keyAuth(server), 'id -un; id -u; pwd');
      const [name, uid, cwd] = out.trim().split('\n');
      assert.equal(name, server.username);
      assert.notEqual(uid, '0');
      assert.equal(cwd, server.home);
      if (isRoot()) assert.match(server.username, /^scpt_[0-9a-f]{8}$/);
    });

    it('logs in with the encrypted key and its passphrase', async function () {
      assert.match(server.clientKeyEncrypted, /BEGIN OPENSSH PRIVATE KEY/);
      const out = await runOver({ ...keyAuth(server), privateKey: server.clientKeyEncrypted, passphrase: server.clientKeyPassphrase }, 'id -un');
      assert.equal(out.trim(), server.username);
    });

    it('logs in with the password (throwaway user only)', async function () {
      needThrowawayUser(this);
      assert.ok(server.password.length >= 16);
      const out = await runOver({ host: server.host, port: server.port, username: server.username, password: server.password }, 'id -un');
      assert.equal(out.trim(), server.username);
      await assert.rejects(
        connect({ host: server.host, port: server.port, username: server.username, password: `${server.password}x` }),
        /authentication methods failed/,
      );
    });

    it('advertises the fingerprint and known_hosts line of the key it presents', async function () {
      const { client, hostKey } = await connect(keyAuth(server));
      client.end();
      assert.deepEqual(server.hostKeyFingerprints, [sha256Fingerprint(hostKey)]);
      assert.equal(server.knownHostsLine, `[127.0.0.1]:${server.port} ssh-ed25519 ${hostKey.toString('base64')}`);
      assert.match(fs.statSync(server.clientKeyPath).mode.toString(8), /600$/);
      assert.equal(fs.readFileSync(server.clientKeyPath, 'utf8'), server.clientKey);
    });

    it('runAsUser sees what the server wrote, and writes what the server sees', async function () {
      const dir = await makeServerDir(server, 'selftest');
      assert.equal(dir.absolute, serverPath(server, dir.relative));
      const content = crypto.randomBytes(8).toString('hex');
      const written = await runAsUser(server, `printf '%s' ${content} > ${dir.relative}/a.txt && chmod 640 ${dir.relative}/a.txt && id -u`);
      assert.equal(written.code, 0, written.stderr);
      assert.notEqual(written.stdout.toString().trim(), '0');
      assert.equal(await runOver(keyAuth(server), `cat ${dir.relative}/a.txt; stat -c ' %a %U' ${dir.relative}/a.txt`), `${content} 640 ${server.username}\n`);
      await runOver(keyAuth(server), `printf 'xyz' > ${dir.relative}/b.bin`);
      const read = await runAsUser(server, `cat ${dir.relative}/b.bin`);
      assert.deepEqual(read.stdout, Buffer.from('xyz'));
      assert.equal((await runAsUser(server, 'exit 3')).code, 3);
    });

    it('makeTempDir gives an existing, empty, private directory', async function () {
      const dir = await makeTempDir('selftest');
      assert.deepEqual(fs.readdirSync(dir), []);
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    });
  });

  describe('a server of its own', function () {
    let server: SshdServer;
    before(async function () {
      server = await startSshd({ hostKeyTypes: ['ed25519', 'rsa'], config: ['PasswordAuthentication no', 'MaxSessions 3'] });
    });
    after(async function () {
      await server?.stop();
    });

    it('has both host keys and the caller\'s config overrides the defaults', async function () {
      assert.equal(server.hostKeyFingerprints.length, 2);
      assert.equal(server.knownHostsLines.length, 2);
      assert.match(server.knownHostsLines[1] as string, /^\[127\.0\.0\.1\]:\d+ ssh-rsa AAAA/);
      assert.match(fs.readFileSync(server.clientKeyPath, 'utf8'), /OPENSSH PRIVATE KEY/);
      if (isRoot()) {
        await assert.rejects(
          connect({ host: server.host, port: server.port, username: server.username, password: server.password }),
          /authentication methods failed/,
        );
      }
      assert.equal((await runOver(keyAuth(server), 'echo ok')).trim(), 'ok');
      assert.match(server.logs(), /Accepted publickey for /);
    });

    it('stop() closes the port, restart() reopens it with the same keys', async function () {
      await server.stop();
      assert.equal(server.isRunning(), false);
      await assert.rejects(connect(keyAuth(server)), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
      await server.restart();
      assert.equal(server.isRunning(), true);
      const { client, hostKey } = await connect(keyAuth(server));
      client.end();
      assert.ok(server.hostKeyFingerprints.includes(sha256Fingerprint(hostKey)));
    });

    it('another server can take over the port with other host keys (a changed host key)', async function () {
      await server.stop();
      const impostor = await startSshd({ port: server.port });
      try {
        assert.equal(impostor.port, server.port);
        const { client, hostKey } = await connect(keyAuth(impostor));
        client.end();
        assert.deepEqual(impostor.hostKeyFingerprints, [sha256Fingerprint(hostKey)]);
        assert.ok(!server.hostKeyFingerprints.includes(sha256Fingerprint(hostKey)));
      } finally {
        await impostor.stop();
      }
      await server.restart();
    });

    it('kill() breaks an exec in flight and leaves no session process', async function () {
      const { client } = await connect(keyAuth(server));
      client.on('error', () => undefined);
      const closed = new Promise<string>((resolve) => client.on('close', () => resolve('closed')));
      // `exec` keeps the shell's pid for sleep, so the pid printed is the remote process to watch.
      const remotePid = await new Promise<number>((resolve, reject) => {
        client.exec('echo $$; exec sleep 600', (err, channel) => {
          if (err) return reject(err);
          channel.on('error', () => undefined);
          channel.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
        });
      });
      assert.ok(remotePid > 1);
      assert.deepEqual(processTree(remotePid), [remotePid], 'the remote sleep should be running');
      await server.kill();
      assert.deepEqual(processTree(remotePid), [], 'the remote sleep survived kill()');
      assert.equal(server.isRunning(), false);
      assert.equal(await closed, 'closed');
      await server.restart();
      assert.equal((await runOver(keyAuth(server), 'echo back')).trim(), 'back');
    });
  });

  describe('Dropbear', function () {
    let server: SshdServer;
    before(async function () {
      // Dropbear reads only ~/.ssh/authorized_keys, which the harness writes only for its throwaway user.
      needThrowawayUser(this);
      server = await startDropbear({ hostKeyTypes: ['ed25519', 'ecdsa'] });
    });
    after(async function () {
      await server?.stop();
    });

    it('runs commands for the key and its fingerprint is the key it presents', async function () {
      assert.equal(server.kind, 'dropbear');
      const { client, hostKey } = await connect(keyAuth(server));
      try {
        assert.equal(server.hostKeyFingerprints.length, 2);
        assert.equal(server.hostKeyFingerprints[0], sha256Fingerprint(hostKey));
        assert.match(server.knownHostsLines[1] as string, /^\[127\.0\.0\.1\]:\d+ ecdsa-sha2-nistp256 AAAA/);
        const result = await exec(client, 'echo ok; id -un');
        assert.equal(result.stdout, `ok\n${server.username}\n`);
      } finally {
        client.end();
      }
    });

    it('receives a file through scp -t', async function () {
      const dir = await makeServerDir(server, 'dropbear-scp');
      const { client } = await connect(keyAuth(server));
      try {
        const acks = await new Promise<Buffer>((resolve, reject) => {
          client.exec(`scp -t ${dir.relative}`, (err, channel) => {
            if (err) return reject(err);
            const received: Buffer[] = [];
            channel.on('error', reject);
            channel.on('data', (d: Buffer) => {
              received.push(d);
              const all = Buffer.concat(received);
              if (all.length === 1) channel.write('C0604 5 hello.txt\n');
              if (all.length === 2) channel.write(Buffer.concat([Buffer.from('hello'), Buffer.from([0])]));
              if (all.length === 3) channel.end();
            });
            channel.on('close', () => resolve(Buffer.concat(received)));
          });
        });
        assert.deepEqual(acks, Buffer.from([0, 0, 0]));
      } finally {
        client.end();
      }
      const check = await runAsUser(server, `stat -c '%a %s' ${dir.relative}/hello.txt && cat ${dir.relative}/hello.txt`);
      assert.equal(check.stdout.toString(), '604 5\nhello');
    });
  });

  describe('fake servers', function () {
    it('deliver the scripted exec reply, stderr and exit code', async function () {
      const fake = await startFakeServer(({ command, channel }) => {
        channel.write(`you said: ${command}\n`);
        channel.stderr.write('warning\n');
        channel.exit(7);
        channel.end();
      });
      try {
        const { client, hostKey } = await connect({ host: fake.host, port: fake.port, username: 'anyone', password: fake.password });
        const result = await exec(client, 'scp -f /etc/motd');
        client.end();
        assert.deepEqual(result, { stdout: 'you said: scp -f /etc/motd\n', stderr: 'warning\n', code: 7 });
        assert.equal(fake.hostKeyFingerprint, sha256Fingerprint(hostKey));
        assert.deepEqual(fake.commands, ['scp -f /etc/motd']);
        assert.deepEqual(fake.handlerErrors, []);
        await assert.rejects(connect({ host: fake.host, port: fake.port, username: 'anyone', password: 'wrong' }), /authentication methods failed/);
        const withKey = await connect({ host: fake.host, port: fake.port, username: 'k', privateKey: fake.clientKey });
        withKey.client.end();
        assert.equal(fake.connectionCount(), 3);
      } finally {
        await fake.close();
      }
    });

    it('keep their host key when given it again', async function () {
      const first = await startFakeServer(() => undefined);
      await first.close();
      const second = await startFakeServer(() => undefined, { hostKey: first.hostKey, password: null });
      try {
        assert.equal(second.hostKeyFingerprint, first.hostKeyFingerprint);
        assert.equal(second.knownHostsLine.split(' ').slice(1).join(' '), first.knownHostsLine.split(' ').slice(1).join(' '));
        const { client, hostKey } = await connect({ host: second.host, port: second.port, username: 'k', privateKey: second.clientKey });
        client.end();
        assert.equal(sha256Fingerprint(hostKey), first.hostKeyFingerprint);
        await assert.rejects(connect({ host: second.host, port: second.port, username: 'k', password: 'fake' }), /authentication methods failed/);
      } finally {
        await second.close();
      }
    });

    it('close() drops connected clients; a silent server never completes the handshake', async function () {
      const fake = await startFakeServer(() => undefined);
      const { client } = await connect({ host: fake.host, port: fake.port, username: 'u', password: fake.password });
      const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
      client.on('error', () => undefined);
      await fake.close();
      await closed;

      const silent = await startSilentServer();
      try {
        await assert.rejects(connect({ host: silent.host, port: silent.port, username: 'u', password: 'p', readyTimeout: 300 }), /Timed out/);
        // On a loaded machine the client's 300 ms can pass before this process has handled the accept.
        await eventually('the silent server to see the connection', () => silent.connectionCount() > 0);
        assert.equal(silent.connectionCount(), 1);
      } finally {
        await silent.close();
      }
    });
  });

  describe('sshd config composition', function () {
    it('puts caller keywords first, drops the defaults they replace, and Match blocks last', function () {
      const text = composeConfig(
        ['Port 1', 'Subsystem sftp internal-sftp', 'LogLevel VERBOSE'],
        ['Subsystem sftp /bin/false', 'Match User x', '  PasswordAuthentication no'],
      );
      assert.equal(text, 'Subsystem sftp /bin/false\nPort 1\nLogLevel VERBOSE\nMatch User x\n  PasswordAuthentication no\n');
    });
  });
});
