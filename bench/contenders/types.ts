/** What every contender does: copy one local path to the server or back, and say how long it took. */

/**
 * One copy. `local` and `remote` are paths (remote: relative to the server user's home). Upload: `local`
 * (a file or, with `recursive`, a directory) to `remote`, which does not exist yet. Download: `remote` to
 * `local`: a file path, or with `recursive` an existing local directory that receives the remote directory.
 */
export interface CopyJob {
  direction: 'up' | 'down';
  local: string;
  remote: string;
  recursive: boolean;
}

export interface Sample {
  ms: number;
  /** user + system CPU seconds of the process that did the client's work, when known */
  cpuSeconds?: number;
  /** user + system CPU seconds of the Node-RED process (all its threads), when the copy ran through it */
  nodeRedCpuSeconds?: number;
}

export interface Contender {
  name: string;
  copy(job: CopyJob): Promise<Sample>;
  /** whether it can do recursive directory copies */
  recursive: boolean;
  close?(): Promise<void>;
}

export function elapsedMs(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** Times `run` and the CPU this process spent on it (the contenders that run inside the bench process). */
export async function inProcess(run: () => Promise<unknown>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await run();
  const ms = elapsedMs(started);
  const used = process.cpuUsage(cpu);
  return { ms, cpuSeconds: (used.user + used.system) / 1e6 };
}
