/**
 * Issue 16's safe pulls against a real Dropbear whose every command runs in BusyBox ash with only BusyBox's
 * applets (plus an scp) on PATH (a router or IoT device), over SCP and its shell commands: minimum age, stable size, a
 * file changed after its fetch never deleted, and claims (each file taken once; a dead instance's claim
 * folder released). The setup commands run through that same login, so the file times are BusyBox touch's.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { TransferError } from '../../src/errors';
import type { SshPool } from '../../src/ssh';
import type { ChannelProvider } from '../../src/ssh/types';
import { download, type DownloadRequest, type TransferResult } from '../../src/transfer';
import { type SshdServer, generateTestKey, isRoot, makeServerDir, makeTempDir, skipOrFail, startDropbear } from '../harness';
import { busyboxPath } from '../remote/local-shell';
import { startWriter } from './writer';
import { DEFAULT_LIMITS, context, poolProvider, sq } from './support';

/** Files the claim tests pull at once. */
const CLAIMED_FILES = 50;
/** Rounds of both instances pulling at once before the claim test gives up (each takes what the other left). */
const MAX_ROUNDS = 20;

describe('transfer: safe pulls against Dropbear with BusyBox as its shell and userland (SCP)', function () {
  this.timeout(120_000);
  let server: SshdServer;
  let pool: SshPool;
  let authorizedKeys: string;
  let original: string | undefined;

  before(async function () {
    if (!isRoot()) return skipOrFail(this, 'Dropbear reads only the throwaway user\'s ~/.ssh/authorized_keys (needs root)');
    server = await startDropbear();
    const bin = await busyboxPath();
    await fs.chmod(bin, 0o755);
    // BusyBox has no scp applet: a device ships Dropbear's scp, a fork of OpenSSH's scp.c speaking the same
    // protocol. Debian's dropbear-bin has none, so OpenSSH's stands in for it.
    await fs.symlink('/usr/bin/scp', join(bin, 'scp'));
    // A key of its own whose every command runs in BusyBox's ash with only BusyBox's applets on PATH.
    const key = generateTestKey();
    authorizedKeys = join(server.home, '.ssh', 'authorized_keys');
    original = await fs.readFile(authorizedKeys, 'utf8');
    const loginDir = await makeTempDir('busybox-login');
    await fs.chmod(loginDir, 0o755);
    const login = join(loginDir, 'busybox-login');
    await fs.writeFile(login, `#!/usr/bin/busybox sh\nPATH=${bin}; export PATH\nexec /usr/bin/busybox sh -c "$SSH_ORIGINAL_COMMAND"\n`, { mode: 0o755 });
    await fs.writeFile(authorizedKeys, `${original.trimEnd()}\ncommand="${login}" ${key.publicKey.trim()}\n`);
    pool = poolProvider({ ...server, clientKey: key.privateKey });
    const said = await onDevice(pool, 'echo "$0 $(readlink -f "$(command -v touch)")"');
    assert.equal(said.trim(), 'sh /usr/bin/busybox', 'commands run in BusyBox ash with BusyBox applets');
  });
  after(async () => {
    await pool?.close();
    if (original !== undefined) await fs.writeFile(authorizedKeys, original);
    await server?.stop();
  });

  /** Runs `command` on the device (BusyBox ash, BusyBox applets); fails unless it exits 0; resolves with stdout. */
  async function onDevice(channels: ChannelProvider, command: string): Promise<string> {
    const { channel } = await channels.exec(command);
    return new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      let code: number | undefined;
      channel.on('data', (chunk: Buffer) => (out += chunk.toString()));
      channel.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      channel.on('exit', (exitCode: number) => (code = exitCode));
      channel.on('error', reject);
      // 'exit' may have fired before the lease reached us (the reply, the output and the exit status in one
      // socket read, as on a loaded machine): ssh2 repeats the status on 'close'.
      channel.on('close', (closeCode: unknown) => {
        if (code === undefined && typeof closeCode === 'number') code = closeCode;
        if (code === 0) resolve(out);
        else reject(new Error(`${command}: exit ${String(code)}: ${err}`));
      });
    });
  }

  /** Every file below `dir` on the device, sorted, as `./path`. */
  async function deviceFiles(dir: string): Promise<string[]> {
    const listed = await onDevice(pool, `cd ${sq(dir)} && find . -type f | sort`);
    return listed.split('\n').filter((name) => name !== '');
  }

  function pull(remotePath: string, local: string, extra: Partial<DownloadRequest>): DownloadRequest {
    return { remotePath, target: { kind: 'directory', path: local }, recursive: false, glob: true, preserve: false, overwrite: 'overwrite', limits: DEFAULT_LIMITS, ...extra };
  }

  function outcomes(result: TransferResult): (string | boolean)[][] {
    return result.files.map((file) => [file.remotePath.split('/').pop() ?? '', file.transferred, file.skipped ?? '-', file.removed === true, file.afterError?.code ?? '-']).sort();
  }

  it('minimum age: a glob pull skips the fresh file (reason minimumAge, kept) and fetches and deletes the old one', async function () {
    const remote = await makeServerDir(server, 'dropbear-age');
    await onDevice(pool, `cd ${sq(remote.relative)} && printf old > old.log && touch -d '2020-09-13 12:26:40' old.log && printf fresh > fresh.log`);
    const local = await makeTempDir('dropbear-age');
    const result = await download(
      context(pool, { transport: 'scp' }),
      pull(`${remote.relative}/*.log`, local, { afterAction: { kind: 'delete' }, settle: { minimumAgeSeconds: 3600 } }),
    );
    assert.equal(result.transport, 'scp');
    assert.deepEqual(outcomes(result), [
      ['fresh.log', false, 'minimumAge', false, '-'],
      ['old.log', true, '-', true, '-'],
    ]);
    assert.deepEqual(await fs.readdir(local), ['old.log']);
    assert.equal(await fs.readFile(join(local, 'old.log'), 'utf8'), 'old');
    assert.deepEqual(await deviceFiles(remote.relative), ['./fresh.log']);
  });

  it('stable size: skips the file a writer appends to between the two looks (reason notStable); the still one is fetched and deleted', async function () {
    const remote = await makeServerDir(server, 'dropbear-stable');
    await onDevice(pool, `cd ${sq(remote.relative)} && printf still > still.log && printf '%09d\\n' 0 > busy.log`);
    const writer = await startWriter(server, `${remote.absolute}/busy.log`, 1);
    const local = await makeTempDir('dropbear-stable');
    let result: TransferResult;
    try {
      result = await download(
        context(pool, { transport: 'scp' }),
        pull(`${remote.relative}/*.log`, local, { afterAction: { kind: 'delete' }, settle: { stableIntervalMs: 1500 } }),
      );
    } finally {
      await writer.stop();
    }
    assert.deepEqual(outcomes(result), [
      ['busy.log', false, 'notStable', false, '-'],
      ['still.log', true, '-', true, '-'],
    ]);
    assert.deepEqual(await fs.readdir(local), ['still.log']);
    assert.equal(await fs.readFile(join(local, 'still.log'), 'utf8'), 'still');
    assert.deepEqual(await deviceFiles(remote.relative), ['./busy.log']);
  });

  it('delete: a file that grows after its fetch stays on the device (afterError ECHANGED, every byte kept); the still one is deleted', async function () {
    const remote = await makeServerDir(server, 'dropbear-changed');
    await onDevice(pool, `cd ${sq(remote.relative)} && printf 'first part\\n' > grows.log && printf still > still.log`);
    const local = await makeTempDir('dropbear-changed');
    // The append happens exactly between the fetch and the after-action: when the after-action's command
    // (marked SCP-AFTER:) for grows.log is about to be sent, the file grows first, through the device itself.
    let appended = false;
    const channels: ChannelProvider = {
      label: pool.label,
      sftp: (options) => pool.sftp(options),
      exec: async (command, options) => {
        const text = command.toString('latin1');
        if (!appended && text.includes('SCP-AFTER:') && text.includes('grows.log')) {
          appended = true;
          await onDevice(pool, `printf 'written after the fetch\\n' >> ${sq(`${remote.relative}/grows.log`)}`);
        }
        return pool.exec(command, options);
      },
    };
    const result = await download(context(channels, { transport: 'scp' }), pull(`${remote.relative}/*.log`, local, { afterAction: { kind: 'delete' } }));
    assert.ok(appended, 'the after-action ran over the shell');
    assert.deepEqual(outcomes(result), [
      ['grows.log', true, '-', false, 'ECHANGED'],
      ['still.log', true, '-', true, '-'],
    ]);
    assert.equal(await fs.readFile(join(local, 'grows.log'), 'utf8'), 'first part\n');
    assert.equal(await fs.readFile(join(local, 'still.log'), 'utf8'), 'still');
    // Under its own name, nothing left aside (no `.scp-check.*`), every byte the writer wrote.
    assert.deepEqual(await deviceFiles(remote.relative), ['./grows.log']);
    assert.equal(await onDevice(pool, `cat ${sq(`${remote.relative}/grows.log`)}`), 'first part\nwritten after the fetch\n');
  });

  it(`claims: two instances pulling ${CLAIMED_FILES} files with delete at once take each exactly once and leave no claim folder`, async function () {
    const remote = await makeServerDir(server, 'dropbear-claims');
    await onDevice(pool, `cd ${sq(remote.relative)} && i=0; while [ $i -lt ${CLAIMED_FILES} ]; do n=$(printf 'f%02d.dat' $i); printf 'content of %s\\n' $n > $n; i=$((i+1)); done`);
    const instances = await Promise.all(['one', 'two'].map(async (instance) => ({ instance, local: await makeTempDir(`dropbear-claims-${instance}`), fetched: [] as string[] })));
    for (let round = 0; round < MAX_ROUNDS && (await deviceFiles(remote.relative)).length > 0; round += 1) {
      await Promise.all(
        instances.map(async ({ instance, local, fetched }) => {
          try {
            const result = await download(
              context(pool, { transport: 'scp' }),
              pull(`${remote.relative}/*.dat`, local, { afterAction: { kind: 'delete' }, claim: { instance, timeoutSeconds: 600 } }),
            );
            for (const file of result.files) {
              assert.ok(file.transferred && file.removed && !file.afterError, JSON.stringify(file));
              fetched.push(file.remotePath.split('/').pop() ?? '');
            }
          } catch (error) {
            // The other instance may have claimed every file between this one's first look and its claims.
            if (!(error instanceof TransferError) || error.code !== 'ENOENT') throw error;
          }
        }),
      );
    }
    const [one, two] = instances.map(({ fetched }) => fetched);
    assert.deepEqual(one.filter((name) => two.includes(name)), [], 'no file taken by both instances');
    const expected = Array.from({ length: CLAIMED_FILES }, (_, i) => `f${String(i).padStart(2, '0')}.dat`);
    assert.deepEqual([...one, ...two].sort(), expected, 'every file taken exactly once');
    for (const { local, fetched } of instances) {
      assert.deepEqual((await fs.readdir(local)).sort(), [...fetched].sort());
      for (const name of fetched) assert.equal(await fs.readFile(join(local, name), 'utf8'), `content of ${name}\n`);
    }
    assert.deepEqual(await deviceFiles(remote.relative), [], 'nothing left on the device, nothing left claimed');
    assert.equal(await onDevice(pool, `cd ${sq(remote.relative)} && find . -mindepth 2 -type d`), '', 'no claim folder left');
    process.stdout.write(`      (instance one took ${one.length}, two ${two.length})\n`);
  });

  it('claims: a claim folder older than the timeout (its instance died) is released by the next pull, which takes its files', async function () {
    const remote = await makeServerDir(server, 'dropbear-stale');
    const dead = `.scp-claims/dead~${Math.floor(Date.now() / 1000) - 3600}~0badc0de`;
    await onDevice(pool, `cd ${sq(remote.relative)} && mkdir -p ${sq(dead)} && printf s1 > ${sq(`${dead}/s1.dat`)} && printf s2 > ${sq(`${dead}/s2.dat`)} && printf n3 > n3.dat`);
    const local = await makeTempDir('dropbear-stale');
    const result = await download(
      context(pool, { transport: 'scp' }),
      pull(`${remote.relative}/*.dat`, local, { afterAction: { kind: 'delete' }, claim: { instance: 'alive', timeoutSeconds: 600 } }),
    );
    assert.deepEqual(outcomes(result), [
      ['n3.dat', true, '-', true, '-'],
      ['s1.dat', true, '-', true, '-'],
      ['s2.dat', true, '-', true, '-'],
    ]);
    assert.deepEqual(result.files.map((file) => file.remotePath).sort(), ['n3.dat', 's1.dat', 's2.dat'].map((name) => `${remote.relative}/${name}`));
    assert.deepEqual((await fs.readdir(local)).sort(), ['n3.dat', 's1.dat', 's2.dat']);
    for (const name of ['n3', 's1', 's2']) assert.equal(await fs.readFile(join(local, `${name}.dat`), 'utf8'), name);
    assert.deepEqual(await deviceFiles(remote.relative), [], 'nothing left on the device');
    assert.equal(await onDevice(pool, `cd ${sq(remote.relative)} && find . -mindepth 2 -type d`), '', 'the dead instance\'s folder is gone, no new one left');
  });
});
