/**
 * Compression on a slow link, timed: sshd behind the harness's relay at 2 MiB/s each way, uploads of a
 * 50 MiB log and of 16 MiB of random data, compression off and on. Prints a Markdown table. The test
 * (test/ssh/compression.test.ts) asserts on bytes; this measures the seconds it saves or costs, and the CPU
 * this process spent (client and relay; the relay's share is the same with and without compression).
 * Run: npm run build && npm run build:test && node .test-build/bench/compression.js
 */
import * as crypto from 'node:crypto';
import { COMPRESSION_ALGORITHMS } from '../src/ssh';
import { upload } from '../src/transfer';
import { logText, makeServerDir, startSshd, startThrottledRelay } from '../test/harness';
import { runCleanupsSync } from '../test/harness/cleanup';
import { poolProvider } from '../test/transfer/support';

const MIB = 1024 * 1024;
const LINK = 2 * MIB;

async function main(): Promise<void> {
  const sshd = await startSshd();
  const relay = await startThrottledRelay(sshd, LINK);
  const dir = (await makeServerDir(sshd, 'bench-compression')).relative;
  const payloads = [
    { name: '50 MiB log text', data: logText(50 * MIB) },
    { name: '16 MiB random', data: crypto.randomBytes(16 * MIB) },
  ];
  console.log(`| data | compression | seconds | MiB on the wire | MiB/s of file | CPU s (this process) |`);
  console.log(`|---|---|---|---|---|---|`);
  for (const { name, data } of payloads) {
    for (const compression of [false, true]) {
      // the relay's address, the server's keys: the host key is pinned by fingerprint, not by address
      const pool = poolProvider({ ...sshd, host: relay.host, port: relay.port }, { compress: compression ? COMPRESSION_ALGORITHMS : ['none'] });
      try {
        await pool.exec('true').then((lease) => lease.channel.end());
        relay.resetCounts();
        const cpu = process.cpuUsage();
        const started = process.hrtime.bigint();
        await upload({ channels: pool, transport: 'sftp', idleTimeoutMs: 60_000 }, {
          sources: [{ kind: 'buffer', data }],
          remotePath: `${dir}/payload.bin`,
          preserve: false,
          atomic: true,
          overwrite: 'overwrite',
        });
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const used = process.cpuUsage(cpu);
        console.log(
          `| ${name} | ${compression ? 'on' : 'off'} | ${seconds.toFixed(2)} | ${(relay.bytesUp / MIB).toFixed(2)} | ${(data.length / MIB / seconds).toFixed(2)} | ${((used.user + used.system) / 1e6).toFixed(2)} |`,
        );
      } finally {
        await pool.close();
      }
    }
  }
  await relay.close();
  await sshd.stop();
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => runCleanupsSync());
