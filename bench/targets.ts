/**
 * The performance targets as numbers, from the measured cases (pure, tested in test/bench). A part of the
 * bench that did not run (BENCH_CASES) adds no targets; a contender missing from a part that ran makes its
 * targets "not measured".
 */
import { speedRatio, rowMedian, type CaseResult, type PingReport, type TargetResult } from './report';
import { median, percentile } from './stats';

/** the nodes through a connection node with the default transport, 'auto' */
export const NODES = 'Node-RED nodes (auto)';
/** the same nodes through a connection node whose transport is 'sftp' (the kept SFTP session per connection) */
export const NODES_SFTP = 'Node-RED nodes (sftp)';
/** the nodes (transport auto) in a second Node-RED started with NODE_RED_SCP_ENGINE=inline: the engine on Node-RED's thread */
export const NODES_INLINE = 'Node-RED nodes (auto, engine inline)';
/** OpenSSH's `scp -O` started by Node-RED's core exec node in the same Node-RED */
export const EXEC_SCP_O = 'scp -O by the exec node';
export const ENGINE = 'engine alone';
export const SCP = 'scp';
export const SCP_O_GCM = 'scp -O -c aes128-gcm';
export const SCP_O = 'scp -O';
export const SFTP_CLIENT = 'ssh2-sftp-client';
const MIB = 1024 * 1024;

export interface BurstFigures {
  failures: number;
  filesPerSecond: number;
}

/** The long run of messages: heap and RSS after a forced full garbage collection at two points. */
export interface SoakFigures {
  /** messages answered at the first figures (the end of the warm-up) and at the second */
  warmAt: number;
  endAt: number;
  /** heap used, bytes: Node-RED's thread plus, when `engineHeap`, the engine worker's */
  heapWarm: number;
  heapEnd: number;
  engineHeap: boolean;
  rssWarm: number;
  rssEnd: number;
  /** the noise allowed for "no growth", bytes */
  heapAllowance: number;
  rssAllowance: number;
}

export interface Measured {
  bigUp?: CaseResult;
  bigDown?: CaseResult;
  treeUp?: CaseResult;
  treeDown?: CaseResult;
  /** the one-message case: the warm nodes against a cold `scp` */
  latencyUp?: CaseResult;
  latencyDown?: CaseResult;
  /** the same case with the row of the second Node-RED (NODES_INLINE): what the engine's worker costs per message */
  inlineUp?: CaseResult;
  inlineDown?: CaseResult;
  /** the burst through the nodes, transport auto and transport sftp */
  burst?: { auto: BurstFigures; sftp: BurstFigures };
  /**
   * RSS of the Node-RED process (every thread, the engine's worker included): idle baseline, peak while
   * moving the big files, after idling at the end
   */
  rss?: { idle: number; peakBig?: number; afterIdle?: number };
  soak?: SoakFigures;
  ping?: PingReport;
}

function cpuMedian(result: CaseResult, contender: string): number {
  return median(result.rows.find((r) => r.contender === contender)?.cpuPerGiB ?? []);
}

const WAYS = { up: 'upload', down: 'download' } as const;

/** Per direction: the ratios against OpenSSH the nodes must reach (download: scp defaults 1.0, stretch 1.2). */
const BIG_GOALS = {
  upload: { scp: 1.2, gcm: 0.9 },
  download: { scp: 1.0, scpStretch: 1.2, gcm: 0.7 },
} as const;

function bigTargets(way: 'upload' | 'download', result: CaseResult): TargetResult[] {
  const goals: { scp: number; scpStretch?: number; gcm: number } = BIG_GOALS[way];
  const ratio = (label: string, other: string, goal: number, stretch?: number): TargetResult => ({
    label: `big file ${way}: nodes (transport auto) vs ${label}`,
    goal: { op: '>=', value: goal },
    ...(stretch === undefined ? {} : { stretch }),
    measured: speedRatio(result, NODES, other),
    unit: '×',
  });
  return [
    ratio('`scp` (defaults)', SCP, goals.scp, goals.scpStretch),
    ratio('`scp -O -c aes128-gcm`', SCP_O_GCM, goals.gcm),
    ratio('ssh2-sftp-client', SFTP_CLIENT, 1.5),
    ratio('the engine alone', ENGINE, 0.9),
    {
      label: `big file ${way}: Node-RED CPU s/GiB (all threads) ÷ the \`scp -O -c aes128-gcm\` client's (scp and its ssh)`,
      goal: { op: '<=', value: 1.5 },
      measured: cpuMedian(result, NODES) / cpuMedian(result, SCP_O_GCM),
      unit: '×',
    },
  ];
}

