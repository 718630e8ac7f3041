/** The benchmark's sizes and counts: the full run, or BENCH_QUICK=1 (under two minutes). */
const MIB = 1024 * 1024;

export interface BenchConfig {
  mode: 'quick' | 'full';
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
  /** messages through Node-RED for the RSS growth figure, and how many run at a time */
  soak: number;
  soakConcurrency: number;
  /** Node-RED idles this long before the first measurement and again at the end */
  idleMs: number;
}

export function benchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const quick = env.BENCH_QUICK !== undefined && env.BENCH_QUICK !== '' && env.BENCH_QUICK !== '0';
  const base: BenchConfig = quick
    ? { mode: 'quick', bigBytes: 32 * MIB, rounds: 2, smallFiles: 100, latencyMessages: 3, burst: 300, burstRounds: 1, soak: 300, soakConcurrency: 10, idleMs: 5_000 }
    : { mode: 'full', bigBytes: 1024 * MIB, rounds: 5, smallFiles: 1000, latencyMessages: 20, burst: 1000, burstRounds: 3, soak: 10_000, soakConcurrency: 10, idleMs: 60_000 };
  const rounds = Number(env.BENCH_ROUNDS);
  return Number.isInteger(rounds) && rounds > 0 ? { ...base, rounds } : base;
}

export const SMALL_SIZE = 4096;
