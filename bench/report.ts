/**
 * The benchmark's output, from numbers only (pure, tested in test/bench): the Markdown table of medians,
 * spreads and pair-wise ratios, the performance targets met or missed, and an SVG bar chart.
 */
import { percentile, summarize } from './stats';

/** One contender's repeated measurements in one case. */
export interface ContenderRow {
  contender: string;
  /** wall time of each sample, ms */
  samplesMs: number[];
  /** CPU seconds per GiB of the process that did the work (client side), one per sample, when measured */
  cpuPerGiB?: number[];
}

export interface CaseResult {
  title: string;
  /** bytes one sample moves (for MiB/s); absent for latency-like cases */
  bytes?: number;
  /** the contender the others are compared with (the Node-RED nodes) */
  reference: string;
  rows: ContenderRow[];
}

export type Goal = { op: '>=' | '<='; value: number };

export interface TargetResult {
  label: string;
  goal: Goal;
  /** a further goal in the same direction, shown as a note (met or not, it decides nothing) */
  stretch?: number;
  /** NaN when it could not be measured */
  measured: number;
  unit: string;
}

export interface BenchReport {
  title: string;
  mode: 'quick' | 'full';
  startedAt: string;
  machine: string;
  loadStart: number[];
  loadEnd: number[];
  versions: Record<string, string>;
  rounds: number;
  cases: CaseResult[];
  targets: TargetResult[];
  /** the pings of an `http in` endpoint while Node-RED idled and while the big files moved through it */
  ping?: PingReport;
  /** other figures (memory, failures, files/s), label → value text */
  facts: [string, string][];
}

/** The pings of one contender's big copies in one direction, pooled over its rounds. */
export interface PingRow {
  contender: string;
  direction: 'up' | 'down';
  /** round trip of each answered ping, ms */
  pingsMs: number[];
  failures: number;
  firstFailure?: string;
  /** wall time of each copy the pings ran during, ms */
  copyMs: number[];
  /** CPU seconds per GiB of the Node-RED process (all threads) of each copy */
  nodeRedCpuPerGiB: number[];
}

export interface PingReport {
  everyMs: number;
  /** what one copy moved */
  bytes: number;
  idle: { ms: number; pingsMs: number[]; failures: number; firstFailure?: string; nodeRedCpuSeconds: number };
  rows: PingRow[];
}

const MIB = 1024 * 1024;

export function rowMedian(result: CaseResult, contender: string): number {
  const row = result.rows.find((r) => r.contender === contender);
  return row ? summarize(row.samplesMs).median : Number.NaN;
}

/** How many times faster `a` is than `b` in this case (b's median time / a's): above 1 means a is faster. */
export function speedRatio(result: CaseResult, a: string, b: string): number {
  return rowMedian(result, b) / rowMedian(result, a);
}

export function isMet(target: TargetResult): boolean {
  if (!Number.isFinite(target.measured)) return false;
  return target.goal.op === '>=' ? target.measured >= target.goal.value : target.measured <= target.goal.value;
}

/** "met, 12% above" / "missed, 30% short": how far the measurement is from the goal, relative to the goal. */
export function verdict(target: TargetResult): string {
  if (!Number.isFinite(target.measured)) return 'not measured';
  const { op, value } = target.goal;
  if (value === 0) return isMet(target) ? 'met' : `missed by ${fmt(target.measured)} ${target.unit}`;
  const relative = Math.abs(target.measured / value - 1) * 100;
  const side = (target.measured >= value) === (op === '>=') ? 'margin' : 'short';
  const stretch = target.stretch === undefined ? '' : `; stretch ${isMet({ ...target, goal: { op, value: target.stretch } }) ? 'met' : 'not reached'}`;
  return `${isMet(target) ? 'met' : 'MISSED'} (${relative.toFixed(0)}% ${side})${stretch}`;
}

function goalText(target: TargetResult): string {
  const stretch = target.stretch === undefined ? '' : ` (stretch ${fmt(target.stretch)} ${target.unit})`.replace(' )', ')');
  return `${target.goal.op} ${fmt(target.goal.value)} ${target.unit}`.trim() + stretch;
}

export function fmt(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return '–';
  // a tiny negative figure (heap growth of -0.001 MiB) reads 0.00, not -0.00
  if (Math.abs(value) < 0.5 * 10 ** -digits) return (0).toFixed(digits);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(Math.min(digits, 1));
  return value.toFixed(digits);
}

