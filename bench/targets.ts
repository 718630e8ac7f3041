/** The performance targets as numbers, from the measured cases (pure, tested in test/bench). */
import { speedRatio, type CaseResult, type TargetResult } from './report';
import { median } from './stats';

export const NODES = 'Node-RED nodes';
/** the same nodes through a connection node whose transport is 'sftp' (the kept SFTP session per connection) */
export const NODES_SFTP = 'Node-RED nodes (sftp)';
export const ENGINE = 'engine alone';
export const SCP = 'scp';
export const SCP_O_GCM = 'scp -O -c aes128-gcm';
export const SCP_O = 'scp -O';
export const SFTP_CLIENT = 'ssh2-sftp-client';
const MIB = 1024 * 1024;

export interface Measured {
  bigUp: CaseResult;
  bigDown: CaseResult;
  treeUp: CaseResult;
  treeDown: CaseResult;
  latencyUp: CaseResult;
  latencyDown: CaseResult;
  burst: { failures: number; filesPerSecond: number };
  /** the burst through the nodes with transport 'sftp' */
  burstSftp: { failures: number; filesPerSecond: number };
  /**
   * RSS of the Node-RED process: idle baseline, peak while moving the big files, after idling at the end;
   * soakWarm/soakEnd after the first tenth of the long run of messages and at its end, each after a forced
   * full garbage collection (as found, RSS swings by tens of MiB with V8's heap sizing alone)
   */
  rss: { idle: number; peakBig: number; afterIdle: number; soakWarm: number; soakEnd: number };
  /** heap used after the same forced collections: what a leak of JavaScript objects grows */
  soakHeap: { warm: number; end: number };
  /** the noise allowed for "no growth" over the long run of messages, bytes: RSS, and the heap */
  soakAllowance: number;
  soakHeapAllowance: number;
}

function cpuMedian(result: CaseResult, contender: string): number {
  return median(result.rows.find((r) => r.contender === contender)?.cpuPerGiB ?? []);
}

export function targets(m: Measured): TargetResult[] {
  const list: TargetResult[] = [];
  for (const [way, result] of [['upload', m.bigUp], ['download', m.bigDown]] as const) {
    const ratio = (label: string, other: string, goal: number): void => {
      list.push({ label: `big file ${way}: nodes vs ${label}`, goal: { op: '>=', value: goal }, measured: speedRatio(result, NODES, other), unit: '×' });
    };
    ratio('`scp` (defaults)', SCP, 1.2);
    ratio('`scp -O -c aes128-gcm`', SCP_O_GCM, 0.9);
    ratio('ssh2-sftp-client', SFTP_CLIENT, 1.5);
    ratio('the engine alone', ENGINE, 0.9);
    list.push({
      label: `big file ${way}: Node-RED CPU s/GiB ÷ scp -O client's (aes128-gcm)`,
      goal: { op: '<=', value: 1.3 },
      measured: cpuMedian(result, NODES) / cpuMedian(result, SCP_O_GCM),
      unit: '×',
    });
  }
  for (const [way, result] of [['upload', m.treeUp], ['download', m.treeDown]] as const) {
    list.push({ label: `recursive ${way}: nodes' time ÷ \`scp -r -O\`'s`, goal: { op: '<=', value: 1 }, measured: 1 / speedRatio(result, NODES, SCP_O), unit: '×' });
  }
  for (const [way, result] of [['upload', m.latencyUp], ['download', m.latencyDown]] as const) {
    list.push({ label: `one message ${way}: nodes (warm) vs a cold \`scp\``, goal: { op: '>=', value: 30 }, measured: speedRatio(result, NODES, SCP), unit: '×' });
    list.push({
      label: `one message ${way}: nodes with transport sftp (warm) vs a cold \`scp\``,
      goal: { op: '>=', value: 30 },
      measured: speedRatio(result, NODES_SFTP, SCP),
      unit: '×',
    });
  }
  list.push({ label: 'burst of messages at once: failures', goal: { op: '<=', value: 0 }, measured: m.burst.failures, unit: '' });
  list.push({ label: 'burst of messages at once: files/s', goal: { op: '>=', value: 500 }, measured: m.burst.filesPerSecond, unit: 'files/s' });
  list.push({ label: 'burst of messages at once, nodes with transport sftp: failures', goal: { op: '<=', value: 0 }, measured: m.burstSftp.failures, unit: '' });
  list.push({ label: 'burst of messages at once, nodes with transport sftp: files/s', goal: { op: '>=', value: 500 }, measured: m.burstSftp.filesPerSecond, unit: 'files/s' });
  list.push({ label: 'RSS growth above idle while moving the big files', goal: { op: '<=', value: 64 }, measured: (m.rss.peakBig - m.rss.idle) / MIB, unit: 'MiB' });
  list.push({ label: 'RSS growth above idle after the copy cases and idling', goal: { op: '<=', value: 64 }, measured: (m.rss.afterIdle - m.rss.idle) / MIB, unit: 'MiB' });
  list.push({
    label: 'heap growth over the long run of messages (after a forced GC, first tenth to end)',
    goal: { op: '<=', value: m.soakHeapAllowance / MIB },
    measured: (m.soakHeap.end - m.soakHeap.warm) / MIB,
    unit: 'MiB',
  });
  list.push({
    label: 'RSS growth over the long run of messages (after a forced GC, first tenth to end)',
    goal: { op: '<=', value: m.soakAllowance / MIB },
    measured: (m.rss.soakEnd - m.rss.soakWarm) / MIB,
    unit: 'MiB',
  });
  return list;
}
