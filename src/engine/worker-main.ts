/**
 * The engine's worker thread: the LocalEngine driven by messages from host.ts. Jobs, aborts, stream
 * chunks and connection closes come in; results, progress (bytes coalesced to a few per second), pool
 * state, warnings and counters go out. Nothing here outlives its job except the pools, which live until
 * their connection node closes them (or this thread ends).
 */
import v8 from 'v8';
import { parentPort } from 'worker_threads';
import type { ProgressEvent, UploadSource } from '../transfer';
import { LocalEngine } from './local-engine';
import { PumpedStream } from './stream-pump';
import type { EngineConnection, JobOrder } from './types';
import { reviveBuffers, toWireError, transferablesIn, type HostMessage, type WorkerMessage } from './wire';

/** A job's progress crosses at most this often (the nodes show it 4 times a second). */
const PROGRESS_EVERY_MS = 100;
/** How often the pools' counters are compared with what the host last saw. */
const STATS_EVERY_MS = 250;

function notInWorker(): never {
  throw new Error('worker-main runs only as a worker thread');
}

const port = parentPort ?? notInWorker();

const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []): void => {
  try {
    port.postMessage(message, transfer);
  } catch {
    // memory the runtime will not hand over (an unusual Buffer): send a copy instead
    port.postMessage(message);
  }
};

const engine = new LocalEngine();
const connections = new Map<string, { connection: EngineConnection; shown: string }>();
const running = new Map<number, AbortController>();
const streams = new Map<number, PumpedStream>();

function reportStats(key: string): void {
  const entry = connections.get(key);
  const stats = entry?.connection.stats();
  if (!entry || !stats) return;
  const shown = JSON.stringify(stats);
  if (shown === entry.shown) return;
  entry.shown = shown;
  post({ t: 'stats', key, stats });
}

const statsTimer = setInterval(() => {
  for (const key of connections.keys()) reportStats(key);
}, STATS_EVERY_MS);
statsTimer.unref();

/**
 * A job's progress crosses in batches, at most one every PROGRESS_EVERY_MS, in order, each run of 'bytes'
 * events reduced to its latest; what is left when the job ends rides on its answer. A small job's whole
 * progress thus costs no message of its own (each message wakes Node-RED's thread).
 */
class ProgressBatch {
  private events: ProgressEvent[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly id: number) {}

  add(event: ProgressEvent): void {
    const last = this.events[this.events.length - 1];
    if (event.type === 'bytes' && last?.type === 'bytes') this.events[this.events.length - 1] = event;
    else this.events.push(event);
    this.timer ??= setTimeout(() => this.flush(), PROGRESS_EVERY_MS);
  }

  private flush(): void {
    this.timer = undefined;
    try {
      if (this.events.length > 0) post({ t: 'progress', id: this.id, events: this.take() });
    } catch {
      // progress is a courtesy: the job's answer still comes
    }
  }

  /** What is still to send, for the job's answer. */
  take(): ProgressEvent[] {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const events = this.events;
    this.events = [];
    return events;
  }
}

/** The job's stream sources become PumpedStreams; its Buffers become Buffers again. */
function receiveOrder(order: JobOrder): { order: JobOrder; pumped: PumpedStream[] } {
  reviveBuffers(order);
  const pumped: PumpedStream[] = [];
  const uploads: UploadSource[] = order.job.kind === 'upload' ? order.job.request.sources : [];
  for (const source of uploads) {
    if (source.kind !== 'stream') continue;
    const streamId = (source as unknown as { streamId: number }).streamId;
    const stream = new PumpedStream(streamId, (stream) => post({ t: 'read', stream }));
    streams.set(streamId, stream);
    pumped.push(stream);
    source.stream = stream;
  }
  return { order, pumped };
}

