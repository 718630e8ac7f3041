/**
 * Preloaded into the bench's Node-RED process (`node --require heap-probe.js red.js ...`): a small HTTP
 * server on 127.0.0.1 that lets the bench read that process's memory the way a leak question needs it.
 * RSS alone swings by tens of MiB with where V8 is in its garbage collection cycle (young generation grown
 * under load, old generation holding garbage until the next full collection), so "no growth over 10,000
 * messages" is read after a forced full collection:
 *   GET /heap                  → {heapUsed, rss, engineHeapUsed | engineNote} after two full garbage collections
 *                                (inspector's HeapProfiler) of Node-RED's thread, and the engine worker's heap
 *   GET /snapshot?file=PATH    → a heap snapshot written to PATH after the same collections (leak hunting)
 * It prints "heap probe listening on PORT" on stdout, which the bench reads from Node-RED's output.
 *
 * The package's engine may run in a worker thread with a heap of its own, which Node-RED's heap statistics do
 * not include: the package's dist/engine/host.js exports engineHeapUsed() (a forced collection in the worker
 * when node runs with --expose-gc, then its heap used; undefined without a running worker). The probe loads
 * that module when asked (the same module instance as the nodes', by Node's module cache) and, where the
 * build has none, says "engine heap: not available".
 */
import http from 'node:http';
import { Session } from 'node:inspector';
import { resolve } from 'node:path';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';

/** this file runs from .test-build/bench/; the package's build is dist/ at the package root */
const ENGINE_HOST = resolve(__dirname, '..', '..', 'dist', 'engine', 'host.js');

const session = new Session();
session.connect();

function post(method: string): Promise<void> {
  return new Promise((resolve, reject) => session.post(method, (error) => (error ? reject(error) : resolve())));
}

/** Two full collections, a turn of the event loop apart (weak callbacks and finalizers run in between). */
async function collectGarbage(): Promise<void> {
  await post('HeapProfiler.collectGarbage');
  await new Promise((resolve) => setImmediate(resolve));
  await post('HeapProfiler.collectGarbage');
}

async function engineHeap(): Promise<{ engineHeapUsed: number } | { engineNote: string }> {
  let host: { engineHeapUsed?: unknown };
  try {
    host = (await import(ENGINE_HOST)) as { engineHeapUsed?: unknown };
  } catch (error) {
    const absent = (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String(error).includes(ENGINE_HOST);
    return { engineNote: `engine heap: not available (${absent ? 'this build has no dist/engine/host.js' : String(error).slice(0, 300)})` };
  }
  if (typeof host.engineHeapUsed !== 'function') return { engineNote: 'engine heap: not available (dist/engine/host.js exports no engineHeapUsed)' };
  const used: unknown = await (host.engineHeapUsed as () => Promise<unknown>)();
  return typeof used === 'number' ? { engineHeapUsed: used } : { engineNote: 'engine heap: not available (no engine worker running)' };
}

const server = http.createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const answer = async (): Promise<unknown> => {
    await collectGarbage();
    if (url.pathname === '/heap') {
      const heapUsed = getHeapStatistics().used_heap_size;
      return { heapUsed, ...(await engineHeap()), rss: process.memoryUsage.rss() };
    }
    const file = url.searchParams.get('file');
    if (url.pathname === '/snapshot' && file) return { file: writeHeapSnapshot(file) };
    throw new Error(`unknown request ${url.pathname}`);
  };
  answer().then(
    (body) => response.end(JSON.stringify(body)),
    (error: unknown) => {
      response.statusCode = 500;
      response.end(String(error));
    },
  );
});
server.on('error', (error) => console.error(`heap probe: ${error.message}`));
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  // bench/contenders/node-red.ts looks for this line (not imported from here: importing starts a probe).
  console.log(`heap probe listening on ${typeof address === 'object' && address ? address.port : 0}`);
});
// Never what keeps Node-RED running.
server.unref();
