/**
 * The nodes inside a real Node-RED runtime (Node-RED 4.1 of node_modules, in a child process, with this
 * package's nodes from dist/): copies are HTTP requests to the bench flow, timed from outside; CPU is the
 * Node-RED process's (from /proc).
 */
import http from 'node:http';
import { resolve } from 'node:path';
import { makeTempDir, type SshdServer } from '../../test/harness';
import { httpRequest, startNodeRedProcess, type NodeRedProcess } from '../../test/support/node-red-process';
import { ENDPOINTS, benchFlow } from '../flows';
import { cpuSeconds } from '../proc';
import { elapsedMs, type Contender, type CopyJob, type Sample } from './types';

const PACKAGE_ROOT = resolve(__dirname, '..', '..', '..');

export interface BenchNodeRed {
  red: NodeRedProcess;
  contender: Contender;
  /** the same nodes through the connection node whose transport is 'sftp' (single files only) */
  sftpContender: Contender;
  /** one message through an endpoint: the HTTP status and body */
  post(path: string, body: object): Promise<{ status: number; body: string }>;
  /** heap used and RSS of the Node-RED process after a forced full garbage collection (bench/heap-probe.ts) */
  heap(): Promise<HeapFigures>;
  /** a heap snapshot of the Node-RED process written to `file` (after the same collection) */
  snapshot(file: string): Promise<void>;
}

export interface HeapFigures {
  heapUsed: number;
  rss: number;
}

/** Preloaded into Node-RED: answers the heap questions above. */
const HEAP_PROBE = resolve(__dirname, '..', 'heap-probe.js');

export async function startBenchNodeRed(server: SshdServer): Promise<BenchNodeRed> {
  const userDir = await makeTempDir('bench-node-red');
  const red = await startNodeRedProcess({
    userDir,
    // The package root is scanned as a Node-RED module (its package.json names the nodes in dist/), as `npm start` does.
    settings: { nodesDir: [PACKAGE_ROOT] },
    // BENCH_NODE_OPTIONS reaches the Node-RED process only (e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof --trace-gc'),
    // as node's own arguments: NODE_OPTIONS refuses --cpu-prof.
    execArgv: ['--require', HEAP_PROBE, ...(process.env.BENCH_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean)],
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
    return { ms, cpuSeconds: cpuSeconds(red.pid) - cpu };
  };
  return {
    red,
    post,
    contender: { name: 'Node-RED nodes', recursive: true, copy: copyThrough(false) },
    sftpContender: { name: 'Node-RED nodes (sftp)', recursive: false, copy: copyThrough(true) },
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

