/**
 * The copy cases, contenders interleaved: in each round every contender runs once, in an order rotated per
 * round; the results are checked after each copy, outside its timing.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { BenchConfig } from './config';
import type { Contender, CopyJob } from './contenders/types';
import { sizeText, type CaseResult, type ContenderRow } from './report';
import { rotate } from './stats';
import * as check from './workspace';
import type { Workspace } from './workspace';

const GIB = 1024 * 1024 * 1024;

interface Plan {
  title: string;
  bytes?: number;
  /** the job of one sample (fresh names: nothing is overwritten, nothing nests into an earlier copy) */
  job(slug: string, tag: string): Promise<CopyJob>;
  verify(job: CopyJob): Promise<void>;
  /** samples per contender and round */
  perRound?: number;
  /** one unmeasured copy per contender first (connections, caches) */
  warmUp?: boolean;
}

const slugOf = (name: string): string => name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();

async function measure(plan: Plan, contenders: Contender[], rounds: number, log: (line: string) => void): Promise<CaseResult> {
  const rows = new Map<string, ContenderRow>(contenders.map((c) => [c.name, { contender: c.name, samplesMs: [], ...(plan.bytes ? { cpuPerGiB: [] } : {}) }]));
  const once = async (contender: Contender, tag: string): Promise<{ ms: number; cpuSeconds?: number }> => {
    const job = await plan.job(slugOf(contender.name), tag);
    const sample = await contender.copy(job);
    await plan.verify(job);
    return sample;
  };
  if (plan.warmUp) for (const contender of contenders) await once(contender, 'warm');
  for (let round = 0; round < rounds; round += 1) {
    for (const contender of rotate(contenders, round)) {
      const row = rows.get(contender.name) as ContenderRow;
      for (let i = 0; i < (plan.perRound ?? 1); i += 1) {
        const sample = await once(contender, `${round}-${i}`);
        row.samplesMs.push(sample.ms);
        if (plan.bytes && sample.cpuSeconds !== undefined) row.cpuPerGiB?.push(sample.cpuSeconds / (plan.bytes / GIB));
      }
      log(`  ${plan.title} · round ${round + 1}/${rounds} · ${contender.name}: ${row.samplesMs.slice(-(plan.perRound ?? 1)).map((ms) => ms.toFixed(0)).join(', ')} ms`);
    }
  }
  return { title: plan.title, ...(plan.bytes ? { bytes: plan.bytes } : {}), reference: contenders[0].name, rows: [...rows.values()] };
}

export async function bigFileCases(ws: Workspace, config: BenchConfig, contenders: Contender[], log: (line: string) => void): Promise<CaseResult[]> {
  const size = sizeText(config.bigBytes);
  const up = await measure(
    {
      title: `upload ${size}, file to file`,
      bytes: config.bigBytes,
      job: async (slug, tag) => ({ direction: 'up', local: ws.big.local, remote: `${ws.remote}/up-${slug}-${tag}.bin`, recursive: false }),
      verify: (job) => check.checkBigUpload(ws, job.remote),
    },
    contenders,
    config.rounds,
    log,
  );
  const down = await measure(
    {
      title: `download ${size}, file to file`,
      bytes: config.bigBytes,
      job: async (slug, tag) => ({ direction: 'down', local: join(ws.local, `down-${slug}-${tag}.bin`), remote: ws.big.remote, recursive: false }),
      verify: (job) => check.checkBigDownload(ws, job.local),
    },
    contenders,
    config.rounds,
    log,
  );
  return [up, down];
}

export async function treeCases(ws: Workspace, config: BenchConfig, contenders: Contender[], log: (line: string) => void): Promise<CaseResult[]> {
  const what = `${config.smallFiles} × 4 KiB, recursive`;
  const up = await measure(
    {
      title: `upload ${what}`,
      warmUp: true,
      job: async (slug, tag) => ({ direction: 'up', local: ws.small.local, remote: `${ws.remote}/tree-${slug}-${tag}`, recursive: true }),
      verify: (job) => check.checkTreeUpload(ws, job.remote),
    },
    contenders,
    config.rounds,
    log,
  );
  const down = await measure(
    {
      title: `download ${what}`,
      warmUp: true,
      job: async (slug, tag) => {
        const into = join(ws.local, `tree-${slug}-${tag}`);
        await fs.mkdir(into);
        return { direction: 'down', local: into, remote: ws.small.remote, recursive: true };
      },
      verify: (job) => check.checkTreeDownload(ws, job.local),
    },
    contenders,
    config.rounds,
    log,
  );
  return [up, down];
}

/** One 4 KiB file per message, sequentially: warm connections against a new scp process per file. */
export async function latencyCases(ws: Workspace, config: BenchConfig, contenders: Contender[], log: (line: string) => void): Promise<CaseResult[]> {
  const into = join(ws.local, 'lat');
  await fs.mkdir(into);
  const up = await measure(
    {
      title: 'one message: upload 4 KiB file',
      warmUp: true,
      perRound: config.latencyMessages,
      job: async (slug, tag) => ({ direction: 'up', local: ws.tiny.local, remote: `${ws.remote}/lat/${slug}-${tag}`, recursive: false }),
      verify: async () => undefined,
    },
    contenders,
    config.rounds,
    log,
  );
  const landed = await check.countRemoteFiles(ws, `${ws.remote}/lat`);
  const expected = contenders.length * (1 + config.rounds * config.latencyMessages);
  if (landed !== expected) throw new Error(`latency uploads: ${landed} files on the server, expected ${expected}`);
  const down = await measure(
    {
      title: 'one message: download 4 KiB file',
      warmUp: true,
      perRound: config.latencyMessages,
      job: async (slug, tag) => ({ direction: 'down', local: join(into, `${slug}-${tag}`), remote: ws.tiny.remote, recursive: false }),
      verify: (job) => check.checkTinyDownload(job.local),
    },
    contenders,
    config.rounds,
    log,
  );
  return [up, down];
}
