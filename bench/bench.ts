/**
 * `npm run bench`: our engine against OpenSSH's `scp` on the same sshd (the test harness's, on 127.0.0.1),
 * with the same cipher (aes128-gcm@openssh.com) on both sides.
 *   - one 256 MiB file up and down, 200 files of 4 KiB up and down (a directory)
 *   - ours "cold" = a new connection per run (as each scp process makes one), "warm" = a reused pool
 *   - scp -O = the legacy SCP protocol; scp = OpenSSH 9's default (SFTP underneath)
 * 5 runs each, medians and ratios (ours cold / scp) printed as a table. Then the 2 GiB round trip in a
 * child process, reporting its RSS growth (must stay under 64 MiB). BENCH_RUNS / BENCH_SKIP_2G adjust.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { SshPool } from '../src/ssh';
import { download, upload } from '../src/transfer';
import type { TransferContext } from '../src/transfer';
import { makeServerDir, makeTempDir, runAsUser, startSshd, type SshdServer } from '../test/harness';
import { runCleanupsSync } from '../test/harness/cleanup';
import { MEMORY_CAP, makeBigFile, runMemoryChild, sha256File } from '../test/transfer/memory-support';
import { poolProvider } from '../test/transfer/support';

const CIPHER = 'aes128-gcm@openssh.com';
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BIG = 256 * 1024 * 1024;
const SMALL_COUNT = 200;
const SMALL_SIZE = 4096;
const LIMITS = { maxFileBytes: Number.MAX_SAFE_INTEGER, maxTotalBytes: Number.MAX_SAFE_INTEGER, maxFiles: 100_000, maxDepth: 16 };

/** Our engine's pool to the bench sshd, with the same cipher as the scp runs. */
function pool(server: SshdServer): SshPool {
  return poolProvider(server, { cipher: [CIPHER] });
}

function scpArgs(server: SshdServer, legacy: boolean): string[] {
  return [
    ...(legacy ? ['-O'] : []),
    '-q',
    '-B',
    '-c', CIPHER,
    '-i', server.clientKeyPath,
    '-P', String(server.port),
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
  ];
}

function runScp(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('scp', args, { maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => (error ? reject(new Error(`scp ${args.join(' ')}: ${stderr || error.message}`)) : resolve()));
  });
}

