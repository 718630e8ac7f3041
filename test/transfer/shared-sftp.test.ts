/**
 * Small jobs over SFTP share the session their pooled connection keeps (src/ssh/pool/kept-sftp.ts), against
 * a real OpenSSH sshd whose sftp subsystem is the external sftp-server behind a wrapper that notes each
 * session's pid: every SFTP session is one process the server started, so the test counts them, kills one
 * mid-job and looks at the files it holds open.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { TransferError } from '../../src/errors';
import type { SftpLease, SshPool, SshPoolOptions } from '../../src/ssh';
import { download, upload, type TransferContext, type UploadSource } from '../../src/transfer';
import { type SshdServer, makeServerDir, makeTempDir, serverPath, startSshd } from '../harness';
import { bufferDownload, context, poolProvider, randomData, directoryDownload } from './support';
import { eventually } from '../support';

const SFTP_SERVER = '/usr/lib/openssh/sftp-server';
const KIB = 1024;

/** A sized stream source that sends 32 KiB, then waits for `release()` before the rest. */
function stalledSource(size: number): { data: Buffer; source: UploadSource; release(): void } {
  const data = randomData(size);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const stream = Readable.from(
    (async function* chunks() {
      yield data.subarray(0, 32 * KIB);
      await gate;
      yield data.subarray(32 * KIB);
    })(),
  );
  return { data, release, source: { kind: 'stream', stream, size } };
}

