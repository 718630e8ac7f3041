/**
 * The benchmark's pure parts on fixed numbers (no timing, no servers): statistics, ratios,
 * the performance targets, the Markdown table and the SVG chart. Keeps `npm run bench` from rotting between runs.
 */
import { strict as assert } from 'assert';
import { benchConfig } from '../../bench/config';
import { isMet, renderMarkdown, renderSvg, speedRatio, verdict, type BenchReport, type CaseResult } from '../../bench/report';
import { median, rotate, summarize } from '../../bench/stats';
import { ENGINE, NODES, NODES_SFTP, SCP, SCP_O, SCP_O_GCM, SFTP_CLIENT, targets, type Measured } from '../../bench/targets';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

function bigCase(title: string): CaseResult {
  return {
    title,
    bytes: GIB,
    reference: NODES,
    rows: [
      { contender: NODES, samplesMs: [5000, 4000, 6000], cpuPerGiB: [4, 5, 6] },
      { contender: ENGINE, samplesMs: [4500, 4500, 4500], cpuPerGiB: [3, 3, 3] },
      { contender: SCP, samplesMs: [8000, 7000, 9000], cpuPerGiB: [6, 6, 6] },
      { contender: SCP_O_GCM, samplesMs: [4000, 4000, 4000], cpuPerGiB: [4, 4, 4] },
      { contender: SFTP_CLIENT, samplesMs: [10000, 10000, 10000], cpuPerGiB: [7, 7, 7] },
    ],
  };
}

function timeCase(title: string, nodesMs: number, otherName: string, otherMs: number): CaseResult {
  return { title, reference: NODES, rows: [{ contender: NODES, samplesMs: [nodesMs] }, { contender: otherName, samplesMs: [otherMs] }] };
}

function measured(): Measured {
  const latencyUp = timeCase('latency up', 10, SCP, 320);
  latencyUp.rows.push({ contender: NODES_SFTP, samplesMs: [8] });
  return {
    bigUp: bigCase('upload <1 GiB>'),
    bigDown: bigCase('download 1 GiB'),
    treeUp: timeCase('tree up', 900, SCP_O, 1000),
    treeDown: timeCase('tree down', 1500, SCP_O, 1000),
    latencyUp,
    latencyDown: timeCase('latency down', 20, SCP, 320),
    burst: { auto: { failures: 0, filesPerSecond: 124 }, sftp: { failures: 2, filesPerSecond: 600 } },
    rss: { idle: 100 * MIB, peakBig: 150 * MIB, afterIdle: 180 * MIB },
    soak: { warmAt: 5000, endAt: 10_000, heapWarm: 40 * MIB, heapEnd: 42 * MIB, engineHeap: true, rssWarm: 120 * MIB, rssEnd: 124 * MIB, heapAllowance: 1 * MIB, rssAllowance: 8 * MIB },
  };
}

describe('bench: statistics', () => {
  it('median of odd and even counts, spread, and the interleaving order', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
    assert.deepEqual(summarize([5, 1, 9]), { median: 5, min: 1, max: 9, count: 3 });
    assert.deepEqual(rotate(['a', 'b', 'c'], 0), ['a', 'b', 'c']);
    assert.deepEqual(rotate(['a', 'b', 'c'], 4), ['b', 'c', 'a']);
  });
});

describe('bench: the performance targets', () => {
  it('turns medians into the ratios the targets name, met or missed', () => {
    const list = targets(measured());
    const find = (label: string) => {
      const target = list.find((t) => t.label === label);
      assert.ok(target, `no target "${label}" in ${list.map((t) => t.label).join(' / ')}`);
      return target;
    };
    const vsScp = find('big file upload: nodes (transport auto) vs `scp` (defaults)');
    assert.equal(vsScp.measured, 8000 / 5000);
    assert.ok(isMet(vsScp));
    assert.equal(verdict(vsScp), 'met (33% margin)');
    // download against scp's defaults: 1.0, with 1.2 as a stretch shown beside it
    const downVsScp = find('big file download: nodes (transport auto) vs `scp` (defaults)');
    assert.deepEqual([downVsScp.goal, downVsScp.stretch], [{ op: '>=', value: 1 }, 1.2]);
    assert.equal(verdict(downVsScp), 'met (60% margin); stretch met');
    assert.equal(find('big file upload: nodes (transport auto) vs `scp -O -c aes128-gcm`').goal.value, 0.9);
    assert.equal(find('big file download: nodes (transport auto) vs `scp -O -c aes128-gcm`').goal.value, 0.7);
    assert.equal(find('big file download: nodes (transport auto) vs the engine alone').measured, 4500 / 5000);
    assert.equal(find('big file upload: nodes (transport auto) vs ssh2-sftp-client').measured, 2);
    const cpu = find("big file upload: Node-RED CPU s/GiB (all threads) ÷ the `scp -O -c aes128-gcm` client's (scp and its ssh)");
    assert.equal(cpu.measured, 5 / 4);
    assert.equal(cpu.goal.value, 1.5);
    assert.ok(isMet(cpu));
    const treeDown = find("recursive download: nodes' (transport auto) time ÷ `scp -r -O`'s");
    assert.equal(treeDown.measured, 1.5);
    assert.equal(verdict(treeDown), 'MISSED (50% short)');
    assert.equal(find('one message upload: nodes, transport auto (warm) vs a cold `scp`').measured, 32);
    assert.ok(!isMet(find('one message download: nodes, transport auto (warm) vs a cold `scp`')));
    assert.equal(verdict(find('burst of messages at once, transport auto: failures')), 'met');
    assert.equal(verdict(find('burst of messages at once, transport auto: files/s')), 'MISSED (75% short)');
    assert.equal(find('RSS growth above idle while moving the big files (Node-RED process, all threads)').measured, 50);
    assert.ok(!isMet(find('RSS growth above idle after the copy cases and idling')));
    assert.ok(isMet(find('RSS growth after warm-up (messages 5,000 to 10,000; after a forced GC)')));
    const heap = find("heap growth after warm-up (messages 5,000 to 10,000; Node-RED's thread + the engine's worker; after a forced GC)");
    assert.equal(heap.measured, 2);
    assert.ok(!isMet(heap));
    assert.equal(find('one message upload: nodes, transport sftp (warm) vs a cold `scp`').measured, 40);
    assert.equal(verdict(find('one message download: nodes, transport sftp (warm) vs a cold `scp`')), 'not measured');
    assert.equal(verdict(find('burst of messages at once, transport sftp: files/s')), 'met (20% margin)');
    assert.ok(!isMet(find('burst of messages at once, transport sftp: failures')));
    assert.equal(list.length, 24);
  });

  it('a contender that did not run is "not measured", never met', () => {
    const result = bigCase('x');
    const missing = { label: 'x', goal: { op: '>=' as const, value: 1 }, measured: speedRatio(result, NODES, 'absent'), unit: '×' };
    assert.ok(!isMet(missing));
    assert.equal(verdict(missing), 'not measured');
  });
});

