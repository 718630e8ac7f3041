/**
 * `npm run bench:transfer-links`: the throttled-link figures of issue 18 from one run against a real sshd of its own
 * (not part of `npm test`): how close the bandwidth limit keeps a copy to its rate (20 MiB at 4 MiB/s, and
 * 8 MiB at 1 MiB/s; time, rate, the busiest second against the limit) up and down over SCP and SFTP, and
 * what resume saves: a 300 MiB upload and download cut at 60% (the server's session killed) and sent
 * again, with the bytes the second try moved. Prints a Markdown table.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { SshPool } from '../src/ssh';
import { FileLeftoverJournal, download, upload, type ProgressEvent, type TransferContext } from '../src/transfer';
import { makeTempDir, makeServerDir, runAsUser, startSshd } from '../test/harness';
import { runCleanupsSync } from '../test/harness/cleanup';
import { makeBigFile, sha256File } from '../test/transfer/memory-support';
import { DEFAULT_LIMITS, poolProvider } from '../test/transfer/support';
import { busiestSecond, killUserSessions } from '../test/transfer/link-support';

const MIB = 1024 * 1024;

function context(channels: SshPool, transport: 'scp' | 'sftp', samples: { t: number; bytes: number }[], extra: Partial<TransferContext> = {}): TransferContext {
  return {
    channels,
    transport,
    idleTimeoutMs: 30_000,
    onProgress: (event: ProgressEvent) => {
      if (event.type === 'bytes') samples.push({ t: performance.now(), bytes: event.totalBytes });
    },
    ...extra,
  };
}

async function main(): Promise<void> {
  const server = await startSshd();
  const channels = poolProvider(server);
  const local = await makeTempDir('bench-links');
  const rows: string[] = [];
  try {
    // Connected first: the figures are of the copies, not of a handshake.
    const warm = await makeServerDir(server, 'bench-links-warm');
    await upload(context(channels, 'scp', []), { sources: [{ kind: 'buffer', data: Buffer.from('warm') }], remotePath: `${warm.relative}/w`, preserve: false, atomic: true, overwrite: 'overwrite' });
    rows.push('| bandwidth limit | transport | direction | size | time | rate | vs limit | busiest second ÷ limit |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const [sizeMib, limitKiBps] of [
      [20, 4096],
      [8, 1024],
    ] as const) {
      const size = sizeMib * MIB;
      const source = join(local, `limit-${sizeMib}.bin`);
      await makeBigFile(source, size);
      for (const transport of ['scp', 'sftp'] as const) {
        const remote = await makeServerDir(server, `bench-links-${transport}-${sizeMib}`);
        for (const direction of ['upload', 'download'] as const) {
          const samples: { t: number; bytes: number }[] = [];
          const started = performance.now();
          if (direction === 'upload') {
            await upload(context(channels, transport, samples), { sources: [{ kind: 'path', path: source }], remotePath: `${remote.relative}/f.bin`, preserve: false, atomic: true, overwrite: 'overwrite', link: { limitKiBps } });
          } else {
            await download(context(channels, transport, samples), { remotePath: `${remote.relative}/f.bin`, target: { kind: 'file', path: join(local, `back-${transport}-${sizeMib}.bin`) }, recursive: false, glob: false, preserve: false, overwrite: 'overwrite', limits: DEFAULT_LIMITS, link: { limitKiBps } });
          }
          const seconds = (performance.now() - started) / 1000;
          const rate = size / seconds;
          const limit = limitKiBps * 1024;
          rows.push(`| ${limitKiBps} KiB/s | ${transport} | ${direction} | ${sizeMib} MiB | ${seconds.toFixed(2)} s | ${(rate / MIB).toFixed(2)} MiB/s | ${((rate / limit) * 100).toFixed(1)} % | ${(busiestSecond(samples) / limit).toFixed(2)} |`);
        }
      }
    }

    rows.push('', '| resume (300 MiB, cut at 60%) | transport | resumed from | moved the second time | saved | sha256 equal | time (second try) |', '| --- | --- | --- | --- | --- | --- | --- |');
    const size = 300 * MIB;
    const source = join(local, 'firmware.bin');
    const digest = await makeBigFile(source, size);
    const journal = new FileLeftoverJournal(join(local, 'journal'));
    for (const transport of ['sftp', 'scp'] as const) {
      const remote = await makeServerDir(server, `bench-resume-${transport}`);
      const remoteFile = `${remote.relative}/firmware.bin`;
      const cutting = (): Partial<TransferContext> => {
        let cut = false;
        return {
          leftovers: journal,
          onProgress: (event) => {
            if (!cut && event.type === 'bytes' && event.fileBytes >= 0.62 * size) {
              cut = true;
              killUserSessions(server);
            }
          },
        };
      };
      const up = { sources: [{ kind: 'path' as const, path: source }], remotePath: remoteFile, preserve: false, atomic: true, overwrite: 'overwrite' as const, link: { resume: {} } };
      await upload(context(channels, transport, [], cutting()), up).catch(() => undefined);
      let started = performance.now();
      const again = await upload(context(channels, transport, [], { leftovers: journal }), up);
      let seconds = (performance.now() - started) / 1000;
      const there = (await runAsUser(server, `sha256sum '${remoteFile}'`)).stdout.toString().slice(0, 64);
      rows.push(`| upload | ${transport} | ${again.resumedFrom} (${(((again.resumedFrom ?? 0) / size) * 100).toFixed(1)} %) | ${again.bytes} (${((again.bytes / size) * 100).toFixed(1)} %) | ${(((size - again.bytes) / size) * 100).toFixed(1)} % | ${there === digest} | ${seconds.toFixed(2)} s |`);
      const target = join(local, `back-${transport}.bin`);
      const down = { remotePath: remoteFile, target: { kind: 'file' as const, path: target }, recursive: false, glob: false, preserve: false, overwrite: 'overwrite' as const, limits: DEFAULT_LIMITS, link: { resume: {} } };
      await download(context(channels, transport, [], cutting()), down).catch(() => undefined);
      started = performance.now();
      const back = await download(context(channels, transport, [], { leftovers: journal }), down);
      seconds = (performance.now() - started) / 1000;
      const equal = (await sha256File(target)) === digest;
      rows.push(`| download | ${transport} | ${back.resumedFrom} (${(((back.resumedFrom ?? 0) / size) * 100).toFixed(1)} %) | ${back.bytes} (${((back.bytes / size) * 100).toFixed(1)} %) | ${(((size - back.bytes) / size) * 100).toFixed(1)} % | ${equal} | ${seconds.toFixed(2)} s |`);
      await fs.rm(target, { force: true });
    }
    console.log(rows.join('\n'));
  } finally {
    await channels.close();
    await server.stop();
    await fs.rm(local, { recursive: true, force: true });
  }
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => runCleanupsSync());
