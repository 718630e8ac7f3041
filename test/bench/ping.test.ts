/**
 * The bench's ping case and its targets on fixed numbers (no timing asserted): percentiles, the ping and
 * per-message targets, the stretch goal, the ping table, picking parts with BENCH_CASES, the exec node's
 * result function of the bench flow, and the pinger against a local HTTP server driven by request counts.
 */
import { strict as assert } from 'assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { benchConfig, parseCases } from '../../bench/config';
import type { Contender } from '../../bench/contenders/types';
import { ENDPOINTS, benchFlow } from '../../bench/flows';
import { PING_PATH, PingCollector } from '../../bench/ping';
import { fmt, isMet, pingTable, renderMarkdown, verdict, type BenchReport, type CaseResult, type PingReport, type PingRow, type TargetResult } from '../../bench/report';
import { percentile } from '../../bench/stats';
import { EXEC_SCP_O, NODES, NODES_INLINE, NODES_SFTP, SCP, pingTargets, targets } from '../../bench/targets';
import type { SshdServer } from '../../test/harness';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** 1..n ms, shuffled (percentiles must not depend on the order pings came back in) */
function spread(n: number, scale = 1): number[] {
  return Array.from({ length: n }, (_, i) => ((i * 37) % n) + 1).map((v) => v * scale);
}

function row(contender: string, direction: 'up' | 'down', pingsMs: number[]): PingRow {
  return { contender, direction, pingsMs, failures: 0, copyMs: [4000, 5000, 6000], nodeRedCpuPerGiB: [2, 3, 4] };
}

function pingReport(): PingReport {
  return {
    everyMs: 20,
    bytes: GIB,
    // p50 5 ms, p99 (1,000 values) 9.9 ms
    idle: { ms: 30_000, pingsMs: spread(1000, 0.01), failures: 0, nodeRedCpuSeconds: 0.3 },
    rows: [
      row(NODES, 'up', spread(1000, 0.03)), // p50 15, p99 29.7
      row(NODES_SFTP, 'up', spread(1000, 0.003)), // p50 1.5, p99 2.97
      row(EXEC_SCP_O, 'up', spread(1000, 0.02)), // p50 10, p99 19.8
      row(NODES, 'down', spread(100, 0.04)), // p50 2, p99 3.96
      row(EXEC_SCP_O, 'down', spread(100, 0.04)), // p99 3.96: equal counts as met
    ],
  };
}

function find(list: TargetResult[], label: string): TargetResult {
  const target = list.find((t) => t.label === label);
  assert.ok(target, `no target "${label}" in ${list.map((t) => t.label).join(' / ')}`);
  return target;
}

describe('bench: percentiles', () => {
  it('nearest rank: an actual sample, the order of the samples does not matter', () => {
    assert.equal(percentile([4, 1, 3, 2], 50), 2);
    assert.equal(percentile([5, 1, 3], 50), 3);
    assert.equal(percentile(spread(1000), 99), 990);
    assert.equal(percentile(spread(1000), 100), 1000);
    assert.equal(percentile(spread(100), 99), 99);
    assert.equal(percentile([7], 99), 7);
    assert.equal(percentile([7, 3], 0), 3);
    assert.ok(Number.isNaN(percentile([], 50)));
    assert.ok(Number.isNaN(percentile([1, 2], 101)));
  });
});

describe('bench: the ping targets', () => {
  it('p50 against the idle p50 (at most 2×) and p99 against the exec node in the same direction (at most 1×)', () => {
    const list = pingTargets(pingReport());
    assert.equal(list.length, 8);
    const upAutoP50 = find(list, 'ping during the big upload, nodes with transport auto: p50 ÷ idle p50');
    assert.ok(Math.abs(upAutoP50.measured - 15 / 5) < 1e-9);
    assert.equal(verdict(upAutoP50), 'MISSED (50% short)');
    const upAutoP99 = find(list, "ping during the big upload, nodes with transport auto: p99 ÷ the exec node's p99 (`scp -O`, same direction)");
    assert.ok(Math.abs(upAutoP99.measured - 29.7 / 19.8) < 1e-9);
    assert.ok(!isMet(upAutoP99));
    assert.ok(isMet(find(list, 'ping during the big upload, nodes with transport sftp: p50 ÷ idle p50')));
    assert.ok(isMet(find(list, "ping during the big upload, nodes with transport sftp: p99 ÷ the exec node's p99 (`scp -O`, same direction)")));
    const downP99 = find(list, "ping during the big download, nodes with transport auto: p99 ÷ the exec node's p99 (`scp -O`, same direction)");
    assert.equal(downP99.measured, 1);
    assert.ok(isMet(downP99));
    // no sftp download row: not measured, never met
    assert.equal(verdict(find(list, 'ping during the big download, nodes with transport sftp: p50 ÷ idle p50')), 'not measured');
  });

  it('the per-message cost of the worker: its median minus the inline engine\'s, at most 0.3 ms', () => {
    const latency = (worker: number, inline: number): CaseResult => ({
      title: 'one message',
      reference: NODES,
      rows: [
        { contender: NODES, samplesMs: [worker, worker + 1, worker - 1] },
        { contender: NODES_INLINE, samplesMs: [inline] },
        { contender: SCP, samplesMs: [300] },
      ],
    });
    const list = targets({ inlineUp: latency(10.2, 10), inlineDown: latency(11, 10.5) });
    assert.equal(list.length, 2);
    const up = find(list, "one message upload, transport auto: engine in its worker − engine on Node-RED's thread (medians)");
    assert.ok(Math.abs(up.measured - 0.2) < 1e-9);
    assert.ok(isMet(up));
    assert.equal(up.unit, 'ms');
    assert.ok(!isMet(find(list, "one message download, transport auto: engine in its worker − engine on Node-RED's thread (medians)")));
  });

  it('only the parts that ran add targets; without the engine heap the heap label says so', () => {
    const list = targets({
      ping: pingReport(),
      soak: { warmAt: 150, endAt: 300, heapWarm: 40 * MIB, heapEnd: 40.5 * MIB, engineHeap: false, rssWarm: 1, rssEnd: 1, heapAllowance: MIB, rssAllowance: 8 * MIB },
    });
    assert.equal(list.length, 8 + 2);
    const heap = find(list, "heap growth after warm-up (messages 150 to 300; Node-RED's thread only, engine heap: not available; after a forced GC)");
    assert.equal(heap.measured, 0.5);
    assert.ok(isMet(heap));
    assert.deepEqual(targets({}), []);
  });
});