function report(): BenchReport {
  const m = measured();
  return {
    title: 'Benchmark test',
    mode: 'full',
    startedAt: '2026-12-01T20:00:00.000Z',
    machine: '2 cores (Test CPU), Linux',
    loadStart: [0.5, 0.25, 1],
    loadEnd: [1.25, 0.75, 1],
    versions: { 'Node.js': 'v20.0.0', OpenSSH: 'OpenSSH_9.2p1' },
    rounds: 3,
    cases: [m.bigUp as CaseResult, m.treeDown as CaseResult],
    targets: targets(m),
    facts: [['Node-RED RSS at idle (baseline)', '100.0 MiB']],
  };
}

describe('bench: the Markdown table', () => {
  it('shows medians, spreads, MiB/s, CPU, ratios, load and versions', () => {
    const text = renderMarkdown(report());
    assert.match(text, /at start 0\.50 0\.25 1\.00, at end 1\.25 0\.75 1\.00/);
    assert.match(text, /Versions: Node\.js v20\.0\.0, OpenSSH OpenSSH_9\.2p1\./);
    assert.match(text, /\| contender \| median \| min–max \| MiB\/s \| CPU s\/GiB \| Node-RED nodes \(auto\) speed × \|/);
    // 1 GiB in a median of 5 s: 205 MiB/s; CPU median 5; spread 4000–6000 ms
    assert.match(text, /\| Node-RED nodes \(auto\) \| 5000 ms \| 4000 ms–6000 ms \| 205 \| 5\.00 \| 1 \(reference\) \|/);
    assert.match(text, /\| scp \| 8000 ms \| 7000 ms–9000 ms \| 128 \| 6\.00 \| 1\.60× \|/);
    assert.match(text, /\| ssh2-sftp-client \| 10\.0 s \| 10\.0 s–10\.0 s \| 102 \| 7\.00 \| 2\.00× \|/);
    // a time-only case has no MiB/s or CPU column
    assert.match(text, /\| contender \| median \| min–max \| Node-RED nodes \(auto\) speed × \|\n\| --- \| --- \| --- \| --- \|/);
    assert.match(text, /\| recursive download: nodes' \(transport auto\) time ÷ `scp -r -O`'s \| <= 1\.00 × \| 1\.50 × \| MISSED \(50% short\) \|/);
    assert.match(text, /\| Node-RED RSS at idle \(baseline\) \| 100\.0 MiB \|/);
  });
});

describe('bench: the SVG chart', () => {
  it('draws one bar per contender and case, escapes names, and is one svg element', () => {
    const svg = renderSvg(report());
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.equal(svg.match(/<rect x=/g)?.length, 5 + 2);
    assert.ok(svg.includes('upload &lt;1 GiB&gt;'));
    assert.ok(!svg.includes('upload <1 GiB>'));
    assert.ok(!/NaN|undefined|Infinity/.test(svg));
    // scp took 1.6× the nodes' time: its bar reads 0.63× the nodes' speed
    assert.ok(svg.includes('>0.63×</text>'));
  });
});

describe('bench: configuration', () => {
  it('BENCH_QUICK=1 runs small sizes; the full run moves 1 GiB, 1,000 files, 10,000 messages', () => {
    const quick = benchConfig({ BENCH_QUICK: '1' });
    const full = benchConfig({});
    assert.equal(quick.mode, 'quick');
    assert.ok(quick.bigBytes < full.bigBytes);
    assert.deepEqual([full.bigBytes, full.smallFiles, full.burst, full.soak], [GIB, 1000, 1000, 10_000]);
    assert.equal(benchConfig({ BENCH_QUICK: '0' }).mode, 'full');
    assert.equal(benchConfig({ BENCH_ROUNDS: '7' }).rounds, 7);
  });
});
