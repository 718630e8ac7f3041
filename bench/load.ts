/**
 * Many messages: a burst fired at once (failures, files/s) and a long run of messages (the Node-RED
 * process's memory after its first tenth and at its end: a leak shows as growth of the heap left after a
 * forced garbage collection; RSS as found also swings with V8's heap sizing).
 */
import { join } from 'node:path';
import { upload } from '../src/transfer';
import { SMALL_SIZE, type BenchConfig } from './config';
import { engineContext } from './contenders/engine';
import type { BenchNodeRed, HeapFigures } from './contenders/node-red';
import { ENDPOINTS } from './flows';
import { rssBytes } from './proc';
import { ENGINE, NODES, NODES_SFTP } from './targets';
import { clearRemote, countRemoteFiles, type Workspace } from './workspace';

export interface BurstResult {
  contender: string;
  failures: number;
  filesPerSecond: number;
  firstFailure?: string;
}

const CONTENT = Buffer.alloc(SMALL_SIZE, 42);

async function fireAtOnce(count: number, send: (i: number) => Promise<void>): Promise<{ failures: number; ms: number; firstFailure?: string }> {
  let failures = 0;
  let firstFailure: string | undefined;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      send(i).catch((error: unknown) => {
        failures += 1;
        firstFailure ??= error instanceof Error ? error.message : String(error);
      }),
    ),
  );
  return { failures, firstFailure, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

/** `count` uploads of 4 KiB at once, through the nodes (HTTP messages) and through the engine alone. */
export async function burst(ws: Workspace, config: BenchConfig, nodeRed: BenchNodeRed, log: (line: string) => void): Promise<BurstResult[]> {
  const dir = `${ws.remote}/burst`;
  const content = CONTENT.toString('base64');
  const engine = engineContext(ws.server);
  const senders: [string, (i: number) => Promise<void>][] = [
    ...(
      [
        [NODES, ENDPOINTS.up],
        [NODES_SFTP, ENDPOINTS.sftpUp],
      ] as const
    ).map(([contender, endpoint]): [string, (i: number) => Promise<void>] => [
      contender,
      async (i) => {
        const answer = await nodeRed.post(endpoint, { content, remotePath: `${dir}/m${i}` });
        if (answer.status !== 200) throw new Error(`${answer.status} ${answer.body}`);
      },
    ]),
    [ENGINE, (i) => upload(engine, { sources: [{ kind: 'buffer', data: CONTENT }], remotePath: `${dir}/m${i}`, preserve: false, atomic: true, overwrite: 'overwrite' }).then(() => undefined)],
  ];
  const results: BurstResult[] = [];
  try {
    for (const [contender, send] of senders) {
      const rates: number[] = [];
      let failures = 0;
      let firstFailure: string | undefined;
      // One message first: every contender starts with its connection up (a long soak may have idled it out).
      await send(-1);
      for (let round = 0; round < config.burstRounds; round += 1) {
        await clearRemote(ws, dir);
        const run = await fireAtOnce(config.burst, send);
        const landed = await countRemoteFiles(ws, dir);
        if (landed !== config.burst - run.failures) throw new Error(`${contender} burst: ${landed} files landed, ${config.burst - run.failures} answered as done`);
        failures += run.failures;
        firstFailure ??= run.firstFailure;
        rates.push(config.burst / (run.ms / 1000));
        log(`  ${config.burst} at once · ${contender}: ${run.failures} failed, ${rates[rates.length - 1].toFixed(0)} files/s`);
      }
      rates.sort((a, b) => a - b);
      results.push({ contender, failures, filesPerSecond: rates[Math.floor(rates.length / 2)], ...(firstFailure ? { firstFailure } : {}) });
    }
  } finally {
    await engine.channels.close();
  }
  return results;
}

export interface SoakResult {
  messages: number;
  /** messages answered when the warm figures were taken (half of them: the warm-up) */
  warmAt: number;
  failures: number;
  /** RSS after the warm-up and after all of the messages, as found (no collection forced) */
  warmRss: number;
  endRss: number;
  /** heap used (Node-RED's thread, the engine worker's when there is one) and RSS after a forced full garbage collection, at the same two points: what a leak grows */
  warmHeap: HeapFigures;
  endHeap: HeapFigures;
}

/** Heap used after the forced collection: Node-RED's thread and, when the probe could read it, the engine's worker. */
export function totalHeap(figures: HeapFigures): number {
  return figures.heapUsed + (figures.engineHeapUsed ?? 0);
}

/**
 * Alternating 4 KiB uploads (from the payload) and downloads (to a file), `soakConcurrency` at a time: the
 * first half (the warm-up: pools, caches and V8's code settle), then (all answered) the warm figures, the
 * rest, the end figures. BENCH_HEAP_SNAPSHOTS=DIR also writes a heap snapshot of Node-RED's thread at both
 * points, to diff by constructor when the heap grew.
 */
export async function soak(ws: Workspace, config: BenchConfig, nodeRed: BenchNodeRed, log: (line: string) => void): Promise<SoakResult> {
  const content = CONTENT.toString('base64');
  let next = 0;
  let failures = 0;
  const message = async (i: number): Promise<void> => {
    const answer =
      i % 2 === 0
        ? await nodeRed.post(ENDPOINTS.up, { content, remotePath: `${ws.remote}/soak/m${i % 100}` })
        : await nodeRed.post(ENDPOINTS.down, { remotePath: ws.tiny.remote, localPath: join(ws.local, 'lat', `soak-${i % 100}`) });
    if (answer.status !== 200) failures += 1;
  };
  const runUntil = async (end: number): Promise<void> => {
    const worker = async (): Promise<void> => {
      while (next < end) {
        const i = next;
        next += 1;
        await message(i).catch(() => (failures += 1));
      }
    };
    await Promise.all(Array.from({ length: config.soakConcurrency }, worker));
  };
  const snapshots = process.env.BENCH_HEAP_SNAPSHOTS;
  const figures = async (name: string): Promise<{ rss: number; heap: HeapFigures }> => {
    const rss = rssBytes(nodeRed.red.pid);
    const heap = await nodeRed.heap();
    if (snapshots) await nodeRed.snapshot(join(snapshots, `soak-${name}.heapsnapshot`));
    return { rss, heap };
  };
  const warmAt = Math.floor(config.soak / 2);
  await runUntil(warmAt);
  const warm = await figures('warm');
  await runUntil(config.soak);
  const end = await figures('end');
  const mib = (bytes: number | undefined): string => (bytes === undefined ? '–' : (bytes / 1048576).toFixed(2));
  log(
    `  ${config.soak} messages: ${failures} failed, RSS ${mib(warm.rss)} → ${mib(end.rss)} MiB; after a forced GC at ${warmAt} and ${config.soak}: ` +
      `heap ${mib(totalHeap(warm.heap))} → ${mib(totalHeap(end.heap))} MiB (Node-RED's thread ${mib(warm.heap.heapUsed)} → ${mib(end.heap.heapUsed)}, ` +
      `engine's worker ${end.heap.engineNote ?? `${mib(warm.heap.engineHeapUsed)} → ${mib(end.heap.engineHeapUsed)}`}), RSS ${mib(warm.heap.rss)} → ${mib(end.heap.rss)} MiB`,
  );
  return { messages: config.soak, warmAt, failures, warmRss: warm.rss, endRss: end.rss, warmHeap: warm.heap, endHeap: end.heap };
}
