/**
 * The session code against OpenSSH's own `scp -t` / `scp -f` (the harness's real sshd), without the
 * transfer layer: the protocol details the state machines rely on, as the real program behaves.
 */
import assert from 'assert';
import { createHash } from 'crypto';
import { Client, type ClientChannel } from 'ssh2';
import { TransferError } from '../../src/errors';
import { DEFAULT_RECORD_LIMITS, ScpSink, ScpSource, buildScpCommand, isNoScpError, type SinkExpectation } from '../../src/scp';
import { type SshdServer, makeServerDir, needThrowawayUser, runAsUser, sharedSshd } from '../harness';

/** `step` fails with a TransferError of `code` that is not the "no scp" error. */
async function assertScpFailure(step: Promise<unknown>, code: string): Promise<void> {
  let caught: unknown;
  await step.catch((error: unknown) => (caught = error));
  assert.ok(caught instanceof TransferError && caught.code === code, String(caught));
  assert.ok(!isNoScpError(caught));
}

describe('SCP sessions against OpenSSH scp (real sshd)', function () {
  this.timeout(60000);
  let server: SshdServer;
  let client: Client;

  before(async () => {
    server = await sharedSshd();
    client = await new Promise<Client>((resolve, reject) => {
      const connection = new Client();
      connection.once('ready', () => resolve(connection));
      connection.once('error', reject);
      connection.connect({
        host: server.host,
        port: server.port,
        username: server.username,
        privateKey: server.clientKey,
        readyTimeout: 20000,
        // the host key is pinned: this suite is not about host keys, but it need not trust blindly
        hostVerifier: (key: Buffer) => {
          const fingerprint = `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
          return server.hostKeyFingerprints.includes(fingerprint);
        },
      });
    });
    client.on('error', () => undefined);
    (client as unknown as { _sock?: { setNoDelay?: (on: boolean) => void } })._sock?.setNoDelay?.(true);
  });

  after(() => {
    client?.end();
  });

  function exec(command: string | Buffer): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      client.exec(command as string, (error, channel) => {
        if (error) return reject(error);
        channel.on('error', () => undefined);
        channel.stderr.on('error', () => undefined);
        resolve(channel);
      });
    });
  }

  async function source(remotePath: string, options: { recursive?: boolean; preserve?: boolean; targetIsDirectory?: boolean } = {}) {
    const channel = await exec(buildScpCommand(remotePath, { role: 'sink', ...options }));
    return new ScpSource({ stdout: channel, stdin: channel, stderr: channel.stderr }, { host: 'sshd', path: remotePath, idleTimeoutMs: 20000 });
  }

  async function sink(remotePath: string, expect: SinkExpectation, recursive = false) {
    const channel = await exec(buildScpCommand(remotePath, { role: 'source', recursive, preserve: true }));
    return new ScpSink(
      { stdout: channel, stdin: channel, stderr: channel.stderr },
      {
        host: 'sshd',
        path: remotePath,
        idleTimeoutMs: 20000,
        expect,
        recursive,
        limits: { ...DEFAULT_RECORD_LIMITS, maxDepth: 8, maxFiles: 100, maxTotalBytes: 1 << 30 },
      },
    );
  }

  async function shell(command: string): Promise<string> {
    const result = await runAsUser(server, command);
    assert.strictEqual(result.code, 0, `${command}: ${result.stderr}`);
    return result.stdout.toString('utf8');
  }

  it('upload: a tree with modes and times lands exactly (D/C/E, T records, exit 0)', async () => {
    const dir = await makeServerDir(server, 'scp-up-tree');
    const up = await source(dir.absolute, { recursive: true, preserve: true, targetIsDirectory: true });
    await up.ready();
    assert.deepStrictEqual(await up.enterDirectory({ name: 'top', mode: 0o750, times: { mtime: 1600000000, atime: 1600000000 } }), { ok: true });
    const content = Buffer.from('first file\n');
    assert.deepStrictEqual(
      await up.sendFile({ name: "it's a file", mode: 0o640, size: content.length, times: { mtime: 1500000000, atime: 1500000000 }, content }),
      { ok: true },
    );
    assert.deepStrictEqual(await up.enterDirectory({ name: 'empty dir', mode: 0o700 }), { ok: true });
    assert.deepStrictEqual(await up.leaveDirectory(), { ok: true });
    assert.deepStrictEqual(await up.sendFile({ name: 'zero', mode: 0o600, size: 0, content: Buffer.alloc(0) }), { ok: true });
    assert.deepStrictEqual(await up.leaveDirectory(), { ok: true });
    const end = await up.finish();
    assert.strictEqual(end.exitCode, 0, end.stderr);
    const listing = await shell(`cd '${dir.absolute}/top' && stat -c '%n|%a|%s|%Y' "it's a file" zero 'empty dir'`);
    const rows = listing.trim().split('\n').map((line) => line.split('|'));
    assert.deepStrictEqual(
      rows.map(([name, mode, size]) => [name, mode, size]),
      [
        ["it's a file", '640', String(content.length)],
        ['zero', '600', '0'],
        ['empty dir', '700', rows[2][2]],
      ],
    );
    assert.strictEqual(rows[0][3], '1500000000');
    assert.strictEqual(await shell(`cat '${dir.absolute}/top/it'"'"'s a file'`), 'first file\n');
    assert.strictEqual((await shell(`stat -c '%a %Y' '${dir.absolute}/top'`)).trim(), '750 1600000000');
  });

  it('upload: a refused file (\\x01) fails that file only, the next one lands, exit status 1', async function () {
    needThrowawayUser(this); // root writes anywhere: an unwritable directory needs the throwaway user
    const dir = await makeServerDir(server, 'scp-up-partial');
    await shell(`mkdir '${dir.absolute}/locked' && chmod 555 '${dir.absolute}/locked'`);
    const up = await source(dir.absolute, { recursive: true, targetIsDirectory: true });
    await up.ready();
    assert.deepStrictEqual(await up.enterDirectory({ name: 'locked', mode: 0o555 }), { ok: true });
    const refused = await up.sendFile({ name: 'no', mode: 0o644, size: 3, content: Buffer.from('abc') });
    assert.ok(!refused.ok && refused.error.code === 'EACCES', JSON.stringify(refused));
    assert.deepStrictEqual(await up.leaveDirectory(), { ok: true });
    assert.deepStrictEqual(await up.sendFile({ name: 'yes', mode: 0o644, size: 2, content: Buffer.from('ok') }), { ok: true });
    const end = await up.finish();
    assert.strictEqual(end.exitCode, 1);
    assert.strictEqual(await shell(`cat '${dir.absolute}/yes'`), 'ok');
    assert.strictEqual((await runAsUser(server, `test -e '${dir.absolute}/locked/no'`)).code, 1);
  });

  it('upload: -d onto a file -> ready() fails with ENOTDIR, and it is not "no scp"', async () => {
    const dir = await makeServerDir(server, 'scp-up-notdir');
    await shell(`echo x > '${dir.absolute}/plain'`);
    const up = await source(`${dir.absolute}/plain`, { targetIsDirectory: true });
    await assertScpFailure(up.ready(), 'ENOTDIR');
  });

  it('download: a tree with times, and the top-level name checked', async () => {
    const dir = await makeServerDir(server, 'scp-down-tree');
    await shell(
      `cd '${dir.absolute}' && mkdir -p 'tree/a b' && printf hello > 'tree/a b/f' && chmod 4755 'tree/a b/f' && touch -d @1400000000 'tree/a b/f' && : > tree/empty`,
    );
    const down = await sink(`${dir.absolute}/tree`, { kind: 'tree', name: 'tree' }, true);
    const seen: string[] = [];
    for (;;) {
      const entry = await down.next();
      if (entry === null) break;
      if (entry.type === 'file') {
        const chunks: Buffer[] = [];
        await down.receive((chunk) => {
          chunks.push(Buffer.from(chunk));
        });
        seen.push(`file ${[...entry.parents, entry.name].join('/')} ${entry.mode.toString(8)} ${entry.times?.mtime ?? '-'} ${Buffer.concat(chunks).toString()}`);
      } else if (entry.type === 'directory') {
        seen.push(`dir ${[...entry.parents, entry.name].join('/')}`);
        await down.accept();
      } else {
        seen.push(`end ${[...entry.parents, entry.name].join('/')}`);
      }
    }
    seen.sort();
    // 4755 arrives as 755: never setuid
    assert.deepStrictEqual(seen, [
      'dir tree',
      'dir tree/a b',
      'end tree',
      'end tree/a b',
      'file tree/a b/f 755 1400000000 hello',
      `file tree/empty 644 ${seen.find((line) => line.startsWith('file tree/empty'))?.split(' ')[3]} `,
    ]);
    assert.strictEqual((await down.finish()).exitCode, 0);
  });

  it('download: a missing file -> ENOENT (not "no scp")', async () => {
    const dir = await makeServerDir(server, 'scp-down-missing');
    const down = await sink(`${dir.absolute}/nothing-here`, { kind: 'exact', name: 'nothing-here' });
    await assertScpFailure(down.next(), 'ENOENT');
  });

  it('download: skip() answers \\x01, OpenSSH goes on and exits 1, which ends cleanly', async () => {
    const dir = await makeServerDir(server, 'scp-down-skip');
    await shell(`cd '${dir.absolute}' && mkdir d && printf 1 > d/a && printf 22 > d/b`);
    const down = await sink(`${dir.absolute}/d`, { kind: 'tree', name: 'd' }, true);
    const received: Record<string, string> = {};
    for (;;) {
      const entry = await down.next();
      if (entry === null) break;
      if (entry.type === 'directory') await down.accept();
      if (entry.type !== 'file') continue;
      if (entry.name === 'a') {
        await down.skip('exists here');
        continue;
      }
      const chunks: Buffer[] = [];
      await down.receive((chunk) => {
        chunks.push(Buffer.from(chunk));
      });
      received[entry.name] = Buffer.concat(chunks).toString();
    }
    assert.deepStrictEqual(received, { b: '22' });
    const end = await down.finish();
    assert.strictEqual(end.exitCode, 1);
  });

  it('download: a glob whose matches include an unreadable file: the others arrive, then EACCES', async function () {
    needThrowawayUser(this); // root reads everything: unreadable files need the throwaway user
    const dir = await makeServerDir(server, 'scp-down-glob');
    await shell(`cd '${dir.absolute}' && printf a > a.log && printf b > b.log && chmod 000 b.log && printf c > c.log`);
    const channel = await exec(Buffer.concat([Buffer.from(`scp -f -- '${dir.absolute}'/`), Buffer.from('*.log')]));
    const down = new ScpSink(
      { stdout: channel, stdin: channel, stderr: channel.stderr },
      {
        host: 'sshd',
        path: `${dir.absolute}/*.log`,
        idleTimeoutMs: 20000,
        expect: { kind: 'glob', pattern: '*.log' },
        recursive: false,
        limits: { ...DEFAULT_RECORD_LIMITS, maxDepth: 1, maxFiles: 10, maxTotalBytes: 1000 },
      },
    );
    const received: string[] = [];
    let caught: unknown;
    try {
      for (;;) {
        const entry = await down.next();
        if (entry === null) break;
        assert.strictEqual(entry.type, 'file');
        const chunks: Buffer[] = [];
        await down.receive((chunk) => {
          chunks.push(Buffer.from(chunk));
        });
        received.push(`${entry.type === 'file' ? entry.name : ''}=${Buffer.concat(chunks).toString()}`);
      }
    } catch (error) {
      caught = error;
    }
    assert.deepStrictEqual(received, ['a.log=a', 'c.log=c']);
    assert.ok(caught instanceof TransferError && caught.code === 'EACCES', String(caught));
    assert.match(caught.message, /b\.log/);
  });
});
