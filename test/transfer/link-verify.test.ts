/**
 * Verify (src/transfer/link/): a sha256 of each whole file compared on both sides after the copy, against
 * OpenSSH (SCP and SFTP) and Dropbear, the server's side computed by its sha256sum (the command's BusyBox
 * branch checked under BusyBox's own shell with nothing else on the PATH). A tampering server (an sshd
 * whose PATH starts with a sha256sum that lies) fails the job with ECHECKSUM: a download never reaches its
 * final path, an upload is removed.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { SshPool } from '../../src/ssh';
import { download, upload, type DownloadRequest, type TransportChoice } from '../../src/transfer';
import { sha256Command } from '../../src/transfer/link/remote-checksum';
import { type SshdServer, isRoot, makeServerDir, makeTempDir, runAsUser, sharedSshd, skipOrFail, startDropbear, startSshd } from '../harness';
import { context, directoryDownload, poolProvider, randomData, sha256, sq, useSharedPool } from './support';

const SIZE = 3 * 1024 * 1024 + 17;

/** A download of the one file `remotePath` into `target`, overwriting, with the sha256 check on. */
function verifiedDownload(remotePath: string, target: DownloadRequest['target']): DownloadRequest {
  return { ...directoryDownload(remotePath, '', { overwrite: 'overwrite', link: { verify: true } }), target };
}

async function roundTrip(server: SshdServer, channels: SshPool, transport: TransportChoice, label: string): Promise<void> {
  const local = await makeTempDir(`verify-${label}`);
  const data = randomData(SIZE);
  const digest = sha256(data);
  const remote = await makeServerDir(server, `verify-${label}`);
  const remoteFile = `${remote.relative}/it's here.bin`;
  const up = await upload(context(channels, { transport }), {
    sources: [{ kind: 'buffer', data }],
    remotePath: remoteFile,
    preserve: false,
    atomic: true,
    overwrite: 'overwrite',
    link: { verify: true },
  });
  assert.equal(up.files[0]?.sha256, digest, 'the upload result carries the sha256');
  const there = await runAsUser(server, `sha256sum ${sq(remoteFile)}`);
  assert.equal(there.stdout.toString().slice(0, 64), digest);
  const toFile = join(local, 'back.bin');
  const down = await download(context(channels, { transport }), verifiedDownload(remoteFile, { kind: 'file', path: toFile }));
  assert.equal(down.files[0]?.sha256, digest, 'the download result carries the sha256');
  assert.equal(sha256(await fs.readFile(toFile)), digest);
  const intoMemory = await download(context(channels, { transport }), verifiedDownload(remoteFile, { kind: 'buffer', maxBytes: SIZE }));
  assert.equal(intoMemory.files[0]?.sha256, digest);
  assert.equal(sha256(intoMemory.files[0]?.data ?? Buffer.alloc(0)), digest);
  await fs.rm(local, { recursive: true, force: true });
}

describe('transfer: verify with sha256 (issue 18)', function () {
  this.timeout(120_000);

  describe('OpenSSH', () => {
    const shared = useSharedPool();
    for (const transport of ['scp', 'sftp'] as const) {
      it(`${transport}: up, down to a file and into memory, the sha256 in every result`, async () => {
        await roundTrip(shared.server, shared.channels, transport, `openssh-${transport}`);
      });
    }
  });

  describe('Dropbear', () => {
    let server: SshdServer | undefined;
    let channels: SshPool | undefined;
    before(async function () {
      if (!isRoot()) return skipOrFail(this, 'Dropbear needs root (the throwaway user)');
      server = await startDropbear();
      channels = poolProvider(server);
    });
    after(async () => {
      await channels?.close();
      await server?.stop();
    });
    it('scp: up, down to a file and into memory, the sha256 in every result', async () => {
      await roundTrip(server as SshdServer, channels as SshPool, 'scp', 'dropbear');
    });
  });

  it("the command's BusyBox branch: BusyBox's sh with only busybox on the PATH prints the right sum", async function () {
    if (spawnSync('busybox', ['true']).status !== 0) return skipOrFail(this, 'busybox is not installed');
    const dir = await makeTempDir('verify-busybox');
    const only = join(dir, 'bin');
    await fs.mkdir(only);
    await fs.symlink('/usr/bin/busybox', join(only, 'busybox'));
    const data = randomData(100_000);
    const name = "a 'quoted' name.bin";
    await fs.writeFile(join(dir, name), data);
    const run = spawnSync(join(only, 'busybox'), ['sh', '-c', sha256Command(Buffer.from(name)).toString()], { cwd: dir, env: { PATH: only } });
    assert.equal(run.status, 0, run.stderr.toString());
    assert.equal(run.stdout.toString().slice(0, 64), sha256(data));
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe('a tampering server (its sha256sum lies)', () => {
    let server: SshdServer;
    let channels: SshPool;
    let honest: SshPool;
    let honestServer: SshdServer;
    before(async () => {
      honestServer = await sharedSshd();
      honest = poolProvider(honestServer);
      const bin = await makeServerDir(honestServer, 'verify-liar-bin');
      await runAsUser(honestServer, `printf '#!/bin/sh\\necho 0000000000000000000000000000000000000000000000000000000000000000  "$1"\\n' > ${sq(bin.relative)}/sha256sum && chmod 755 ${sq(bin.relative)}/sha256sum`);
      server = await startSshd({ config: [`SetEnv PATH=${bin.absolute}:/usr/local/bin:/usr/bin:/bin`] });
      channels = poolProvider(server);
    });
    after(async () => {
      await channels?.close();
      await honest?.close();
      await server?.stop();
    });

    for (const transport of ['scp', 'sftp'] as const) {
      it(`${transport}: a download fails with ECHECKSUM and nothing reaches the final path`, async () => {
        const remote = await makeServerDir(server, `verify-liar-down-${transport}`);
        await runAsUser(server, `head -c 100000 /dev/urandom > ${sq(remote.relative)}/f.bin`);
        const local = await makeTempDir('verify-liar');
        const target = join(local, 'f.bin');
        await assert.rejects(
          download(context(channels, { transport }), verifiedDownload(`${remote.relative}/f.bin`, { kind: 'file', path: target })),
          (error: { code?: string; message?: string }) => error.code === 'ECHECKSUM' && /sha256/.test(error.message ?? ''),
        );
        assert.deepEqual(await fs.readdir(local), [], 'neither the file nor a temporary is left');
      });

      it(`${transport}: an upload fails with ECHECKSUM and the remote file is removed`, async () => {
        const remote = await makeServerDir(server, `verify-liar-up-${transport}`);
        await assert.rejects(
          upload(context(channels, { transport }), {
            sources: [{ kind: 'buffer', data: randomData(50_000) }],
            remotePath: `${remote.relative}/f.bin`,
            preserve: false,
            atomic: true,
            overwrite: 'overwrite',
            link: { verify: true },
          }),
          (error: { code?: string }) => error.code === 'ECHECKSUM',
        );
        const left = await runAsUser(server, `ls -A ${sq(remote.relative)}`);
        assert.equal(left.stdout.toString(), '', 'nothing is left in the remote folder');
      });
    }
  });
});