describe('bench: the ping table and the stretch goal', () => {
  it('one row for idle and one per contender and direction: copies, copy time, Node-RED CPU, pings, p50, p99', () => {
    const text = pingTable(pingReport()).join('\n');
    assert.match(text, /### Ping of an `http in` endpoint every 20 ms, while Node-RED idles \(30 s\) and during each big copy/);
    assert.match(text, /\| what runs \| copies \| copy time \(median\) \| Node-RED CPU s\/GiB \(all threads\) \| pings \| failed \| ping p50 \| ping p99 \|/);
    assert.match(text, /\| nothing \(idle\) \| – \| – \| – \| 1000 \| 0 \| 5\.0 ms \| 9\.9 ms \|/);
    assert.match(text, /\| upload 1 GiB: Node-RED nodes \(auto\) \| 3 \| 5000 ms \| 3\.00 \| 1000 \| 0 \| 15\.0 ms \| 29\.7 ms \|/);
    assert.match(text, /\| download 1 GiB: scp -O by the exec node \| 3 \| 5000 ms \| 3\.00 \| 100 \| 0 \| 2\.0 ms \| 4\.0 ms \|/);
    assert.ok(!/NaN|undefined/.test(text));
  });

  it('a stretch goal shows beside the goal and in the verdict, and decides nothing', () => {
    const report: BenchReport = {
      title: 't',
      mode: 'quick',
      startedAt: '2026-12-01T20:00:00.000Z',
      machine: 'm',
      loadStart: [1, 1, 1],
      loadEnd: [1, 1, 1],
      versions: {},
      rounds: 1,
      cases: [],
      targets: [{ label: 'big file download: x', goal: { op: '>=', value: 1 }, stretch: 1.2, measured: 1.1, unit: '×' }],
      ping: pingReport(),
      facts: [],
    };
    const text = renderMarkdown(report);
    assert.match(text, /\| big file download: x \| >= 1\.00 × \(stretch 1\.20 ×\) \| 1\.10 × \| met \(10% margin\); stretch not reached \|/);
    assert.match(text, /### Ping of an `http in` endpoint/);
  });
});

describe('bench: numbers in the tables', () => {
  it('a tiny negative figure reads 0.00, not -0.00; others keep their sign', () => {
    assert.equal(fmt(-0.001), '0.00');
    assert.equal(fmt(-0.01), '-0.01');
    assert.equal(fmt(-3.625), '-3.63');
    assert.equal(fmt(0.004, 1), '0.0');
  });
});

describe('bench: picking parts (BENCH_CASES)', () => {
  it('all parts by default, a comma-separated subset, and a typo refused', () => {
    assert.equal(parseCases(undefined).size, 7);
    assert.deepEqual([...parseCases(' ping, latency ')], ['ping', 'latency']);
    assert.throws(() => parseCases('pign'), /BENCH_CASES: unknown case pign; known: big, ping, tree, latency, inline, soak, burst/);
    assert.throws(() => parseCases(','), /unknown case \(none\)/);
    const full = benchConfig({});
    assert.deepEqual([full.pingEveryMs, full.pingIdleMs, full.soak], [20, 30_000, 10_000]);
    assert.deepEqual([...benchConfig({ BENCH_CASES: 'inline', BENCH_QUICK: '1' }).cases], ['inline']);
  });
});

const FAKE_SERVER = {
  host: '127.0.0.1',
  port: 2222,
  username: 'bench',
  hostKeyFingerprints: ['SHA256:x'],
  clientKey: 'KEY',
  clientKeyPath: "/tmp/it's key",
} as unknown as SshdServer;

describe('bench: the flow of the exec node and the ping endpoint', () => {
  const flow = benchFlow(FAKE_SERVER) as { type: string; name?: string; func?: string; command?: string; url?: string; method?: string }[];
  const run = (func: string, msg: Record<string, unknown>): Record<string, unknown> => new Function('msg', func)(msg) as Record<string, unknown>;

  it('runs OpenSSH scp -O under /usr/bin/time, every word shell-quoted', () => {
    const exec = flow.find((n) => n.type === 'exec');
    assert.ok(exec?.command);
    assert.ok(exec.command.startsWith("'/usr/bin/time' '-f' 'BENCH_CPU %U %S' 'scp' '-O' "), exec.command);
    assert.ok(exec.command.includes("'-i' '/tmp/it'\\''s key' '-P' '2222'"), exec.command);
    assert.ok(flow.some((n) => n.type === 'http in' && n.url === ENDPOINTS.exec && n.method === 'post'));
    assert.ok(flow.some((n) => n.type === 'http in' && n.url === PING_PATH && n.method === 'get'));
  });

  it("answers with scp's CPU seconds, or a 500 that carries what scp said", () => {
    const func = flow.find((n) => n.name === 'exec result')?.func;
    assert.ok(func);
    assert.deepEqual(run(func, { payload: 'BENCH_CPU 1.50 0.25\n', rc: { code: 0 } }).payload, { cpuSeconds: 1.75 });
    assert.deepEqual(run(func, { payload: '', rc: { code: 0 } }).payload, { cpuSeconds: null });
    const failed = run(func, { payload: 'scp: no such file\nBENCH_CPU 0.01 0.00\n', rc: { code: 1 } });
    assert.equal(failed.statusCode, 500);
    assert.deepEqual(failed.payload, { code: 1, message: 'scp: no such file\nBENCH_CPU 0.01 0.00\n' });
  });
});

describe('bench: the pinger', () => {
  let server: http.Server;
  let baseUrl: string;
  let answered = 0;
  let waiting: { count: number; done: () => void } | undefined;
  /** the request numbers (1-based) answered with 503 */
  const failOn = new Set<number>();

  before(async () => {
    server = http.createServer((request, response) => {
      answered += 1;
      response.statusCode = request.url === PING_PATH && !failOn.has(answered) ? 200 : 503;
      response.end('{}');
      if (waiting && answered >= waiting.count) waiting.done();
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((done) => server.close(() => done())));

  /** a copy that ends once the server has answered `count` more pings */
  const contender = (name: string, count: number): Contender => ({
    name,
    recursive: false,
    copy: () =>
      new Promise((done) => {
        waiting = { count: answered + count, done: () => done({ ms: 1000, nodeRedCpuSeconds: 2 }) };
      }),
  });

  it('pools the pings of each copy per contender and direction; a failed ping is counted, not timed', async () => {
    answered = 0;
    failOn.clear();
    failOn.add(2);
    const collector = new PingCollector(baseUrl, 5, GIB / 2);
    const nodes = collector.pinged(contender(NODES, 3));
    await nodes.copy({ direction: 'up', local: '/a', remote: 'b', recursive: false });
    await nodes.copy({ direction: 'up', local: '/a', remote: 'b', recursive: false });
    await collector.pinged(contender(EXEC_SCP_O, 2)).copy({ direction: 'down', local: '/a', remote: 'b', recursive: false });
    const rows = collector.result([NODES, EXEC_SCP_O]);
    assert.deepEqual(
      rows.map((r) => [r.contender, r.direction, r.copyMs, r.nodeRedCpuPerGiB, r.failures]),
      [
        [NODES, 'up', [1000, 1000], [4, 4], 1],
        [EXEC_SCP_O, 'down', [1000], [4], 0],
      ],
    );
    // every ping sent was answered before stop() returned: timed ones plus the one that failed
    const timed = rows[0].pingsMs.length + rows[1].pingsMs.length;
    assert.equal(timed + 1, answered);
    assert.ok(rows[0].pingsMs.length >= 5 && rows[1].pingsMs.length >= 2);
    assert.ok(rows.every((r) => r.pingsMs.every((ms) => ms > 0)));
    assert.match(String(rows[0].firstFailure), /GET \/scp-bench-ping: 503/);
  });

  it('a copy that fails ends its pinger and adds no row', async () => {
    const collector = new PingCollector(baseUrl, 5, GIB);
    const failing: Contender = { name: NODES, recursive: false, copy: () => Promise.reject(new Error('copy failed')) };
    await assert.rejects(collector.pinged(failing).copy({ direction: 'up', local: '/a', remote: 'b', recursive: false }), /copy failed/);
    assert.deepEqual(collector.result([NODES]), []);
  });
});