function msText(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${fmt(ms, 1)} ms`;
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)];
}

/** "1 GiB", "32 MiB" */
export function sizeText(bytes: number): string {
  return bytes >= 1024 * MIB ? `${bytes / (1024 * MIB)} GiB` : `${bytes / MIB} MiB`;
}

export function pingTable(ping: PingReport): string[] {
  const ms = (values: number[], p: number): string => (values.length ? msText(percentile(values, p)) : '–');
  const idleRow = ['nothing (idle)', '–', '–', '–', String(ping.idle.pingsMs.length), String(ping.idle.failures), ms(ping.idle.pingsMs, 50), ms(ping.idle.pingsMs, 99)];
  const rows = ping.rows.map((row) => [
    `${row.direction === 'up' ? 'upload' : 'download'} ${sizeText(ping.bytes)}: ${row.contender}`,
    String(row.copyMs.length),
    row.copyMs.length ? msText(summarize(row.copyMs).median) : '–',
    row.nodeRedCpuPerGiB.length ? fmt(summarize(row.nodeRedCpuPerGiB).median) : '–',
    String(row.pingsMs.length),
    String(row.failures),
    ms(row.pingsMs, 50),
    ms(row.pingsMs, 99),
  ]);
  const failures = [ping.idle, ...ping.rows].map((row) => row.firstFailure).filter(Boolean);
  return [
    `### Ping of an \`http in\` endpoint every ${ping.everyMs} ms, while Node-RED idles (${fmt(ping.idle.ms / 1000, 0)} s) and during each big copy`,
    '',
    ...table(['what runs', 'copies', 'copy time (median)', 'Node-RED CPU s/GiB (all threads)', 'pings', 'failed', 'ping p50', 'ping p99'], [idleRow, ...rows]),
    '',
    'Percentiles over every ping of the row (all its copies pooled, nearest rank). Node-RED CPU: every thread of the process, as measured, ' +
      "answering the pings included (the exec node's row, Node-RED's share only without scp's, is little more than that)." + (failures.length ? ` First failed ping: ${String(failures[0]).slice(0, 160)}` : ''),
    '',
  ];
}

function caseTable(result: CaseResult): string[] {
  const hasCpu = result.rows.some((r) => r.cpuPerGiB?.length);
  const header = ['contender', 'median', 'min–max', ...(result.bytes ? ['MiB/s'] : []), ...(hasCpu ? ['CPU s/GiB'] : []), `${result.reference} speed ×`];
  const rows = result.rows.map((row) => {
    const s = summarize(row.samplesMs);
    const cells = [row.contender, msText(s.median), `${msText(s.min)}–${msText(s.max)}`];
    if (result.bytes) cells.push(fmt(result.bytes / MIB / (s.median / 1000), 0));
    if (hasCpu) cells.push(row.cpuPerGiB?.length ? fmt(summarize(row.cpuPerGiB).median) : '–');
    cells.push(row.contender === result.reference ? '1 (reference)' : `${fmt(speedRatio(result, result.reference, row.contender))}×`);
    return cells;
  });
  const samples = Math.max(...result.rows.map((r) => r.samplesMs.length));
  return [`### ${result.title} (${samples} samples each)`, '', ...table(header, rows), ''];
}

export function renderMarkdown(report: BenchReport): string {
  const load = (values: number[]): string => values.map((v) => v.toFixed(2)).join(' ');
  const lines = [
    `## ${report.title}`,
    '',
    `${report.startedAt}, ${report.mode} mode, ${report.rounds} interleaved rounds. Machine: ${report.machine}. ` +
      `Load average (1/5/15 min) at start ${load(report.loadStart)}, at end ${load(report.loadEnd)}.`,
    '',
    `Versions: ${Object.entries(report.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    '',
    '### Targets',
    '',
    ...table(
      ['target', 'goal', 'measured', 'verdict'],
      report.targets.map((t) => [t.label, goalText(t), `${fmt(t.measured)} ${t.unit}`.trim(), verdict(t)]),
    ),
    '',
    '"speed ×" = how many times faster the reference is than that row (its median time ÷ the reference\'s).',
    '',
    ...report.cases.flatMap(caseTable),
    ...(report.ping ? pingTable(report.ping) : []),
  ];
  if (report.facts.length) lines.push('### Memory and load', '', ...table(['figure', 'value'], report.facts), '');
  return lines.join('\n');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Horizontal bars, one group per case: each contender's speed relative to the case's reference (the
 * reference is 1; longer is faster). No charting library: a few rects and texts.
 */
export function renderSvg(report: BenchReport): string {
  const width = 860;
  const labelWidth = 260;
  const barMax = width - labelWidth - 80;
  const rowHeight = 18;
  const parts: string[] = [];
  let y = 30;
  const speeds = report.cases.flatMap((c) => c.rows.map((r) => speedRatio(c, r.contender, c.reference)));
  const top = Math.max(1, ...speeds.filter(Number.isFinite));
  parts.push(`<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(report.title)}: speed relative to the Node-RED nodes (1 = same, longer = faster)</text>`);
  for (const result of report.cases) {
    y += 10;
    parts.push(`<text x="10" y="${y + 12}" font-size="12" font-weight="bold">${escapeXml(result.title)}</text>`);
    y += rowHeight;
    for (const row of result.rows) {
      const speed = speedRatio(result, row.contender, result.reference);
      const length = Number.isFinite(speed) ? Math.max(1, (speed / top) * barMax) : 0;
      const colour = row.contender === result.reference ? '#d62728' : '#1f77b4';
      parts.push(`<text x="${labelWidth - 6}" y="${y + 12}" font-size="11" text-anchor="end">${escapeXml(row.contender)}</text>`);
      parts.push(`<rect x="${labelWidth}" y="${y + 2}" width="${length.toFixed(1)}" height="${rowHeight - 4}" fill="${colour}"/>`);
      parts.push(`<text x="${(labelWidth + length + 4).toFixed(1)}" y="${y + 12}" font-size="11">${fmt(speed)}×</text>`);
      y += rowHeight;
    }
  }
  const oneX = labelWidth + barMax / top;
  parts.push(`<line x1="${oneX.toFixed(1)}" y1="30" x2="${oneX.toFixed(1)}" y2="${y}" stroke="#888" stroke-dasharray="4 3"/>`);
  const height = y + 20;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n` +
    `<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`
  );
}
