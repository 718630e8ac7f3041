/**
 * `npm run bench`: the nodes inside a real Node-RED runtime that has idled, against the engine alone,
 * OpenSSH's scp (default and -O, each with its default cipher and aes128-gcm; and `scp -O` run by Node-RED's
 * exec node) and ssh2-sftp-client, on one sshd of the test harness (127.0.0.1, MaxSessions 10 as OpenSSH
 * ships it). Contenders interleaved in rounds, results checked outside the timing; an `http in` endpoint of
 * the same Node-RED pinged while it idles and during its big copies. Prints a Markdown table and writes it
 * with an SVG chart to bench/results/ (kept out of git). BENCH_QUICK=1: small sizes, under two minutes.
 * BENCH_ROUNDS=n overrides the rounds; BENCH_CASES=ping,latency,... runs only those parts (bench/config.ts).
 * No timing is ever asserted in `npm test`.
 */
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { startSshd, type SshdServer } from '../test/harness';
import { runCleanupsSync } from '../test/harness/cleanup';
import { latencyCases, bigFileCases, treeCases } from './cases';
import { benchConfig, type BenchConfig, type CaseName } from './config';
import { engineContender } from './contenders/engine';
import { startBenchNodeRed, type BenchNodeRed } from './contenders/node-red';
import { GCM, scpContender } from './contenders/scp';
import { sftpClientContender } from './contenders/sftp-client';
import type { Contender } from './contenders/types';
import { burst, soak, totalHeap, type BurstResult } from './load';
import { PingCollector, pingIdle } from './ping';
import { cpuSeconds, loadAverage, machine, rssBytes, versions, watchPeakRss } from './proc';
import { renderMarkdown, renderSvg, type BenchReport, type CaseResult } from './report';
import { percentile } from './stats';
import { EXEC_SCP_O, NODES, NODES_SFTP, targets, type Measured } from './targets';
import { prepareWorkspace, type Workspace } from './workspace';

