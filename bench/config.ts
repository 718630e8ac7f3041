/** The benchmark's sizes and counts: the full run, or BENCH_QUICK=1 (under two minutes). */
const MIB = 1024 * 1024;

/**
 * The parts of `npm run bench` that BENCH_CASES can pick (comma-separated; default: all):
 *   big      1 GiB file to file, every contender
 *   ping     an `http in` endpoint pinged while Node-RED idles and during the big copies of the nodes (both
 *            transports) and of `scp -O` run by the exec node (alone: the big case with only those)
 *   tree     1,000 × 4 KiB recursive
 *   latency  one 4 KiB message at a time
 *   inline   the same messages through a second Node-RED whose engine runs on its own thread
 *   soak     10,000 messages (heap and RSS after warm-up)
 *   burst    1,000 messages at once
 */
export const CASES = ['big', 'ping', 'tree', 'latency', 'inline', 'soak', 'burst'] as const;
export type CaseName = (typeof CASES)[number];

export interface BenchConfig {
  mode: 'quick' | 'full';
  /** the parts to run (BENCH_CASES) */
  cases: ReadonlySet<CaseName>;
  /** the big file, copied file to file both ways */
  bigBytes: number;
  rounds: number;
  /** files of 4 KiB in the recursive case */
  smallFiles: number;
  /** sequential messages per contender and round in the latency case */
  latencyMessages: number;
  /** messages fired at once, and how many times */
  burst: number;
  burstRounds: number;
  /** messages through Node-RED for the heap and RSS growth figures, and how many run at a time */
  soak: number;
  soakConcurrency: number;
  /** Node-RED idles this long before the first measurement (the last `pingIdleMs` of it pinged) and again at the end */
  idleMs: number;
  /** how long the idle ping runs, and the interval between pings (idle and during the big copies) */
  pingIdleMs: number;
  pingEveryMs: number;
}

/** BENCH_CASES=ping,latency → those parts; unknown names are refused (a typo must not run the whole bench). */
export function parseCases(text: string | undefined): Set<CaseName> {
  if (text === undefined || text.trim() === '') return new Set(CASES);
  const names = text.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !(CASES as readonly string[]).includes(name));
  if (unknown.length || names.length === 0) throw new Error(`BENCH_CASES: unknown case ${unknown.join(', ') || '(none)'}; known: ${CASES.join(', ')}`);
  return new Set(names as CaseName[]);
}

export function benchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const quick = env.BENCH_QUICK !== undefined && env.BENCH_QUICK !== '' && env.BENCH_QUICK !== '0';
  const cases = parseCases(env.BENCH_CASES);
  // 30 s of pings every 20 ms: 1,500 round trips. Only the idle p50 enters a target (the p99s are compared
  // with the exec node's in the same run); what moves it is the machine's load, which 60 s does not average
  // away (docs/performance.md). The p99 of a big copy pools its rounds (5 × about 4 s: about 1,000 pings).
  const ping = { pingEveryMs: 20, pingIdleMs: quick ? 5_000 : 30_000 };
  const base: BenchConfig = quick
    ? { mode: 'quick', cases, bigBytes: 32 * MIB, rounds: 2, smallFiles: 100, latencyMessages: 3, burst: 300, burstRounds: 1, soak: 300, soakConcurrency: 10, idleMs: 5_000, ...ping }
    : { mode: 'full', cases, bigBytes: 1024 * MIB, rounds: 5, smallFiles: 1000, latencyMessages: 20, burst: 1000, burstRounds: 3, soak: 10_000, soakConcurrency: 10, idleMs: 60_000, ...ping };
  const rounds = Number(env.BENCH_ROUNDS);
  return Number.isInteger(rounds) && rounds > 0 ? { ...base, rounds } : base;
}

export const SMALL_SIZE = 4096;
