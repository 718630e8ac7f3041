/**
 * How quiet Node-RED stays for its other flows: an `http in → http response` endpoint of the bench flow
 * (GET /scp-bench-ping) asked every 20 ms, each round trip timed with process.hrtime, while Node-RED idles
 * and while a big copy runs through it (the nodes, or OpenSSH's scp run by the exec node).
 *
 * The pings go out on a fixed schedule whether or not the last one has been answered (a stalled event loop
 * shows as several slow pings, not as one), over a keep-alive agent made for each run and destroyed after it
 * (a kept socket that sat idle longer than Node-RED's 5 s keep-alive would race its close).
 */
import http from 'node:http';
import type { Contender, CopyJob, Sample } from './contenders/types';
import type { PingRow } from './report';

/** The endpoint of the bench flow (bench/flows.ts) that answers at once. */
export const PING_PATH = '/scp-bench-ping';

/** No ping waits longer than this (a bound, not a figure: a ping past it counts as failed). */
const PING_LIMIT_MS = 30_000;

export interface PingRun {
  rttsMs: number[];
  failures: number;
  firstFailure?: string;
}

export interface Pinger {
  /** stops sending, waits for the pings on their way (each bounded), and returns every round trip */
  stop(): Promise<PingRun>;
}

export function startPinger(baseUrl: string, everyMs: number): Pinger {
  const url = `${baseUrl}${PING_PATH}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const run: PingRun = { rttsMs: [], failures: 0 };
  const onTheirWay = new Set<Promise<void>>();
  const fail = (error: unknown): void => {
    run.failures += 1;
    run.firstFailure ??= error instanceof Error ? error.message : String(error);
  };
  const ping = (): void => {
    const started = process.hrtime.bigint();
    const answered = new Promise<void>((done) => {
      const request = http.get(url, { agent }, (response) => {
        response.on('error', (error) => {
          fail(error);
          done();
        });
        response.on('end', () => {
          if (response.statusCode === 200) run.rttsMs.push(Number(process.hrtime.bigint() - started) / 1e6);
          else fail(new Error(`GET ${PING_PATH}: ${response.statusCode}`));
          done();
        });
        response.resume();
      });
      request.setTimeout(PING_LIMIT_MS, () => request.destroy(new Error(`GET ${PING_PATH}: no answer within ${PING_LIMIT_MS} ms`)));
      request.on('error', (error) => {
        fail(error);
        done();
      });
    });
    onTheirWay.add(answered);
    void answered.then(() => onTheirWay.delete(answered));
  };
  ping();
  const timer = setInterval(ping, everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all([...onTheirWay]);
      agent.destroy();
      return run;
    },
  };
}

/** Pings Node-RED for `ms` while nothing else runs; also returns Node-RED's CPU seconds over that time. */
export async function pingIdle(baseUrl: string, everyMs: number, ms: number, cpuSeconds: () => number): Promise<{ run: PingRun; cpuSeconds: number; ms: number }> {
  const cpu = cpuSeconds();
  const started = process.hrtime.bigint();
  const pinger = startPinger(baseUrl, everyMs);
  await new Promise((done) => setTimeout(done, ms));
  const run = await pinger.stop();
  return { run, cpuSeconds: cpuSeconds() - cpu, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

/**
 * Collects the pings of the copies of some contenders: `pinged(contender)` is the same contender with a
 * pinger running during each of its copies (started before the copy, stopped after its answer); the rows
 * pool every copy's pings per contender and direction.
 */
export class PingCollector {
  private readonly rows = new Map<string, PingRow>();

  constructor(
    private readonly baseUrl: string,
    private readonly everyMs: number,
    private readonly bytesPerCopy: number,
  ) {}

  pinged(contender: Contender): Contender {
    return {
      ...contender,
      copy: async (job: CopyJob): Promise<Sample> => {
        const pinger = startPinger(this.baseUrl, this.everyMs);
        let sample: Sample;
        try {
          sample = await contender.copy(job);
        } catch (error) {
          // a failed copy still ends its pinger (its pings are dropped with the failed sample)
          await pinger.stop();
          throw error;
        }
        const run = await pinger.stop();
        this.add(contender.name, job.direction, run, sample);
        return sample;
      },
    };
  }

  private add(contender: string, direction: 'up' | 'down', run: PingRun, sample: Sample): void {
    const key = `${direction} ${contender}`;
    const row = this.rows.get(key) ?? { contender, direction, pingsMs: [], failures: 0, copyMs: [], nodeRedCpuPerGiB: [] };
    this.rows.set(key, row);
    row.pingsMs.push(...run.rttsMs);
    row.failures += run.failures;
    row.firstFailure ??= run.firstFailure;
    row.copyMs.push(sample.ms);
    if (sample.nodeRedCpuSeconds !== undefined) row.nodeRedCpuPerGiB.push(sample.nodeRedCpuSeconds / (this.bytesPerCopy / 1024 ** 3));
  }

  /** uploads first, then downloads; within each, the contenders in the order given */
  result(order: readonly string[]): PingRow[] {
    const rank = (row: PingRow): number => (row.direction === 'up' ? 0 : 1000) + order.indexOf(row.contender);
    return [...this.rows.values()].sort((a, b) => rank(a) - rank(b));
  }
}