/** Ping during the nodes' big copies: p50 against idle, p99 against the exec node's in the same direction. */
export function pingTargets(ping: PingReport): TargetResult[] {
  const idleP50 = percentile(ping.idle.pingsMs, 50);
  const pings = (contender: string, direction: 'up' | 'down'): number[] => ping.rows.find((r) => r.contender === contender && r.direction === direction)?.pingsMs ?? [];
  const list: TargetResult[] = [];
  for (const direction of ['up', 'down'] as const) {
    const execP99 = percentile(pings(EXEC_SCP_O, direction), 99);
    for (const [contender, transport] of [
      [NODES, 'auto'],
      [NODES_SFTP, 'sftp'],
    ] as const) {
      const own = pings(contender, direction);
      const what = `ping during the big ${WAYS[direction]}, nodes with transport ${transport}`;
      list.push({ label: `${what}: p50 ÷ idle p50`, goal: { op: '<=', value: 2 }, measured: percentile(own, 50) / idleP50, unit: '×' });
      list.push({ label: `${what}: p99 ÷ the exec node's p99 (\`scp -O\`, same direction)`, goal: { op: '<=', value: 1 }, measured: percentile(own, 99) / execP99, unit: '×' });
    }
  }
  return list;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function memoryTargets(m: Measured): TargetResult[] {
  const list: TargetResult[] = [];
  if (m.rss?.peakBig !== undefined) {
    list.push({ label: 'RSS growth above idle while moving the big files (Node-RED process, all threads)', goal: { op: '<=', value: 64 }, measured: (m.rss.peakBig - m.rss.idle) / MIB, unit: 'MiB' });
  }
  if (m.rss?.afterIdle !== undefined) {
    list.push({ label: 'RSS growth above idle after the copy cases and idling', goal: { op: '<=', value: 64 }, measured: (m.rss.afterIdle - m.rss.idle) / MIB, unit: 'MiB' });
  }
  const soak = m.soak;
  if (soak) {
    const span = `messages ${count(soak.warmAt)} to ${count(soak.endAt)}`;
    const heapOf = soak.engineHeap ? "Node-RED's thread + the engine's worker" : "Node-RED's thread only, engine heap: not available";
    list.push({
      label: `heap growth after warm-up (${span}; ${heapOf}; after a forced GC)`,
      goal: { op: '<=', value: soak.heapAllowance / MIB },
      measured: (soak.heapEnd - soak.heapWarm) / MIB,
      unit: 'MiB',
    });
    list.push({ label: `RSS growth after warm-up (${span}; after a forced GC)`, goal: { op: '<=', value: soak.rssAllowance / MIB }, measured: (soak.rssEnd - soak.rssWarm) / MIB, unit: 'MiB' });
  }
  return list;
}

export function targets(m: Measured): TargetResult[] {
  const list: TargetResult[] = [];
  if (m.bigUp) list.push(...bigTargets('upload', m.bigUp));
  if (m.bigDown) list.push(...bigTargets('download', m.bigDown));
  if (m.ping) list.push(...pingTargets(m.ping));
  for (const [way, result] of [
    ['upload', m.treeUp],
    ['download', m.treeDown],
  ] as const) {
    if (result) list.push({ label: `recursive ${way}: nodes' (transport auto) time ÷ \`scp -r -O\`'s`, goal: { op: '<=', value: 1 }, measured: 1 / speedRatio(result, NODES, SCP_O), unit: '×' });
  }
  for (const [way, result] of [
    ['upload', m.latencyUp],
    ['download', m.latencyDown],
  ] as const) {
    if (!result) continue;
    list.push({ label: `one message ${way}: nodes, transport auto (warm) vs a cold \`scp\``, goal: { op: '>=', value: 30 }, measured: speedRatio(result, NODES, SCP), unit: '×' });
    list.push({ label: `one message ${way}: nodes, transport sftp (warm) vs a cold \`scp\``, goal: { op: '>=', value: 30 }, measured: speedRatio(result, NODES_SFTP, SCP), unit: '×' });
  }
  for (const [way, result] of [
    ['upload', m.inlineUp],
    ['download', m.inlineDown],
  ] as const) {
    if (!result) continue;
    list.push({
      label: `one message ${way}, transport auto: engine in its worker − engine on Node-RED's thread (medians)`,
      goal: { op: '<=', value: 0.3 },
      measured: rowMedian(result, NODES) - rowMedian(result, NODES_INLINE),
      unit: 'ms',
    });
  }
  if (m.burst) {
    for (const [transport, figures] of [
      ['auto', m.burst.auto],
      ['sftp', m.burst.sftp],
    ] as const) {
      list.push({ label: `burst of messages at once, transport ${transport}: failures`, goal: { op: '<=', value: 0 }, measured: figures.failures, unit: '' });
      list.push({ label: `burst of messages at once, transport ${transport}: files/s`, goal: { op: '>=', value: 500 }, measured: figures.filesPerSecond, unit: 'files/s' });
    }
  }
  list.push(...memoryTargets(m));
  return list;
}
