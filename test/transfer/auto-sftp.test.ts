/**
 * Transport 'auto' carries small jobs over the SFTP session the connection keeps once the server proved that
 * SFTP sees the shell's paths (src/transfer/auto/): against real servers. OpenSSH as the harness runs it: the
 * first small job probes (one command), later small uploads and downloads start nothing on the server (its
 * log says so) and give what SCP gives; jobs that arrive together share one probe; big files, trees, patterns
 * and names SFTP cannot carry stay on SCP. Servers whose SFTP sees other paths keep SCP, and files land where
 * SCP puts them: sftp-server in a mount namespace with another directory over the home (same start directory,
 * other files), `internal-sftp -d` (another start directory); so do OpenSSH without an SFTP subsystem and
 * Dropbear without sftp-server, without an error.
 */
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { SshPool } from '../../src/ssh';
import { TransferError } from '../../src/errors';
import { download, forgetTransport, knowsTransport, upload, type TransferContext, type TransportChoice, type UploadRequest } from '../../src/transfer';
import { type SshdServer, isRoot, makeServerDir, makeTempDir, runAsUser, skipOrFail, startDropbear, startSshd } from '../harness';
import { bufferDownload, context, countingProvider, poolProvider, randomData, sha256, sq, usePoolTo } from './support';
import { useOwnSshd } from '../support';

/** `Starting session` lines sshd logged (LogLevel VERBOSE) since `from`: one per exec channel or subsystem it started. */
function sessionsStarted(server: SshdServer, from: number): string[] {
  return server
    .logs()
    .slice(from)
    .split('\n')
    .filter((line) => /Starting session: (command|subsystem)/u.test(line));
}

function put(remotePath: string, data: Buffer, overrides: Partial<UploadRequest> = {}): UploadRequest {
  return { sources: [{ kind: 'buffer', data }], remotePath, preserve: false, atomic: true, overwrite: 'overwrite', ...overrides };
}

/** An 'auto' context on its own provider object (nothing learned yet), with what it logged. */
function freshAuto(pool: SshPool): { channels: ReturnType<typeof countingProvider>; ctx: (overrides?: Partial<TransferContext>) => TransferContext; debug: string[] } {
  const channels = countingProvider(pool);
  const debug: string[] = [];
  return { channels, debug, ctx: (overrides = {}) => context(channels, { transport: 'auto', debug: (line) => debug.push(line), ...overrides }) };
}

async function remoteText(server: SshdServer, command: string): Promise<string> {
  const out = await runAsUser(server, command);
  assert.equal(out.code, 0, `${command}: ${out.stderr}`);
  return out.stdout.toString().trim();
}

async function probeFilesLeft(server: SshdServer, dir = '.'): Promise<string> {
  return remoteText(server, `ls -a ${sq(dir)} | grep '^\\.scp-probe-' || true`);
}

