/**
 * The remote toolbox against real servers: OpenSSH without an SFTP subsystem (auto falls back to shell
 * commands and remembers it), OpenSSH whose commands run with a BusyBox userland or with no `stat`
 * (SetEnv PATH), Dropbear with BusyBox as its shell and userland, and a name that is not UTF-8 (SFTP cannot
 * carry it: auto lists it over the shell, intact; transport sftp leaves it out and says so).
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { remote, type RemoteEntry } from '../../src/remote';
import type { SshPool } from '../../src/ssh';
import { type SshdServer, generateTestKey, isRoot, makeServerDir, makeTempDir, runAsUser, sharedSshd, skipOrFail, startDropbear, startSshd } from '../harness';
import { context, poolProvider } from '../transfer/support';
import { busyboxPath, pathWithoutStat } from './local-shell';
import { useSshdWithPool } from '../support';

const TREE =
  "mkdir -p d/sub && printf 12345 > d/a.txt && chmod 640 d/a.txt && printf x > 'd/new\nline' && ln -s a.txt d/link && printf z > d/sub/z && " +
  'find d -exec touch -h -d @1600000000 {} +';

function summary(entries: RemoteEntry[] | undefined): string[] {
  return (entries ?? []).map((entry) => `${String(entry.path)} ${entry.type} ${entry.size} ${entry.mode.toString(8)} ${entry.mtime ?? '-'}`);
}

function expected(prefix: string, symlinkTime: string): string[] {
  return [
    `${prefix}/d directory 4096 755 1600000000`,
    `${prefix}/d/a.txt file 5 640 1600000000`,
    `${prefix}/d/link symlink 5 777 ${symlinkTime}`,
    `${prefix}/d/new\nline file 1 644 1600000000`,
    `${prefix}/d/sub directory 4096 755 1600000000`,
    `${prefix}/d/sub/z file 1 644 1600000000`,
  ];
}

async function tree(server: SshdServer, prefix: string): Promise<string> {
  const dir = await makeServerDir(server, prefix);
  const out = await runAsUser(server, `cd '${dir.relative}' && ${TREE}`);
  assert.equal(out.code, 0, out.stderr);
  return dir.relative;
}

describe('remote toolbox: OpenSSH without an SFTP subsystem (auto uses shell commands)', function () {
  this.timeout(60_000);
  const { server, pool } = useSshdWithPool(() => startSshd({ noSftp: true }));

  it('lists, stats and changes paths with transport auto, and remembers the fallback', async () => {
    const dir = await tree(server, 'nosftp');
    const listed = await remote(context(pool, { transport: 'auto' }), { operation: 'list', path: Buffer.from(dir), options: { recursive: true, maxDepth: 4, maxEntries: 100 } });
    assert.equal(listed.transport, 'scp');
    assert.deepEqual(summary(listed.entries), expected(dir, '1600000000'));
    const made = await remote(context(pool, { transport: 'auto' }), { operation: 'mkdir', paths: [Buffer.from(`${dir}/m/n`)], parents: true });
    assert.equal(made.transport, 'scp');
    assert.deepEqual(made.outcomes, [{ path: `${dir}/m/n`, done: 'created' }]);
    const stat = await remote(context(pool, { transport: 'auto' }), { operation: 'stat', path: Buffer.from(`${dir}/m/n`) });
    assert.equal(stat.entries?.[0]?.type, 'directory');
  });

  it('transport sftp fails with EPROTO naming the refused subsystem', async () => {
    await assert.rejects(
      remote(context(pool, { transport: 'sftp' }), { operation: 'stat', path: Buffer.from('x') }),
      (error: Error & { code?: string }) => error.code === 'EPROTO' && /subsystem/i.test(error.message),
    );
  });
});

for (const userland of [
  { label: 'a BusyBox userland', path: busyboxPath, symlinkTime: '1600000000' },
  { label: 'a PATH without stat (the fallback)', path: pathWithoutStat, symlinkTime: '-' },
]) {
  describe(`remote toolbox: OpenSSH running commands with ${userland.label}`, function () {
    this.timeout(60_000);
    let bin: string;
    const { server, pool } = useSshdWithPool(async () => {
      bin = await userland.path();
      // The server's user must reach the links (a harness temp dir is 0700; its parent is the system's /tmp).
      await fs.chmod(bin, 0o755);
      return startSshd({ config: [`SetEnv PATH=${bin}`] });
    });

    it('lists recursively with the same entries as the file system, and changes several paths in one command', async () => {
      const dir = await tree(server, 'userland');
      const which = await pool.exec('command -v stat || echo none');
      const said = await new Promise<string>((resolve) => {
        let out = '';
        which.channel.on('data', (chunk: Buffer) => (out += chunk.toString()));
        which.channel.on('close', () => resolve(out.trim()));
      });
      assert.equal(said, userland.symlinkTime === '-' ? 'none' : join(bin, 'stat'), 'the commands run in that userland');
      const listed = await remote(context(pool, { transport: 'scp' }), { operation: 'list', path: Buffer.from(dir), options: { recursive: true, maxDepth: 4, maxEntries: 100 } });
      assert.deepEqual(summary(listed.entries), expected(dir, userland.symlinkTime));
      const renamed = await remote(context(pool, { transport: 'scp' }), {
        operation: 'rename',
        pairs: [{ from: Buffer.from(`${dir}/d/a.txt`), to: Buffer.from(`${dir}/d/b.txt`) }, { from: Buffer.from(`${dir}/d/new\nline`), to: Buffer.from(`${dir}/d/sub/nl`) }],
        overwrite: false,
      });
      assert.deepEqual(renamed.outcomes?.map((o) => ('done' in o ? o.done : o.error.code)), ['renamed', 'renamed']);
      const gone = await remote(context(pool, { transport: 'scp' }), { operation: 'delete', paths: [Buffer.from(`${dir}/d/b.txt`), Buffer.from(`${dir}/d/sub/nl`)] });
      assert.deepEqual(gone.outcomes?.map((o) => ('done' in o ? o.done : o.error.code)), ['deleted', 'deleted']);
      const left = await runAsUser(server, `cd '${dir}' && find d | sort`);
      assert.equal(left.stdout.toString(), 'd\nd/link\nd/sub\nd/sub/z\n');
    });
  });
}

describe('remote toolbox: Dropbear with BusyBox as its shell and userland', function () {
  this.timeout(60_000);
  let server: SshdServer;
  let pool: SshPool;
  let authorizedKeys: string;
  let original: string;

  before(async function () {
    if (!isRoot()) return skipOrFail(this, 'Dropbear reads only the throwaway user\'s ~/.ssh/authorized_keys (needs root)');
    server = await startDropbear();
    const bin = await busyboxPath();
    await fs.chmod(bin, 0o755);
    // A key of its own whose every command runs in BusyBox's ash with only BusyBox's applets on PATH:
    // a device whose userland is BusyBox. The harness's own key is left as it was.
    const key = generateTestKey();
    authorizedKeys = join(server.home, '.ssh', 'authorized_keys');
    original = await fs.readFile(authorizedKeys, 'utf8');
    const loginDir = await makeTempDir('busybox-login');
    await fs.chmod(loginDir, 0o755);
    const login = join(loginDir, 'busybox-login');
    await fs.writeFile(login, `#!/usr/bin/busybox sh\nPATH=${bin}; export PATH\nexec /usr/bin/busybox sh -c "$SSH_ORIGINAL_COMMAND"\n`, { mode: 0o755 });
    await fs.writeFile(authorizedKeys, `${original.trimEnd()}\ncommand="${login}" ${key.publicKey.trim()}\n`);
    pool = poolProvider({ ...server, clientKey: key.privateKey });
  });
  after(async () => {
    await pool?.close();
    if (original !== undefined) await fs.writeFile(authorizedKeys, original);
    await server?.stop();
  });

  it('runs the commands in BusyBox ash with its applets, and every operation works over them', async () => {
    const probe = await pool.exec('echo "$0 $(readlink -f "$(command -v stat)")"');
    const said = await new Promise<string>((resolve) => {
      let out = '';
      probe.channel.on('data', (chunk: Buffer) => (out += chunk.toString()));
      probe.channel.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      probe.channel.on('close', () => resolve(out.trim()));
    });
    assert.match(said, /^sh \/usr\/bin\/busybox$/, `BusyBox ash, BusyBox stat: ${said}`);
    const dir = await tree(server, 'dropbear-bb');
    const ctx = context(pool, { transport: 'scp' });
    const listed = await remote(ctx, { operation: 'list', path: Buffer.from(dir), options: { recursive: true, maxDepth: 4, maxEntries: 100 } });
    assert.deepEqual(summary(listed.entries), expected(dir, '1600000000'));
    const made = await remote(ctx, { operation: 'mkdir', paths: [Buffer.from(`${dir}/p/q`)], parents: true });
    assert.deepEqual(made.outcomes, [{ path: `${dir}/p/q`, done: 'created' }]);
    await remote(ctx, { operation: 'chmod', paths: [Buffer.from(`${dir}/p/q`)], mode: 0o700 });
    const stat = await remote(ctx, { operation: 'stat', path: Buffer.from(`${dir}/p/q`) });
    assert.equal(stat.entries?.[0]?.mode, 0o700);
    const removed = await remote(ctx, { operation: 'rmdir', paths: [Buffer.from(`${dir}/p/q`), Buffer.from(`${dir}/p`)] });
    assert.deepEqual(removed.outcomes?.map((o) => ('done' in o ? o.done : o.error.code)), ['removed', 'removed']);
    await assert.rejects(remote(ctx, { operation: 'rmdir', paths: [Buffer.from(`${dir}/d`)] }), (error: Error & { code?: string }) => error.code === 'EEXIST');
  });
});

describe('remote toolbox: a name that is not UTF-8 (real sshd with SFTP)', function () {
  this.timeout(60_000);
  const { server, pool } = useSshdWithPool(sharedSshd, { shared: true });

  it('auto lists it intact over the shell; transport sftp leaves it out and names it in skipped', async () => {
    const dir = await makeServerDir(server, 'latin1');
    const made = await runAsUser(server, `cd '${dir.relative}' && printf x > "$(printf 'caf\\351')" && printf y > plain`);
    assert.equal(made.code, 0, made.stderr);
    const auto = await remote(context(pool, { transport: 'auto' }), { operation: 'list', path: Buffer.from(dir.relative), options: { recursive: false, maxDepth: 1, maxEntries: 10 } });
    assert.equal(auto.transport, 'scp');
    const name = auto.entries?.find((entry) => Buffer.isBuffer(entry.name))?.name;
    assert.ok(Buffer.isBuffer(name) && name.equals(Buffer.from([0x63, 0x61, 0x66, 0xe9])), 'the bytes themselves');
    const sftp = await remote(context(pool, { transport: 'sftp' }), { operation: 'list', path: Buffer.from(dir.relative), options: { recursive: false, maxDepth: 1, maxEntries: 10 } });
    assert.deepEqual(sftp.entries?.map((entry) => entry.name), ['plain']);
    assert.deepEqual(sftp.skipped, [{ path: `${dir.relative}/caf\\ufffd`, reason: 'notUtf8' }]);
    // The Buffer goes back in as a path: stat and delete reach the very file.
    const gone = await remote(context(pool, { transport: 'auto' }), { operation: 'delete', paths: [Buffer.concat([Buffer.from(`${dir.relative}/`), name])] });
    assert.equal(gone.transport, 'scp');
    assert.deepEqual(gone.outcomes?.map((o) => ('done' in o ? o.done : o.error.code)), ['deleted']);
  });
});

describe('remote toolbox: a directory of 40000 names, and a file from before 1970 (real sshd)', function () {
  this.timeout(300_000);
  let server: SshdServer;
  let pool: SshPool;
  let dir: string;
  const COUNT = 40_000;
  // 40000 paths of about 100 bytes: 4 MB, twice what one command line (ARG_MAX) holds on Linux.
  const LONG = 'x'.repeat(70);
  before(async () => {
    server = await sharedSshd();
    pool = poolProvider(server);
    dir = (await makeServerDir(server, 'many')).relative;
    const made = await runAsUser(server, `cd '${dir}' && mkdir big && cd big && i=0; while [ $i -lt ${COUNT} ]; do : > "f$i-${LONG}"; i=$((i+1)); done; printf 12345 > f0-${LONG}`);
    assert.equal(made.code, 0, made.stderr);
  });
  after(async () => pool?.close());

  const list = (transport: 'scp' | 'sftp', maxEntries: number): ReturnType<typeof remote> =>
    remote(context(pool, { transport }), { operation: 'list', path: Buffer.from(`${dir}/big`), options: { recursive: false, maxDepth: 1, maxEntries } });

  it('lists every name over the shell (stat in batches), the same entries as SFTP', async () => {
    const shell = await list('scp', 50_000);
    assert.equal(shell.transport, 'scp');
    assert.equal(shell.listed, COUNT);
    assert.equal(shell.entries?.length, COUNT);
    const names = new Set(shell.entries?.map((entry) => String(entry.name)));
    for (let i = 0; i < COUNT; i += 1) assert.ok(names.has(`f${i}-${LONG}`), `f${i} listed`);
    assert.deepEqual(
      shell.entries?.filter((entry) => entry.size > 0).map((entry) => `${String(entry.name)} ${entry.type} ${entry.size}`),
      [`f0-${LONG} file 5`],
    );
    const sftp = await list('sftp', 50_000);
    const key = (entries: RemoteEntry[] | undefined): string[] => (entries ?? []).map((entry) => `${String(entry.path)} ${entry.type} ${entry.size} ${entry.mode} ${entry.mtime}`);
    assert.deepEqual(key(shell.entries), key(sftp.entries));
  });

  it('fails with ETOOBIG over both transports when the names pass the entry limit', async () => {
    for (const transport of ['scp', 'sftp'] as const) {
      await assert.rejects(list(transport, 10_000), (error: Error & { code?: string }) => error.code === 'ETOOBIG' && /more than 10000 entries/.test(error.message), transport);
    }
  });

  it('gives a file dated before 1970 its negative time over the shell', async () => {
    const made = await runAsUser(server, `cd '${dir}' && mkdir old && printf x > old/f && touch -d @-86400 old/f`);
    assert.equal(made.code, 0, made.stderr);
    const shell = await remote(context(pool, { transport: 'scp' }), { operation: 'list', path: Buffer.from(`${dir}/old`), options: { recursive: false, maxDepth: 1, maxEntries: 10 } });
    assert.deepEqual(shell.entries?.map((entry) => `${String(entry.name)} ${entry.mtime}`), ['f -86400']);
    const stat = await remote(context(pool, { transport: 'scp' }), { operation: 'stat', path: Buffer.from(`${dir}/old/f`) });
    assert.equal(stat.entries?.[0]?.mtime, -86400);
  });
});