/** The files under `dir` that process `pid` holds open. */
async function openFilesUnder(pid: number, dir: string): Promise<string[]> {
  const fds = await fs.readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  const targets = await Promise.all(fds.map((fd) => fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return targets.filter((target) => target.startsWith(`${dir}/`));
}

describe('transfer over SFTP: small jobs share the session their connection keeps', function () {
  this.timeout(60_000);
  let server: SshdServer;
  let pidFile: string;
  const pools: SshPool[] = [];

  before(async function () {
    const dir = await makeTempDir('sftp-pids');
    await fs.chmod(dir, 0o777);
    pidFile = join(dir, 'pids');
    // The wrapper execs sftp-server: the pid it notes is the session's process.
    server = await startSshd({ config: [`Subsystem sftp echo $$ >> ${pidFile}; exec ${SFTP_SERVER}`] });
  });
  after(async function () {
    await server?.stop();
  });
  afterEach(async function () {
    for (const pool of pools.splice(0)) await pool.close();
  });

  /** pids of the SFTP sessions the server started so far, in order */
  async function sessionsStarted(): Promise<number[]> {
    const text = await fs.readFile(pidFile, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map(Number);
  }

  function poolFor(options: Partial<SshPoolOptions> = {}): SshPool {
    const pool = poolProvider(server, undefined, { maxConnections: 1, ...options });
    pools.push(pool);
    return pool;
  }

  function sftpContext(pool: SshPool, overrides: Partial<TransferContext> = {}): TransferContext {
    return context(pool, { transport: 'sftp', idleTimeoutMs: 10_000, ...overrides });
  }

  function put(ctx: TransferContext, remotePath: string, source: UploadSource): ReturnType<typeof upload> {
    return upload(ctx, { sources: [source], remotePath, preserve: false, atomic: true, overwrite: 'overwrite' });
  }

  async function serverFile(relative: string): Promise<Buffer> {
    return fs.readFile(serverPath(server, relative));
  }

  it('ten small uploads and ten downloads start one sftp-server; a bigger upload or download and a recursive download each start their own', async function () {
    const pool = poolFor();
    const ctx = sftpContext(pool);
    const dir = await makeServerDir(server, 'kept-reuse');
    const before = (await sessionsStarted()).length;
    const files = Array.from({ length: 10 }, (_, i) => randomData(4 * KIB + i));
    for (const [i, data] of files.entries()) {
      const result = await put(ctx, `${dir.relative}/f${i}`, { kind: 'buffer', data });
      assert.equal(result.transport, 'sftp');
    }
    for (const [i, data] of files.entries()) {
      assert.deepEqual(await serverFile(`${dir.relative}/f${i}`), data);
      const result = await download(ctx, bufferDownload(`${dir.relative}/f${i}`, 64 * KIB));
      assert.deepEqual(result.files[0].data, data);
    }
    const kept = (await sessionsStarted()).slice(before);
    assert.equal(kept.length, 1, `20 small jobs started ${kept.length} SFTP sessions`);
    assert.deepEqual(pool.sharedSftp(), { sessions: 1, jobs: 0 });
    assert.equal(pool.stats().channels, 1);

    const big = randomData(2 * 1024 * KIB);
    await put(ctx, `${dir.relative}/big`, { kind: 'buffer', data: big });
    assert.deepEqual(await serverFile(`${dir.relative}/big`), big);
    const local = await makeTempDir('kept-reuse');
    await download(ctx, directoryDownload(dir.relative, local, { recursive: true, overwrite: 'overwrite' }));
    assert.deepEqual(await fs.readFile(join(local, dir.relative.split('/').pop() as string, 'f3')), files[3]);
    const copy = await download(ctx, bufferDownload(`${dir.relative}/big`, 4 * 1024 * KIB));
    assert.deepEqual(copy.files[0].data, big);
    const all = (await sessionsStarted()).slice(before);
    assert.equal(all.length, 4, 'the big upload, the recursive download and the big download each have a session of their own');
    await eventually('their sessions to close', () => pool.stats().channels === 1);
    assert.deepEqual(pool.sharedSftp(), { sessions: 1, jobs: 0 });
  });

  it('forty uploads at once share it, at most maxSharedSftpJobs at a time, every file intact', async function () {
    const pool = poolFor({ maxSharedSftpJobs: 4 });
    let peak = 0;
    const lend = pool.sftp.bind(pool);
    pool.sftp = async (options): Promise<SftpLease> => {
      const lease = await lend(options);
      peak = Math.max(peak, pool.sharedSftp().jobs);
      return lease;
    };
    const ctx = sftpContext(pool);
    const dir = await makeServerDir(server, 'kept-burst');
    const before = (await sessionsStarted()).length;
    const files = Array.from({ length: 40 }, (_, i) => randomData(4 * KIB + i));
    await Promise.all(files.map((data, i) => put(ctx, `${dir.relative}/m${i}`, { kind: 'buffer', data })));
    for (const [i, data] of files.entries()) assert.deepEqual(await serverFile(`${dir.relative}/m${i}`), data, `m${i}`);
    assert.deepEqual((await fs.readdir(dir.absolute)).length, 40, 'a temporary was left');
    assert.equal((await sessionsStarted()).length - before, 1);
    assert.ok(peak <= 4, `${peak} jobs used the session at once, the cap is 4`);
    assert.ok(peak >= 2, `the jobs did not share the session (at most ${peak} at once)`);
    assert.deepEqual(pool.sharedSftp(), { sessions: 1, jobs: 0 });
  });

  it("the session's server process dies mid-job: that job fails with ECONNRESET, a job on a session of its own goes on, the next small job opens a new one", async function () {
    const pool = poolFor();
    const ctx = sftpContext(pool);
    const dir = await makeServerDir(server, 'kept-death');
    await put(ctx, `${dir.relative}/warm`, { kind: 'buffer', data: randomData(100) });
    const [keptPid] = (await sessionsStarted()).slice(-1);
    const small = stalledSource(64 * KIB);
    const big = stalledSource(2 * 1024 * KIB);
    const smallJob = put(ctx, `${dir.relative}/small`, small.source).then(
      () => undefined,
      (error: TransferError) => error,
    );
    const bigJob = put(ctx, `${dir.relative}/big`, big.source);
    // Both have written their first piece into their temporaries.
    await eventually('the small job to open its temporary', async () => (await openFilesUnder(keptPid, dir.absolute)).length === 1);
    await eventually('the big job to start', async () => (await sessionsStarted()).length >= 2 && (await fs.readdir(dir.absolute)).length === 3);

    process.kill(keptPid, 'SIGKILL');
    await eventually('the pool to learn that the kept session is gone', () => pool.sharedSftp().sessions === 0);
    small.release();
    big.release();
    const error = await smallJob;
    assert.equal(error?.code, 'ECONNRESET', String(error));
    await bigJob;
    assert.deepEqual(await serverFile(`${dir.relative}/big`), big.data);

    const before = (await sessionsStarted()).length;
    const after = randomData(4 * KIB);
    await put(ctx, `${dir.relative}/after`, { kind: 'buffer', data: after });
    assert.deepEqual(await serverFile(`${dir.relative}/after`), after);
    assert.equal((await sessionsStarted()).length - before, 1, 'the next small job opened a new session');
    assert.equal(pool.stats().connections, 1, 'the connection itself stayed');
  });

  it('aborting one job on it: EABORTED for that job, the others land, its temporary removed and its file closed, the session goes on', async function () {
    const pool = poolFor();
    const ctx = sftpContext(pool);
    const dir = await makeServerDir(server, 'kept-abort');
    await put(ctx, `${dir.relative}/warm`, { kind: 'buffer', data: randomData(100) });
    const started = (await sessionsStarted()).length;
    const [keptPid] = (await sessionsStarted()).slice(-1);
    const stalled = stalledSource(64 * KIB);
    const controller = new AbortController();
    const stopped = put(sftpContext(pool, { signal: controller.signal }), `${dir.relative}/stopped`, stalled.source);
    stopped.catch(() => undefined);
    await eventually('the job to open its temporary', async () => (await openFilesUnder(keptPid, dir.absolute)).length === 1);
    const files = Array.from({ length: 5 }, () => randomData(4 * KIB));
    const others = Promise.all(files.map((data, i) => put(ctx, `${dir.relative}/o${i}`, { kind: 'buffer', data })));
    controller.abort();
    await assert.rejects(stopped, (error: TransferError) => error.code === 'EABORTED');
    await others;
    for (const [i, data] of files.entries()) assert.deepEqual(await serverFile(`${dir.relative}/o${i}`), data);
    assert.deepEqual((await fs.readdir(dir.absolute)).sort(), ['o0', 'o1', 'o2', 'o3', 'o4', 'warm']);
    await eventually('the stopped job’s file to be closed', async () => (await openFilesUnder(keptPid, dir.absolute)).length === 0);
    stalled.release();

    await put(ctx, `${dir.relative}/next`, { kind: 'buffer', data: randomData(10) });
    assert.equal((await sessionsStarted()).length, started, 'the abort cost the others their session');
    assert.deepEqual(pool.sharedSftp(), { sessions: 1, jobs: 0 });
  });

  it("the pool's close ends the session's server process", async function () {
    const pool = poolFor();
    const dir = await makeServerDir(server, 'kept-close');
    await put(sftpContext(pool), `${dir.relative}/one`, { kind: 'buffer', data: randomData(100) });
    const [keptPid] = (await sessionsStarted()).slice(-1);
    assert.doesNotThrow(() => process.kill(keptPid, 0), 'the kept session’s process is running');
    await pool.close();
    await eventually('the sftp-server process to exit', () => {
      try {
        process.kill(keptPid, 0);
        return false;
      } catch {
        return true;
      }
    });
  });
});