describe('transfer: auto moves small jobs to the kept SFTP session once SFTP proved it sees the shell paths (OpenSSH)', function () {
  this.timeout(60_000);
  const sshd = useOwnSshd();
  const pool = usePoolTo(sshd);

  it('the first small job probes with one command; later small uploads and downloads start nothing on the server and give what SCP gives', async function () {
    const dir = await makeServerDir(sshd, 'auto-small');
    const { channels, ctx, debug } = freshAuto(pool);
    const data = randomData(4096);
    const mtime = new Date(1_600_000_000_000);
    const first = await upload(ctx(), { ...put(`${dir.relative}/auto.bin`, data, { preserve: true }), sources: [{ kind: 'buffer', data, mode: 0o640, mtime }] });
    assert.equal(first.transport, 'sftp');
    assert.equal(channels.execs, 1, 'one command: the probe');
    assert.ok(debug.some((line) => /SFTP sees the same paths as the shell/u.test(line)), debug.join('\n'));
    assert.equal(await probeFilesLeft(sshd), '', 'the probe file is gone');

    const from = sshd.logs().length;
    for (let i = 0; i < 5; i += 1) {
      const up = await upload(ctx(), put(`${dir.relative}/m${i}.bin`, data));
      assert.equal(up.transport, 'sftp');
      const down = await download(ctx(), bufferDownload(`${dir.relative}/auto.bin`, 8192));
      assert.equal(down.transport, 'sftp');
      assert.deepEqual(down.files[0].data, data);
    }
    assert.equal(channels.execs, 1, 'no second probe, no SCP command');
    assert.deepEqual(sessionsStarted(sshd, from), [], 'the server started no process for them');

    // The same job over SCP: the same bytes, mode and time on the server, and the same bytes back.
    const overScp = await upload(context(pool, { transport: 'scp' }), { ...put(`${dir.relative}/scp.bin`, data, { preserve: true }), sources: [{ kind: 'buffer', data, mode: 0o640, mtime }] });
    assert.equal(overScp.transport, 'scp');
    const shown = await remoteText(sshd, `cd ${sq(dir.relative)} && stat -c '%a %s %Y' auto.bin scp.bin && sha256sum auto.bin scp.bin | cut -c1-64`);
    const [autoStat, scpStat, autoSum, scpSum] = shown.split('\n');
    assert.equal(autoStat, '640 4096 1600000000');
    assert.equal(autoStat, scpStat);
    assert.equal(autoSum, sha256(data));
    assert.equal(autoSum, scpSum);
    const back = await download(context(pool, { transport: 'scp' }), bufferDownload(`${dir.relative}/auto.bin`, 8192));
    assert.deepEqual(back.files[0].data, data);
    assert.deepEqual(
      first.files.map((file) => [file.remotePath, file.size, file.mode]),
      overScp.files.map((file) => [file.remotePath.replace('scp.bin', 'auto.bin'), file.size, file.mode]),
    );
  });

  it('jobs that arrive together wait for one probe', async function () {
    const dir = await makeServerDir(sshd, 'auto-together');
    const { channels, ctx } = freshAuto(pool);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => upload(ctx(), put(`${dir.relative}/t${i}.txt`, Buffer.from(`file ${i}\n`)))));
    assert.deepEqual(new Set(results.map((result) => result.transport)), new Set(['sftp']));
    assert.equal(channels.execs, 1);
    assert.equal(await remoteText(sshd, `cd ${sq(dir.relative)} && cat t0.txt t19.txt`), 'file 0\nfile 19');
  });

  it('big files, trees, patterns and names SFTP cannot carry stay on SCP', async function () {
    const dir = await makeServerDir(sshd, 'auto-big');
    const { ctx } = freshAuto(pool);
    assert.equal((await upload(ctx(), put(`${dir.relative}/small.txt`, Buffer.from('small')))).transport, 'sftp');
    const big = randomData(2 * 1024 * 1024);
    assert.equal((await upload(ctx(), put(`${dir.relative}/big.bin`, big))).transport, 'scp');
    const bigBack = await download(ctx(), bufferDownload(`${dir.relative}/big.bin`, big.length));
    assert.equal(bigBack.transport, 'scp');
    assert.equal(sha256(bigBack.files[0].data as Buffer), sha256(big));

    const local = await makeTempDir('auto-tree');
    await fs.mkdir(join(local, 'tree'));
    await fs.writeFile(join(local, 'tree', 'a.txt'), 'a');
    const tree = await upload(ctx(), { ...put(dir.relative, Buffer.alloc(0)), sources: [{ kind: 'path', path: join(local, 'tree') }] });
    assert.equal(tree.transport, 'scp');
    const pattern = await download(ctx(), { ...bufferDownload(`${dir.relative}/*.txt`, 100), glob: true });
    assert.equal(pattern.transport, 'scp');

    const latin1 = await upload(ctx(), { ...put('', Buffer.from('latin1')), remotePathBytes: Buffer.concat([Buffer.from(`${dir.relative}/caf`), Buffer.from([0xe9])]) });
    assert.equal(latin1.transport, 'scp');

    // Not one small file after all: SCP says what is wrong, in the words transport scp uses.
    for (const [path, code] of [
      [`${dir.relative}/missing.txt`, 'ENOENT'],
      [`${dir.relative}/tree`, 'EISDIR'],
    ] as const) {
      const messages: string[] = [];
      for (const transport of ['auto', 'scp'] as TransportChoice[]) {
        await assert.rejects(download(transport === 'auto' ? ctx() : context(pool, { transport }), bufferDownload(path, 100)), (error: TransferError) => {
          assert.equal(error.code, code, error.message);
          messages.push(error.message);
          return true;
        });
      }
      assert.equal(messages[0], messages[1]);
    }
  });

  it('forgetTransport forgets the proof: the next small job probes again, once', async function () {
    const dir = await makeServerDir(sshd, 'auto-forget');
    const { channels, ctx } = freshAuto(pool);
    await upload(ctx(), put(`${dir.relative}/a.txt`, Buffer.from('a')));
    assert.equal(channels.execs, 1);
    forgetTransport(channels);
    await upload(ctx(), put(`${dir.relative}/b.txt`, Buffer.from('b')));
    await upload(ctx(), put(`${dir.relative}/c.txt`, Buffer.from('c')));
    assert.equal(channels.execs, 2);
  });

  it('a job stopped while it waits for the probe fails with EABORTED; the probe goes on for the others', async function () {
    const dir = await makeServerDir(sshd, 'auto-abort');
    const { channels, ctx } = freshAuto(pool);
    const controller = new AbortController();
    const stopped = upload(ctx({ signal: controller.signal }), put(`${dir.relative}/stopped.txt`, Buffer.from('no')));
    const other = upload(ctx(), put(`${dir.relative}/other.txt`, Buffer.from('yes')));
    controller.abort();
    await assert.rejects(stopped, (error: TransferError) => error.code === 'EABORTED');
    assert.equal((await other).transport, 'sftp');
    assert.equal(channels.execs, 1);
    assert.equal(await remoteText(sshd, `cd ${sq(dir.relative)} && ls`), 'other.txt');
  });
});