const ROOT = resolve(__dirname, '..', '..');
const MIB = 1024 * 1024;
const began = Date.now();
const log = (line: string): void => console.log(`${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s ${line}`);
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;
const load = (values: number[]): string => values.map((v) => v.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const config = benchConfig();
  const has = (name: CaseName): boolean => config.cases.has(name);
  const startedAt = new Date();
  const loadStart = loadAverage();
  log(`load average (1/5/15 min) at start: ${load(loadStart)}`);
  const server = await startSshd({ config: ['MaxSessions 10'] });
  log(`${config.mode} bench (${[...config.cases].join(', ')}): sshd on 127.0.0.1:${server.port}; preparing data...`);
  const ws = await prepareWorkspace(server, config);
  const nodeRed = await startBenchNodeRed(server);
  const closers: Contender[] = [];
  try {
    const nodes = nodeRed.contender;
    const pid = nodeRed.red.pid;
    // One message first (the connection node connects), then Node-RED idles as a long-lived one does.
    await nodes.copy({ direction: 'down', local: join(ws.local, 'first.bin'), remote: ws.tiny.remote, recursive: false });
    const pingIdleMs = has('ping') ? Math.min(config.pingIdleMs, config.idleMs) : 0;
    log(`Node-RED (pid ${pid}) idles ${config.idleMs / 1000} s${pingIdleMs ? `, pinged every ${config.pingEveryMs} ms for the last ${pingIdleMs / 1000} s` : ''}...`);
    await sleep(config.idleMs - pingIdleMs);
    const idlePing = pingIdleMs ? await pingIdle(nodeRed.red.url, config.pingEveryMs, pingIdleMs, () => cpuSeconds(pid)) : undefined;
    if (idlePing) log(`  idle: ping p50 ${percentile(idlePing.run.rttsMs, 50).toFixed(2)} ms, p99 ${percentile(idlePing.run.rttsMs, 99).toFixed(2)} ms (${idlePing.run.rttsMs.length} pings)`);
    const idleRss = rssBytes(pid);
    const measured: Measured = { rss: { idle: idleRss } };
    const rss = measured.rss as NonNullable<Measured['rss']>;
    const facts: [string, string][] = [['Node-RED RSS at idle (baseline)', mib(idleRss)]];
    const cases: CaseResult[] = [];

    const engine = engineContender(server);
    closers.push(engine);
    const scp = scpContender(server, { legacy: false });
    const scpO = scpContender(server, { legacy: true });
    if (has('big') || has('ping')) {
      const collector = new PingCollector(nodeRed.red.url, config.pingEveryMs, config.bigBytes);
      const pinged = (contender: Contender): Contender => (has('ping') ? collector.pinged(contender) : contender);
      const big = [pinged(nodes), ...(has('ping') ? [pinged(nodeRed.sftpContender), pinged(nodeRed.execContender)] : [])];
      if (has('big')) {
        const sftpClient = await sftpClientContender(server);
        closers.push(sftpClient);
        big.push(engine, scp, scpContender(server, { legacy: false, cipher: GCM }), scpO, scpContender(server, { legacy: true, cipher: GCM }), sftpClient);
      }
      const watch = watchPeakRss(pid);
      const [bigUp, bigDown] = await bigFileCases(ws, config, big, log);
      rss.peakBig = watch.stop();
      facts.push([`peak RSS while the big files moved (Node-RED process, all threads; ${big.length} contenders interleaved)`, mib(rss.peakBig)]);
      cases.push(bigUp, bigDown);
      if (has('big')) Object.assign(measured, { bigUp, bigDown });
      if (idlePing) {
        const { run } = idlePing;
        measured.ping = {
          everyMs: config.pingEveryMs,
          bytes: config.bigBytes,
          idle: { ms: idlePing.ms, pingsMs: run.rttsMs, failures: run.failures, ...(run.firstFailure ? { firstFailure: run.firstFailure } : {}), nodeRedCpuSeconds: idlePing.cpuSeconds },
          rows: collector.result([NODES, NODES_SFTP, EXEC_SCP_O]),
        };
        const perPing = idlePing.run.rttsMs.length ? (idlePing.cpuSeconds / idlePing.run.rttsMs.length) * 1000 : Number.NaN;
        facts.push([
          'Node-RED CPU while it only answered the pings (idle)',
          `${((idlePing.cpuSeconds / idlePing.ms) * 1e6).toFixed(1)} ms per second, ${perPing.toFixed(2)} ms per ping; the CPU of every pinged copy includes answering its pings`,
        ]);
      }
    }
    if (has('tree')) {
      const [treeUp, treeDown] = await treeCases(ws, config, [nodes, engine, scpO, scp], log);
      cases.push(treeUp, treeDown);
      Object.assign(measured, { treeUp, treeDown });
    }
    if (has('latency') || has('inline')) {
      const [latencyUp, latencyDown] = await latency(has('latency'), has('inline'), { ws, server, config, nodeRed, engine, scp, scpO });
      cases.push(latencyUp, latencyDown);
      if (has('latency')) Object.assign(measured, { latencyUp, latencyDown });
      if (has('inline')) Object.assign(measured, { inlineUp: latencyUp, inlineDown: latencyDown });
    }
    if (cases.length) {
      log(`Node-RED idles ${config.idleMs / 1000} s again...`);
      await sleep(config.idleMs);
      rss.afterIdle = rssBytes(pid);
      facts.push([`RSS after the copy cases and ${config.idleMs / 1000} s of idling`, mib(rss.afterIdle)]);
    }
    // The long run before the burst: a thousand requests at once inflate the heap, which would hide a leak.
    if (has('soak')) {
      const result = await soak(ws, config, nodeRed, log);
      const { warmHeap, endHeap } = result;
      const engineHeap = warmHeap.engineHeapUsed !== undefined && endHeap.engineHeapUsed !== undefined;
      const heapOf = (figures: typeof warmHeap): number => (engineHeap ? totalHeap(figures) : figures.heapUsed);
      measured.soak = {
        warmAt: result.warmAt,
        endAt: result.messages,
        heapWarm: heapOf(warmHeap),
        heapEnd: heapOf(endHeap),
        engineHeap,
        rssWarm: warmHeap.rss,
        rssEnd: endHeap.rss,
        heapAllowance: 1 * MIB,
        rssAllowance: 8 * MIB,
      };
      facts.push(
        [
          `${result.messages} messages (up/down 4 KiB, ${config.soakConcurrency} at a time)`,
          `${result.failures} failed; after message ${result.warmAt} and at the end: RSS as found ${mib(result.warmRss)} → ${mib(result.endRss)}; ` +
            `after a forced GC, heap used ${mib(heapOf(warmHeap))} → ${mib(heapOf(endHeap))} (allowance 1 MiB), RSS ${mib(warmHeap.rss)} → ${mib(endHeap.rss)} (allowance 8 MiB)`,
        ],
        [
          'heap used after a forced GC, by thread',
          `Node-RED's thread ${mib(warmHeap.heapUsed)} → ${mib(endHeap.heapUsed)}; ` +
            (engineHeap ? `the engine's worker ${mib(warmHeap.engineHeapUsed as number)} → ${mib(endHeap.engineHeapUsed as number)}` : (endHeap.engineNote ?? warmHeap.engineNote ?? 'engine heap: not available')),
        ],
      );
    }
    if (has('burst')) {
      const bursts = await burst(ws, config, nodeRed, log);
      const burstOf = (contender: string): BurstResult => bursts.find((b) => b.contender === contender) ?? { contender, failures: Number.NaN, filesPerSecond: Number.NaN };
      measured.burst = { auto: burstOf(NODES), sftp: burstOf(NODES_SFTP) };
      facts.push(
        ...bursts.map((b): [string, string] => [
          `${config.burst} × 4 KiB uploads at once, ${b.contender} (median of ${config.burstRounds})`,
          `${b.filesPerSecond.toFixed(0)} files/s, ${b.failures} failed${b.firstFailure ? ` (first: ${b.firstFailure.slice(0, 120)})` : ''}`,
        ]),
      );
    }

    const loadEnd = loadAverage();
    const report: BenchReport = {
      title: `Benchmark ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      mode: config.mode,
      startedAt: startedAt.toISOString(),
      machine: machine(),
      loadStart,
      loadEnd,
      versions: versions(ROOT),
      rounds: config.rounds,
      cases,
      targets: targets(measured),
      ...(measured.ping ? { ping: measured.ping } : {}),
      facts,
    };
    const markdown = renderMarkdown(report);
    const dir = join(ROOT, 'bench', 'results');
    await fs.mkdir(dir, { recursive: true });
    const stamp = `${startedAt.toISOString().replace(/[:.]/g, '-')}-${config.mode}`;
    await fs.writeFile(join(dir, `${stamp}.md`), `${markdown}\n![chart](${stamp}.svg)\n`);
    await fs.writeFile(join(dir, `${stamp}.svg`), renderSvg(report));
    console.log(`\n${markdown}`);
    log(`load average (1/5/15 min) at end: ${load(loadEnd)}`);
    log(`written: bench/results/${stamp}.md and .svg (${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s)`);
  } finally {
    for (const contender of closers) await contender.close?.().catch(() => undefined);
    await nodeRed.red.stop();
    await server.stop();
  }
}

interface LatencyParts {
  ws: Workspace;
  server: SshdServer;
  config: BenchConfig;
  nodeRed: BenchNodeRed;
  engine: Contender;
  scp: Contender;
  scpO: Contender;
}

/**
 * One 4 KiB message at a time. With `inline`, a second Node-RED (NODE_RED_SCP_ENGINE=inline: the engine on
 * Node-RED's own thread) runs only for this case, its nodes interleaved with the others': what the engine's
 * worker costs per message.
 */
async function latency(full: boolean, inline: boolean, parts: LatencyParts): Promise<CaseResult[]> {
  const { ws, server, nodeRed } = parts;
  const contenders = full ? [nodeRed.contender, nodeRed.sftpContender, parts.engine, parts.scp, parts.scpO] : [nodeRed.contender];
  const second = inline ? await startBenchNodeRed(server, { engineInline: true }) : undefined;
  try {
    if (second) {
      log(`a second Node-RED (pid ${second.red.pid}) with NODE_RED_SCP_ENGINE=inline for the one-message case`);
      contenders.push(second.contender);
    }
    return await latencyCases(ws, parts.config, contenders, log);
  } finally {
    await second?.red.stop();
  }
}

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : String(error));
    process.exitCode = 1;
  })
  .finally(() => runCleanupsSync());
