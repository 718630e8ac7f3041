/**
 * The nodes inside a real Node-RED runtime (Node-RED 4.1 of node_modules, in a child process, with this
 * package's nodes from dist/): copies are HTTP requests to the bench flow, timed from outside; CPU is the
 * Node-RED process's (from /proc/<pid>/stat, which counts every thread of the process: the engine's
 * worker too). The same Node-RED runs OpenSSH's `scp -O` through its exec node.
 */
import http from 'node:http';
import { resolve } from 'node:path';
import { makeTempDir, type SshdServer } from '../../test/harness';
import { httpRequest, startNodeRedProcess, type NodeRedProcess } from '../../test/support/node-red-process';
import { quoteForShell } from '../../src/shell-quote';
import { ENDPOINTS, benchFlow } from '../flows';
import { cpuSeconds } from '../proc';
import { EXEC_SCP_O, NODES, NODES_INLINE, NODES_SFTP } from '../targets';
import { scpRemote } from './scp';
import { elapsedMs, type Contender, type CopyJob, type Sample } from './types';

const PACKAGE_ROOT = resolve(__dirname, '..', '..', '..');

export interface BenchNodeRed {
  red: NodeRedProcess;
  contender: Contender;
  /** the same nodes through the connection node whose transport is 'sftp' (single files only) */
  sftpContender: Contender;
  /** OpenSSH's `scp -O` run by the flow's exec node (single files only) */
  execContender: Contender;
  /** one message through an endpoint: the HTTP status and body */
  post(path: string, body: object): Promise<{ status: number; body: string }>;
  /** heap used and RSS of the Node-RED process after a forced full garbage collection (bench/heap-probe.ts) */
  heap(): Promise<HeapFigures>;
  /** a heap snapshot of the Node-RED process written to `file` (after the same collection) */
  snapshot(file: string): Promise<void>;
}

export interface HeapFigures {
  /** heap used by Node-RED's own thread */
  heapUsed: number;
  /** heap used by the engine's worker thread, when the package has one running (dist/engine/host.js) */
  engineHeapUsed?: number;
  /** why the engine's heap is missing: "engine heap: not available (...)" */
  engineNote?: string;
  rss: number;
}

export interface BenchNodeRedOptions {
  /** NODE_RED_SCP_ENGINE=inline: the package runs its engine on Node-RED's thread (the contender is named NODES_INLINE) */
  engineInline?: boolean;
}

/** Preloaded into Node-RED: answers the heap questions above. */
const HEAP_PROBE = resolve(__dirname, '..', 'heap-probe.js');

export async function startBenchNodeRed(server: SshdServer, options: BenchNodeRedOptions = {}): Promise<BenchNodeRed> {
  const userDir = await makeTempDir('bench-node-red');
  const red = await startNodeRedProcess({
    userDir,
    // The package root is scanned as a Node-RED module (its package.json names the nodes in dist/), as `npm start` does.
    settings: { nodesDir: [PACKAGE_ROOT] },
    // BENCH_NODE_OPTIONS reaches the Node-RED process only (e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof --trace-gc'),
    // as node's own arguments: NODE_OPTIONS refuses --cpu-prof. --expose-gc lets the engine's worker (which
    // inherits these) collect its garbage before it tells the heap probe its heap.
    execArgv: ['--require', HEAP_PROBE, '--expose-gc', ...(process.env.BENCH_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean)],
    // unset unless asked for: the default (the engine in its worker) whatever the bench's own environment says
    env: { NODE_RED_SCP_ENGINE: options.engineInline ? 'inline' : undefined },
  });
  const probePort = /heap probe listening on (\d+)/.exec(red.log())?.[1];
  if (probePort === undefined) throw new Error(`the heap probe did not start in Node-RED:\n${red.log()}`);
  const probe = async (path: string): Promise<unknown> => {
    const answer = await httpRequest('GET', `http://127.0.0.1:${probePort}${path}`);
    if (answer.status !== 200) throw new Error(`heap probe ${path}: ${answer.status} ${answer.body}`);
    return answer.json();
  };
  await red.deploy(benchFlow(server));
  const post = (path: string, body: object) => postJson(`${red.url}${path}`, body);
  const copyThrough = (sftp: boolean) => async (job: CopyJob): Promise<Sample> => {
    const path = sftp ? (job.direction === 'up' ? ENDPOINTS.sftpUp : ENDPOINTS.sftpDown) : job.direction === 'up' ? ENDPOINTS.up : job.recursive ? ENDPOINTS.downDir : ENDPOINTS.down;
    const cpu = cpuSeconds(red.pid);
    const started = process.hrtime.bigint();
    const answer = await post(path, { localPath: job.local, remotePath: job.remote });
    const ms = elapsedMs(started);
    if (answer.status !== 200) throw new Error(`Node-RED ${path} ${job.remote}: ${answer.status} ${answer.body}`);
    const used = cpuSeconds(red.pid) - cpu;
    return { ms, cpuSeconds: used, nodeRedCpuSeconds: used };
  };
  // CPU: scp's and its ssh's (/usr/bin/time in the exec node's command) plus what Node-RED spent meanwhile.
  const execCopy = async (job: CopyJob): Promise<Sample> => {
    const ends = job.direction === 'up' ? [job.local, scpRemote(server, job.remote)] : [scpRemote(server, job.remote), job.local];
    const cpu = cpuSeconds(red.pid);
    const started = process.hrtime.bigint();
    const answer = await post(ENDPOINTS.exec, { args: ends.map(quoteForShell).join(' ') });
    const ms = elapsedMs(started);
    const nodeRedCpuSeconds = cpuSeconds(red.pid) - cpu;
    if (answer.status !== 200) throw new Error(`Node-RED exec node, scp -O ${ends.join(' ')}: ${answer.status} ${answer.body}`);
    const scpCpu = (JSON.parse(answer.body) as { cpuSeconds: number | null }).cpuSeconds;
    return { ms, nodeRedCpuSeconds, ...(scpCpu === null ? {} : { cpuSeconds: scpCpu + nodeRedCpuSeconds }) };
  };
  return {
    red,
    post,
    contender: { name: options.engineInline ? NODES_INLINE : NODES, recursive: true, copy: copyThrough(false) },
    sftpContender: { name: NODES_SFTP, recursive: false, copy: copyThrough(true) },
    execContender: { name: EXEC_SCP_O, recursive: false, copy: execCopy },
    heap: async () => (await probe('/heap')) as HeapFigures,
    snapshot: async (file) => {
      await probe(`/snapshot?file=${encodeURIComponent(file)}`);
    },
  };
}

/**
 * A JSON POST without a client-side deadline shorter than the transfer (1 GiB on a loaded machine), on a
 * connection of its own: a kept-alive socket that Node-RED's server closes after 5 s idle races with the
 * next request on it (ECONNRESET on our side, nothing to do with the nodes).
 */
export function postJson(url: string, body: object, limitMs = 600_000): Promise<{ status: number; body: string }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolveAnswer, reject) => {
    const request = http.request(url, { method: 'POST', agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => resolveAnswer({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.setTimeout(limitMs, () => request.destroy(new Error(`POST ${url}: no answer within ${limitMs} ms`)));
    request.on('error', reject);
    request.end(payload);
  });
}

