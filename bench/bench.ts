/**
 * `npm run bench`: the nodes inside a real Node-RED runtime that has idled, against the engine
 * alone, OpenSSH's scp (default and -O, each with its default cipher and aes128-gcm) and ssh2-sftp-client,
 * on one sshd of the test harness (127.0.0.1, MaxSessions 10 as OpenSSH ships it). Contenders interleaved
 * in rounds, results checked outside the timing. Prints a Markdown table and writes it with an SVG chart to
 * bench/results/ (kept out of git). BENCH_QUICK=1: small sizes, under two minutes. BENCH_ROUNDS=n overrides.
 * No timing is ever asserted in `npm test`.
 */
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { startSshd } from '../test/harness';
import { runCleanupsSync } from '../test/harness/cleanup';
import { latencyCases, bigFileCases, treeCases } from './cases';
import { benchConfig } from './config';
import { engineContender } from './contenders/engine';
import { startBenchNodeRed } from './contenders/node-red';
import { GCM, scpContender } from './contenders/scp';
import { sftpClientContender } from './contenders/sftp-client';
import type { Contender } from './contenders/types';
import { burst, soak } from './load';
import { loadAverage, machine, rssBytes, versions, watchPeakRss } from './proc';
import { renderMarkdown, renderSvg, type BenchReport } from './report';
import { NODES, NODES_SFTP, targets } from './targets';
import { prepareWorkspace } from './workspace';

const ROOT = resolve(__dirname, '..', '..');
const MIB = 1024 * 1024;
const began = Date.now();
const log = (line: string): void => console.log(`${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s ${line}`);
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

async function main(): Promise<void> {
  const config = benchConfig();
  const startedAt = new Date();
  const loadStart = loadAverage();
  const server = await startSshd({ config: ['MaxSessions 10'] });
  log(`${config.mode} bench: sshd on 127.0.0.1:${server.port}; preparing data...`);
  const ws = await prepareWorkspace(server, config);
  const nodeRed = await startBenchNodeRed(server);
  const closers: Contender[] = [];
  try {
    const nodes = nodeRed.contender;
    // One message first (the connection node connects), then Node-RED idles as a long-lived one does.
    await nodes.copy({ direction: 'down', local: join(ws.local, 'first.bin'), remote: ws.tiny.remote, recursive: false });
    log(`Node-RED (pid ${nodeRed.red.pid}) idles ${config.idleMs / 1000} s...`);
    await sleep(config.idleMs);
    const idleRss = rssBytes(nodeRed.red.pid);

    const engine = engineContender(server);
    const sftpClient = await sftpClientContender(server);
    closers.push(engine, sftpClient);
    const scp = scpContender(server, { legacy: false });
    const scpO = scpContender(server, { legacy: true });
    const big = [nodes, engine, scp, scpContender(server, { legacy: false, cipher: GCM }), scpO, scpContender(server, { legacy: true, cipher: GCM }), sftpClient];

    const watch = watchPeakRss(nodeRed.red.pid);
    const [bigUp, bigDown] = await bigFileCases(ws, config, big, log);
    const peakBig = watch.stop();
    const [treeUp, treeDown] = await treeCases(ws, config, [nodes, engine, scpO, scp], log);
    const [latencyUp, latencyDown] = await latencyCases(ws, config, [nodes, nodeRed.sftpContender, engine, scp, scpO], log);
    log(`Node-RED idles ${config.idleMs / 1000} s again...`);
    await sleep(config.idleMs);
    const afterIdle = rssBytes(nodeRed.red.pid);
    // The long run before the burst: a thousand requests at once inflate the heap, which would hide a leak.
    const soakResult = await soak(ws, config, nodeRed, log);
    const bursts = await burst(ws, config, nodeRed, log);

    const burstOf = (contender: string) => bursts.find((b) => b.contender === contender) ?? { failures: Number.NaN, filesPerSecond: Number.NaN };
    const report: BenchReport = {
      title: `Benchmark ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      mode: config.mode,
      startedAt: startedAt.toISOString(),
      machine: machine(),
      loadStart,
      loadEnd: loadAverage(),
      versions: versions(ROOT),
      rounds: config.rounds,
      cases: [bigUp, bigDown, treeUp, treeDown, latencyUp, latencyDown],
      targets: targets({
        bigUp,
        bigDown,
        treeUp,
        treeDown,
        latencyUp,
        latencyDown,
        burst: burstOf(NODES),
        burstSftp: burstOf(NODES_SFTP),
        rss: { idle: idleRss, peakBig, afterIdle, soakWarm: soakResult.warmHeap.rss, soakEnd: soakResult.endHeap.rss },
        soakHeap: { warm: soakResult.warmHeap.heapUsed, end: soakResult.endHeap.heapUsed },
        soakAllowance: 8 * MIB,
        soakHeapAllowance: 1 * MIB,
      }),
      facts: [
        ['Node-RED RSS at idle (baseline)', `${(idleRss / MIB).toFixed(1)} MiB`],
        ['peak RSS while the big files moved (all contenders interleaved)', `${(peakBig / MIB).toFixed(1)} MiB`],
        [`RSS after the copy cases and ${config.idleMs / 1000} s of idling`, `${(afterIdle / MIB).toFixed(1)} MiB`],
        ...bursts.map((b): [string, string] => [
          `${config.burst} × 4 KiB uploads at once, ${b.contender} (median of ${config.burstRounds})`,
          `${b.filesPerSecond.toFixed(0)} files/s, ${b.failures} failed${b.firstFailure ? ` (first: ${b.firstFailure.slice(0, 120)})` : ''}`,
        ]),
        [
          `${soakResult.messages} messages (up/down 4 KiB, ${config.soakConcurrency} at a time)`,
          `${soakResult.failures} failed; after the first tenth and at the end: RSS as found ${(soakResult.warmRss / MIB).toFixed(1)} → ${(soakResult.endRss / MIB).toFixed(1)} MiB; ` +
            `after a forced GC, heap used ${(soakResult.warmHeap.heapUsed / MIB).toFixed(1)} → ${(soakResult.endHeap.heapUsed / MIB).toFixed(1)} MiB (allowance 1 MiB), ` +
            `RSS ${(soakResult.warmHeap.rss / MIB).toFixed(1)} → ${(soakResult.endHeap.rss / MIB).toFixed(1)} MiB (allowance 8 MiB)`,
        ],
      ],
    };
    const markdown = renderMarkdown(report);
    const dir = join(ROOT, 'bench', 'results');
    await fs.mkdir(dir, { recursive: true });
    const stamp = `${startedAt.toISOString().replace(/[:.]/g, '-')}-${config.mode}`;
    await fs.writeFile(join(dir, `${stamp}.md`), `${markdown}\n![chart](${stamp}.svg)\n`);
    await fs.writeFile(join(dir, `${stamp}.svg`), renderSvg(report));
    console.log(`\n${markdown}`);
    log(`written: bench/results/${stamp}.md and .svg (${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s)`);
  } finally {
    for (const contender of closers) await contender.close?.().catch(() => undefined);
    await nodeRed.red.stop();
    await server.stop();
  }
}

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : String(error));
    process.exitCode = 1;
  })
  .finally(() => runCleanupsSync());