/** The job's answer; should even that not cross (a result the runtime cannot copy), a plain failure does. */
function answer(message: Extract<WorkerMessage, { t: 'done' | 'failed' }>, transfer: ArrayBuffer[] = []): void {
  try {
    post(message, transfer);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    port.postMessage({ t: 'failed', id: message.id, events: [], error: { name: 'Error', message: `the result could not be sent to Node-RED's thread: ${why}` } });
  }
}

async function run(message: Extract<HostMessage, { t: 'run' }>): Promise<void> {
  const { id, key } = message;
  const controller = new AbortController();
  running.set(id, controller);
  const progress = message.progress ? new ProgressBatch(id) : undefined;
  let pumped: PumpedStream[] = [];
  try {
    const received = receiveOrder(message.order);
    pumped = received.pumped;
    const entry = connections.get(key);
    if (!entry) throw new Error(`no connection ${key} in the engine`);
    const result = await entry.connection.run(received.order, {
      signal: controller.signal,
      ...(progress ? { onProgress: (event: ProgressEvent) => progress.add(event) } : {}),
      ...(message.debug ? { debug: (text: string) => post({ t: 'debug', id, text }) } : {}),
    });
    reportStats(key);
    // Downloaded Buffers were made here and nobody else holds them: handed over, not copied.
    answer({ t: 'done', id, result, events: progress?.take() ?? [] }, transferablesIn(result));
  } catch (error) {
    reportStats(key);
    answer({ t: 'failed', id, error: toWireError(error), events: progress?.take() ?? [] });
  } finally {
    running.delete(id);
    for (const stream of pumped) {
      streams.delete(stream.id);
      stream.destroy();
    }
  }
}

function connect(message: Extract<HostMessage, { t: 'connect' }>): void {
  const { key } = message;
  if (connections.has(key)) return;
  const connection = engine.connect(message.setup, {
    onState: (state, error) => post({ t: 'state', key, state, ...(error ? { error: toWireError(error) } : {}) }),
    onWarning: (warning) => post({ t: 'warning', key, warning }),
    onDebug: (text) => post({ t: 'debug', key, text }),
    onCloseFailed: (detail) => post({ t: 'closeFailed', key, detail }),
    // the host tells its nodes when this thread stops; nothing here outlives that
    onEngineStopped: () => undefined,
  });
  connections.set(key, { connection, shown: '' });
}

async function reply(request: number, work: () => Promise<unknown>): Promise<void> {
  try {
    post({ t: 'reply', request, value: await work() });
  } catch (error) {
    try {
      post({ t: 'replyError', request, error: toWireError(error) });
    } catch {
      port.postMessage({ t: 'replyError', request, error: { name: 'Error', message: 'the answer could not be sent' } });
    }
  }
}

function heapUsed(): number {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect) collect();
  return v8.getHeapStatistics().used_heap_size;
}

// A message this side could not read: its job is answered by the host's abort backstop or the node's close.
port.on('messageerror', () => undefined);

port.on('message', (message: HostMessage) => {
  switch (message.t) {
    case 'connect':
      connect(message);
      break;
    case 'run':
      void run(message);
      break;
    case 'abort':
      running.get(message.id)?.abort();
      break;
    case 'chunk':
      streams.get(message.stream)?.chunk(message.data);
      break;
    case 'end':
      streams.get(message.stream)?.finish();
      break;
    case 'streamError':
      streams.get(message.stream)?.fail(message.error);
      break;
    case 'close': {
      const entry = connections.get(message.key);
      connections.delete(message.key);
      void reply(message.request, async () => {
        await entry?.connection.close();
        return entry?.connection.stats();
      });
      break;
    }
    case 'test':
      void reply(message.request, () => engine.test(reviveBuffers(message.endpoint), message.options));
      break;
    case 'heap':
      void reply(message.request, () => Promise.resolve(heapUsed()));
      break;
    case 'crash':
      // The fault test's hook: an exception nothing catches ends this thread, as a bug would.
      setImmediate(() => {
        throw new Error('the engine was told to fail (test hook)');
      });
      break;
  }
});