async function timed(run: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

interface Row {
  name: string;
  bytes: number;
  results: Map<string, number>;
}

const TOOLS = ['ours cold', 'ours warm', 'scp -O', 'scp (sftp)'] as const;
type Tool = (typeof TOOLS)[number];

async function main(): Promise<void> {
  const server = await startSshd();
  const local = await makeTempDir('bench');
  const remote = await makeServerDir(server, 'bench');
  const target = `${server.username}@${server.host}`;
  console.log(`sshd on 127.0.0.1:${server.port}, cipher ${CIPHER}, ${RUNS} runs each; preparing data...`);

  // Sources: a 256 MiB file and 200 x 4 KiB files, locally and on the server.
  await makeBigFile(join(local, 'big.bin'), BIG);
  await fs.mkdir(join(local, 'small'));
  for (let i = 0; i < SMALL_COUNT; i += 1) await fs.writeFile(join(local, 'small', `f${String(i).padStart(3, '0')}.dat`), Buffer.alloc(SMALL_SIZE, i % 256));
  await fs.chmod(local, 0o755); // the server's user copies the sources from here
  const staged = await runAsUser(server, `cd ${remote.relative} && mkdir src && cp ${join(local, 'big.bin')} src/ && cp -r ${join(local, 'small')} src/`);
  if (staged.code !== 0) throw new Error(`staging failed: ${staged.stderr}`);

  const warm = pool(server);
  const ctxOf = (channels: SshPool): TransferContext => ({ channels, transport: 'scp', idleTimeoutMs: 60_000 });
  const ours = async (cold: boolean, job: (ctx: TransferContext) => Promise<unknown>): Promise<void> => {
    const channels = cold ? pool(server) : warm;
    try {
      await job(ctxOf(channels));
    } finally {
      if (cold) await channels.close();
    }
  };

  const operations: { name: string; bytes: number; run: Record<Tool, () => Promise<void>> }[] = [
    {
      name: 'upload 1 x 256 MiB',
      bytes: BIG,
      run: {
        'ours cold': () => ours(true, (ctx) => upload(ctx, { sources: [{ kind: 'path', path: join(local, 'big.bin') }], remotePath: `${remote.relative}/up-big.bin`, preserve: false, atomic: true, overwrite: 'overwrite' })),
        'ours warm': () => ours(false, (ctx) => upload(ctx, { sources: [{ kind: 'path', path: join(local, 'big.bin') }], remotePath: `${remote.relative}/up-big.bin`, preserve: false, atomic: true, overwrite: 'overwrite' })),
        'scp -O': () => runScp([...scpArgs(server, true), join(local, 'big.bin'), `${target}:${remote.relative}/up-big.bin`]),
        'scp (sftp)': () => runScp([...scpArgs(server, false), join(local, 'big.bin'), `${target}:${remote.relative}/up-big.bin`]),
      },
    },
    {
      name: 'download 1 x 256 MiB',
      bytes: BIG,
      run: {
        'ours cold': () => ours(true, (ctx) => download(ctx, { remotePath: `${remote.relative}/src/big.bin`, target: { kind: 'file', path: join(local, 'down-big.bin') }, recursive: false, glob: false, preserve: false, overwrite: 'overwrite', limits: LIMITS })),
        'ours warm': () => ours(false, (ctx) => download(ctx, { remotePath: `${remote.relative}/src/big.bin`, target: { kind: 'file', path: join(local, 'down-big.bin') }, recursive: false, glob: false, preserve: false, overwrite: 'overwrite', limits: LIMITS })),
        'scp -O': () => runScp([...scpArgs(server, true), `${target}:${remote.relative}/src/big.bin`, join(local, 'down-big.bin')]),
        'scp (sftp)': () => runScp([...scpArgs(server, false), `${target}:${remote.relative}/src/big.bin`, join(local, 'down-big.bin')]),
      },
    },
    {
      name: `upload ${SMALL_COUNT} x 4 KiB (dir)`,
      bytes: SMALL_COUNT * SMALL_SIZE,
      run: {
        'ours cold': () => ours(true, (ctx) => upload(ctx, { sources: [{ kind: 'path', path: join(local, 'small') }], remotePath: `${remote.relative}/up-small`, preserve: false, atomic: true, overwrite: 'overwrite' })),
        'ours warm': () => ours(false, (ctx) => upload(ctx, { sources: [{ kind: 'path', path: join(local, 'small') }], remotePath: `${remote.relative}/up-small`, preserve: false, atomic: true, overwrite: 'overwrite' })),
        'scp -O': () => runScp([...scpArgs(server, true), '-r', join(local, 'small'), `${target}:${remote.relative}/up-small`]),
        'scp (sftp)': () => runScp([...scpArgs(server, false), '-r', join(local, 'small'), `${target}:${remote.relative}/up-small`]),
      },
    },
    {
      name: `download ${SMALL_COUNT} x 4 KiB (dir)`,
      bytes: SMALL_COUNT * SMALL_SIZE,
      run: {
        'ours cold': () => ours(true, (ctx) => download(ctx, { remotePath: `${remote.relative}/src/small`, target: { kind: 'directory', path: join(local, 'down-small') }, recursive: true, glob: false, preserve: false, overwrite: 'overwrite', limits: LIMITS })),
        'ours warm': () => ours(false, (ctx) => download(ctx, { remotePath: `${remote.relative}/src/small`, target: { kind: 'directory', path: join(local, 'down-small') }, recursive: true, glob: false, preserve: false, overwrite: 'overwrite', limits: LIMITS })),
        'scp -O': () => runScp([...scpArgs(server, true), '-r', `${target}:${remote.relative}/src/small`, join(local, 'down-small')]),
        'scp (sftp)': () => runScp([...scpArgs(server, false), '-r', `${target}:${remote.relative}/src/small`, join(local, 'down-small')]),
      },
    },
  ];
  await fs.mkdir(join(local, 'down-small'));

  const rows: Row[] = [];
  for (const operation of operations) {
    const row: Row = { name: operation.name, bytes: operation.bytes, results: new Map() };
    for (const tool of TOOLS) {
      await operation.run[tool](); // warm-up (page cache, remote directories), not counted
      const times: number[] = [];
      for (let i = 0; i < RUNS; i += 1) times.push(await timed(operation.run[tool]));
      row.results.set(tool, median(times));
      process.stdout.write(`  ${operation.name.padEnd(28)} ${tool.padEnd(11)} median ${median(times).toFixed(0)} ms  [${times.map((t) => t.toFixed(0)).join(', ')}]\n`);
    }
    rows.push(row);
  }
  await warm.close();

  const downBack = await sha256File(join(local, 'down-big.bin'));
  const original = await sha256File(join(local, 'big.bin'));
  if (downBack !== original) throw new Error('the downloaded 256 MiB file differs from the original');

  console.log('\nMedians (ms; MiB/s for the 256 MiB rows); ratio = ours cold / scp (lower is better)\n');
  const header = ['operation', ...TOOLS, 'ours/scp -O', 'ours/scp(sftp)'];
  const lines = [header];
  for (const row of rows) {
    const cell = (tool: Tool): string => {
      const ms = row.results.get(tool) as number;
      return row.bytes >= 1024 * 1024 ? `${ms.toFixed(0)} (${(row.bytes / 1048576 / (ms / 1000)).toFixed(0)} MiB/s)` : `${ms.toFixed(0)}`;
    };
    const ratio = (other: Tool): string => ((row.results.get('ours cold') as number) / (row.results.get(other) as number)).toFixed(2);
    lines.push([row.name, ...TOOLS.map(cell), ratio('scp -O'), ratio('scp (sftp)')]);
  }
  const widths = header.map((_, column) => Math.max(...lines.map((line) => line[column].length)));
  for (const line of lines) console.log(line.map((text, column) => text.padEnd(widths[column])).join(' | '));

  if (!process.env.BENCH_SKIP_2G) {
    const SIZE = 2 * 1024 * 1024 * 1024;
    console.log('\n2 GiB round trip in a child process (memory)...');
    await fs.rm(join(local, 'big.bin'), { force: true });
    await fs.rm(join(local, 'down-big.bin'), { force: true });
    await runAsUser(server, `rm -rf ${remote.relative}/src ${remote.relative}/up-big.bin`);
    const digest = await makeBigFile(join(local, 'huge.bin'), SIZE);
    for (const transport of ['scp', 'sftp'] as const) {
      const dir = await makeServerDir(server, `bench-2g-${transport}`);
      const back = join(local, 'huge-back.bin');
      const report = await runMemoryChild(server, transport, join(local, 'huge.bin'), dir.relative, back);
      const same = (await sha256File(back)) === digest;
      await fs.rm(back, { force: true });
      await runAsUser(server, `rm -f ${dir.relative}/huge.bin`);
      console.log(
        `  ${transport}: RSS growth ${(report.growth / 1048576).toFixed(1)} MiB (cap ${MEMORY_CAP / 1048576}), up ${(SIZE / 1048576 / (report.upMs / 1000)).toFixed(0)} MiB/s, down ${(SIZE / 1048576 / (report.downMs / 1000)).toFixed(0)} MiB/s, byte-exact ${same}${report.growth < MEMORY_CAP && same ? '' : '  <-- FAILED'}`,
      );
      if (!(report.growth < MEMORY_CAP && same)) process.exitCode = 1;
    }
  }
  await server.stop();
}

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : String(error));
    process.exitCode = 1;
  })
  .finally(() => runCleanupsSync());