/** An sshd whose SFTP subsystem runs `script` (written to a directory the server's user can read) instead of internal-sftp. */
function useSshdWithSubsystem(script: (home: string) => string): { server: () => SshdServer; pool: () => SshPool } {
  let server: SshdServer | undefined;
  let pool: SshPool | undefined;
  before(async function () {
    const dir = await makeTempDir('auto-subsystem');
    await fs.chmod(dir, 0o755);
    const path = join(dir, 'sftp-subsystem.sh');
    await fs.writeFile(path, script(dir), { mode: 0o755 });
    server = await startSshd({ config: [`Subsystem sftp ${path}`] });
    pool = poolProvider(server);
  });
  after(async () => {
    await pool?.close();
    await server?.stop();
  });
  return { server: () => server as SshdServer, pool: () => pool as SshPool };
}

describe('transfer: auto keeps SCP where SFTP sees other paths', function () {
  this.timeout(60_000);

  describe('sftp-server in a mount namespace with another directory over the home (same start directory, other files)', function () {
    const elsewhere = `.sftp-elsewhere-${randomBytes(4).toString('hex')}`;
    // Two user namespaces: the outer maps the user to root to mount, the inner maps it back (files keep their owner).
    const { server, pool } = useSshdWithSubsystem(
      () => `#!/bin/sh
u=$(id -u) g=$(id -g)
mkdir -p "$HOME/${elsewhere}"
exec unshare -rm sh -c 'mount --bind "$HOME/${elsewhere}" "$HOME" && cd "$HOME" && exec unshare --map-user="$1" --map-group="$2" /usr/lib/openssh/sftp-server' sh "$u" "$g"
`,
    );

    before(async function () {
      const works = await runAsUser(server(), 'unshare -rm true');
      if (works.code !== 0) skipOrFail(this, `unprivileged user namespaces are needed to run sftp-server in one (${works.stderr.trim()})`);
    });

    it('over transport sftp a relative path lands in the other directory (the setup works)', async function () {
      const name = `proof-${randomBytes(4).toString('hex')}.txt`;
      await upload(context(pool(), { transport: 'sftp' }), put(name, Buffer.from('elsewhere')));
      assert.equal(await remoteText(server(), `cat ${sq(`${elsewhere}/${name}`)}`), 'elsewhere');
      assert.equal(await remoteText(server(), `test -e ${sq(name)} && echo there || echo missing`), 'missing');
    });

    it('auto finds that the shell does not see the probe file, keeps SCP for good, and the files land where SCP puts them', async function () {
      const dir = await makeServerDir(server(), 'auto-ns');
      const { channels, ctx, debug } = freshAuto(pool());
      const up = await upload(ctx(), put(`${dir.relative}/a.txt`, Buffer.from('over scp')));
      assert.equal(up.transport, 'scp');
      assert.ok(debug.some((line) => /small transfers stay on SCP: the shell did not find SFTP's probe file/u.test(line)), debug.join('\n'));
      assert.equal(await remoteText(server(), `cat ${sq(`${dir.relative}/a.txt`)}`), 'over scp');
      const sftps = channels.sftps;
      const down = await download(ctx(), bufferDownload(`${dir.relative}/a.txt`, 100));
      assert.equal(down.transport, 'scp');
      assert.equal(down.files[0].data?.toString(), 'over scp');
      assert.equal(channels.sftps, sftps, 'no second probe');
      assert.equal(await probeFilesLeft(server(), elsewhere), '', 'SFTP removed its probe file');
      assert.equal(await probeFilesLeft(server()), '');
    });
  });

  describe('internal-sftp -d: SFTP starts in another directory', function () {
    const start = `sftp-start-${randomBytes(4).toString('hex')}`;
    const sshd = useOwnSshd({ config: [`Subsystem sftp internal-sftp -d %d/${start}`] });
    const pool = usePoolTo(sshd);
    before(async () => {
      await remoteText(sshd, `mkdir -p ${sq(start)}`);
    });

    it('auto keeps SCP: a relative path means the home, as over SCP', async function () {
      const { ctx, debug } = freshAuto(pool);
      const name = `rel-${randomBytes(4).toString('hex')}.txt`;
      const up = await upload(ctx(), put(name, Buffer.from('home')));
      assert.equal(up.transport, 'scp');
      assert.ok(debug.some((line) => /the shell starts in ".*", SFTP in ".*\/sftp-start-/u.test(line)), debug.join('\n'));
      assert.equal(await remoteText(sshd, `cat ${sq(name)} && rm ${sq(name)}`), 'home');
      const down = await download(ctx(), bufferDownload(name, 100)).catch((error: TransferError) => error);
      assert.ok(down instanceof TransferError && down.code === 'ENOENT', String(down));
      // Over transport sftp the same relative path is another file: what auto must not do.
      await upload(context(pool, { transport: 'sftp' }), put(name, Buffer.from('start')));
      assert.equal(await remoteText(sshd, `cat ${sq(`${start}/${name}`)}`), 'start');
    });
  });

  describe('OpenSSH without an SFTP subsystem', function () {
    const sshd = useOwnSshd({ noSftp: true });
    const pool = usePoolTo(sshd);

    it('auto uses SCP without an error and asks for SFTP no more', async function () {
      const dir = await makeServerDir(sshd, 'auto-nosftp');
      const { channels, ctx } = freshAuto(pool);
      assert.equal((await upload(ctx(), put(`${dir.relative}/a.txt`, Buffer.from('a')))).transport, 'scp');
      assert.ok(knowsTransport(channels, 'noSftp'));
      const sftps = channels.sftps;
      const down = await download(ctx(), bufferDownload(`${dir.relative}/a.txt`, 100));
      assert.equal(down.transport, 'scp');
      assert.equal(down.files[0].data?.toString(), 'a');
      assert.equal(channels.sftps, sftps);
    });
  });

  describe('Dropbear without sftp-server', function () {
    let server: SshdServer | undefined;
    let pool: SshPool | undefined;
    before(async function () {
      if (!isRoot()) return skipOrFail(this, 'root to start Dropbear');
      server = await startDropbear({ noSftp: true });
      pool = poolProvider(server);
    });
    after(async () => {
      await pool?.close();
      await server?.stop();
    });

    it('auto uses SCP as before, without an error, and probes once', async function () {
      const dir = await makeServerDir(server as SshdServer, 'auto-dropbear');
      const { channels, ctx } = freshAuto(pool as SshPool);
      const data = randomData(4096);
      assert.equal((await upload(ctx(), put(`${dir.relative}/a.bin`, data))).transport, 'scp');
      const sftps = channels.sftps;
      const down = await download(ctx(), bufferDownload(`${dir.relative}/a.bin`, 8192));
      assert.equal(down.transport, 'scp');
      assert.deepEqual(down.files[0].data, data);
      assert.equal((await upload(ctx(), put(`${dir.relative}/b.bin`, data))).transport, 'scp');
      assert.equal(channels.sftps, sftps, 'no second probe');
    });
  });
});
