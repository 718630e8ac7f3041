/**
 * The engine as Node-RED's thread sees it: `engine()` is one worker thread per process, started on the
 * first job, shared by every connection node, so that SSH crypto, buffer churn and their garbage collection
 * never hold up the other flows. Jobs go over as plain data, a stream payload is pumped with back-pressure,
 * results come back with their Buffers handed over (no copy), progress and pool state as messages. A payload
 * Buffer is copied, not handed over: handing it over would empty it for every other holder (flow context, a
 * message a change node shared without a deep copy), and the bytes must stay where the user put them. If the worker dies (a bug, an exception nothing caught),
 * every job in flight fails once with EWORKER, and the next job starts a new worker.
 * NODE_RED_SCP_ENGINE=inline keeps the engine on Node-RED's thread (as before the worker; for comparisons).
 */
import path from 'path';
import { SHARE_ENV, Worker } from 'worker_threads';
import { TransferError } from '../errors';
import type { PoolStats, SshEndpoint } from '../ssh/types';
import type { ProgressEvent, UploadSource } from '../transfer';
import { LocalEngine } from './local-engine';
import { StreamPump } from './stream-pump';
import type { ConnectionEvents, ConnectionSetup, Engine, EngineConnection, EngineJob, EngineResult, JobHooks, JobOrder } from './types';
import { fromWireError, reviveBuffers, type HostMessage, type WorkerMessage } from './wire';

interface PendingJob {
  key: string;
  host: string;
  hooks: JobHooks;
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** the job's stream payloads, read while the worker asks */
  pumps: StreamPump[];
  /** after an abort: answers the job should the worker never confirm it */
  backstop?: NodeJS.Timeout;
  onAbort(): void;
}

interface PendingRequest {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface RegisteredConnection {
  setup: ConnectionSetup;
  events: ConnectionEvents;
  stats: PoolStats | undefined;
}

/** How long an aborted job may take to confirm the abort before the host answers it itself. */
const ABORT_CONFIRM_MS = 30_000;
/** How long closing a connection's pools in the worker may take before the host stops waiting. */
const CLOSE_LIMIT_MS = 15_000;

/** Calls a node's callback; what it throws must not reach the worker's message listener (it would end Node-RED). */
function safely(call: () => void): void {
  try {
    call();
  } catch {
    // the node's own fault; the engine carries on
  }
}

function engineStopped(host: string | undefined, detail: string): TransferError {
  return new TransferError('EWORKER', 'the transfer engine stopped while the work ran; the next message starts it again', { host, detail });
}

/** The engine in a worker thread. */
export class WorkerEngine implements Engine {
  private worker: Worker | undefined;
  /** connection keys the current worker knows */
  private readonly known = new Set<string>();
  private readonly connections = new Map<string, RegisteredConnection>();
  private readonly jobs = new Map<number, PendingJob>();
  private readonly requests = new Map<number, PendingRequest>();
  private readonly pumps = new Map<number, StreamPump>();
  private nextId = 1;
  private lastError: Error | undefined;

  constructor(private readonly script = path.join(__dirname, 'worker-main.js')) {}

  private post(message: HostMessage, transfer: ArrayBuffer[] = []): void {
    const worker = this.start();
    try {
      worker.postMessage(message, transfer);
    } catch {
      // memory the runtime refuses to hand over: a copy then
      worker.postMessage(message);
    }
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.script, { env: SHARE_ENV, stdout: false, stderr: false });
    this.worker = worker;
    this.lastError = undefined;
    // Idle, the worker must not keep Node-RED (or a test run) alive; ref()'d while work is in flight.
    worker.unref();
    worker.on('message', (message: WorkerMessage) => this.receive(message));
    worker.on('error', (error: Error) => {
      this.lastError = error;
    });
    // A message that could not be read on this side: its job is answered by the abort backstop or the worker's exit.
    worker.on('messageerror', () => undefined);
    worker.on('exit', (code) => this.stopped(worker, code));
    return worker;
  }

  private busy(): void {
    if (this.jobs.size + this.requests.size > 0) this.worker?.ref();
    else this.worker?.unref();
  }

  /** The worker ended: everything in flight fails once; the next job starts a new one. */
  private stopped(worker: Worker, code: number): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.known.clear();
    const detail = this.lastError ? `${this.lastError.name}: ${this.lastError.message}` : `exit code ${code}`;
    const affected = new Set([...this.jobs.values()].map((job) => job.key));
    for (const [id, job] of [...this.jobs]) {
      this.jobs.delete(id);
      this.endJob(job);
      job.reject(engineStopped(job.host, detail));
    }
    for (const [id, request] of [...this.requests]) {
      this.requests.delete(id);
      request.reject(engineStopped(undefined, detail));
    }
    for (const [key, connection] of this.connections) {
      connection.stats = undefined;
      // only the connections whose messages failed say so in the log
      if (affected.has(key)) safely(() => connection.events.onEngineStopped(detail));
    }
    this.busy();
  }

  private receive(message: WorkerMessage): void {
    switch (message.t) {
      case 'progress':
        this.progress(message.id, message.events);
        break;
      case 'debug':
        if (message.id !== undefined) {
          const debug = this.jobs.get(message.id)?.hooks.debug;
          if (debug) safely(() => debug(message.text));
        } else if (message.key !== undefined) {
          const events = this.connections.get(message.key)?.events;
          if (events) safely(() => events.onDebug(message.text));
        }
        break;
      case 'read':
        this.pumps.get(message.stream)?.grant();
        break;
      case 'done':
      case 'failed': {
        const job = this.jobs.get(message.id);
        if (!job) break;
        this.progress(message.id, message.events);
        this.jobs.delete(message.id);
        this.endJob(job);
        if (message.t === 'done') job.resolve(reviveBuffers(message.result));
        else job.reject(fromWireError(message.error));
        this.busy();
        break;
      }
      case 'reply':
      case 'replyError': {
        const request = this.requests.get(message.request);
        if (!request) break;
        this.requests.delete(message.request);
        if (message.t === 'reply') request.resolve(reviveBuffers(message.value));
        else request.reject(fromWireError(message.error));
        this.busy();
        break;
      }
      case 'state': {
        const error = message.error ? fromWireError(message.error) : undefined;
        const events = this.connections.get(message.key)?.events;
        if (events) safely(() => events.onState(message.state, error instanceof TransferError ? error : undefined));
        break;
      }
      case 'warning': {
        const events = this.connections.get(message.key)?.events;
        if (events) safely(() => events.onWarning(message.warning));
        break;
      }
      case 'closeFailed': {
        const events = this.connections.get(message.key)?.events;
        if (events) safely(() => events.onCloseFailed(message.detail));
        break;
      }
      case 'stats': {
        const connection = this.connections.get(message.key);
        if (connection) connection.stats = message.stats;
        break;
      }
    }
  }

  private progress(id: number, events: ProgressEvent[]): void {
    const onProgress = this.jobs.get(id)?.hooks.onProgress;
    if (onProgress) for (const event of events) safely(() => onProgress(event));
  }

  private endJob(job: PendingJob): void {
    job.hooks.signal.removeEventListener('abort', job.onAbort);
    if (job.backstop) clearTimeout(job.backstop);
    for (const pump of job.pumps) {
      this.pumps.delete(pump.id);
      pump.stop();
    }
  }

  private request<T>(message: (request: number) => HostMessage): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.requests.set(id, { resolve: resolve as (value: unknown) => void, reject });
      try {
        this.post(message(id));
      } catch (error) {
        // nothing crossed: no answer will come
        this.requests.delete(id);
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      this.busy();
    });
  }

  /**
   * The job as it crosses: stream sources as the ids of their pumps; a Buffer source copied once into memory
   * of its own, which is handed over (a slice of a bigger buffer would otherwise drag all of it along).
   */
  private send(id: number, key: string, order: JobOrder, job: PendingJob): void {
    let sent: JobOrder = order;
    const transfer: ArrayBuffer[] = [];
    if (order.job.kind === 'upload') {
      const sources = order.job.request.sources.map((source): UploadSource => {
        if (source.kind === 'buffer' && source.data instanceof Uint8Array && source.data.byteLength > 0) {
          const copy = new Uint8Array(source.data);
          transfer.push(copy.buffer);
          return { ...source, data: copy as Buffer };
        }
        if (source.kind !== 'stream') return source;
        const pump = new StreamPump(this.nextId++, source.stream, (message, moved) => this.post(message, moved));
        this.pumps.set(pump.id, pump);
        job.pumps.push(pump);
        return { ...source, stream: undefined, streamId: pump.id } as unknown as UploadSource;
      });
      sent = { ...order, job: { ...order.job, request: { ...order.job.request, sources } } };
    }
    this.post({ t: 'run', id, key, order: sent, progress: job.hooks.onProgress !== undefined, debug: job.hooks.debug !== undefined }, transfer);
    for (const pump of job.pumps) pump.start();
  }

  run(key: string, order: JobOrder, hooks: JobHooks): Promise<unknown> {
    const connection = this.connections.get(key);
    const host = `${order.endpoint.username}@${order.endpoint.host}:${order.endpoint.port}`;
    if (!connection) return Promise.reject(new TransferError('EABORTED', 'the connection node was closed', { host }));
    if (hooks.signal.aborted) return Promise.reject(new TransferError('EABORTED', 'the node was closed', { host }));
    if (!this.known.has(key)) {
      this.post({ t: 'connect', key, setup: connection.setup });
      this.known.add(key);
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const job: PendingJob = {
        key,
        host,
        hooks,
        resolve,
        reject,
        pumps: [],
        onAbort: () => {
          if (!this.jobs.has(id)) return;
          this.post({ t: 'abort', id });
          // The worker answers an aborted job once its clean-up ended; should that answer never come (a message
          // it could not read), the job is answered here, so nothing waits on it forever.
          job.backstop = setTimeout(() => {
            if (!this.jobs.delete(id)) return;
            this.endJob(job);
            job.reject(new TransferError('EABORTED', 'the node was closed; the engine did not confirm the abort', { host }));
            this.busy();
          }, ABORT_CONFIRM_MS);
          job.backstop.unref();
        },
      };
      this.jobs.set(id, job);
      hooks.signal.addEventListener('abort', job.onAbort, { once: true });
      try {
        this.send(id, key, order, job);
      } catch (error) {
        // nothing crossed (a job the thread cannot carry): this job fails, nothing else does
        this.jobs.delete(id);
        this.endJob(job);
        reject(new TransferError('EINVAL', 'the job cannot be handed to the transfer engine', { host, detail: (error as Error).message }));
        return;
      }
      this.busy();
    });
  }

  connect(setup: ConnectionSetup, events: ConnectionEvents): EngineConnection {
    const key = `c${this.nextId++}`;
    const registered: RegisteredConnection = { setup, events, stats: undefined };
    this.connections.set(key, registered);
    return {
      run: <Job extends EngineJob>(order: JobOrder<Job>, hooks: JobHooks) => this.run(key, order, hooks) as Promise<EngineResult<Job>>,
      stats: () => registered.stats,
      close: async () => {
        this.connections.delete(key);
        if (!this.known.has(key)) return;
        this.known.delete(key);
        let timer: NodeJS.Timeout | undefined;
        const limit = new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), CLOSE_LIMIT_MS);
          timer.unref();
        });
        const closing = this.request<PoolStats | undefined>((request) => ({ t: 'close', key, request })).catch(() => undefined);
        const stats = await Promise.race([closing, limit]);
        clearTimeout(timer);
        if (stats) registered.stats = stats;
      },
    };
  }

  test: Engine['test'] = (endpoint: SshEndpoint, options) => this.request((request) => ({ t: 'test', request, endpoint, options }));

  /** The worker's heap in use after a full collection when Node-RED runs with --expose-gc (for the bench). */
  heapUsed(): Promise<number | undefined> {
    if (!this.worker) return Promise.resolve(undefined);
    return this.request<number>((request) => ({ t: 'heap', request }));
  }

  /** Test hook: an exception nothing catches, in the worker. */
  crash(): void {
    if (this.worker) this.post({ t: 'crash' });
  }

  /** The worker thread's id while one runs (tests). */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }
}

let standard: Engine | undefined;
let replacement: Engine | undefined;

/** The engine every connection node of this process shares. */
export function engine(): Engine {
  if (replacement) return replacement;
  standard ??= process.env.NODE_RED_SCP_ENGINE === 'inline' ? new LocalEngine() : new WorkerEngine();
  return standard;
}

/**
 * Puts another engine behind the connection nodes set up from now on (undefined: the standard one again).
 * For tests that stub modules on Node-RED's thread, which a worker would not see.
 */
export function setEngine(engineToUse: Engine | undefined): void {
  replacement = engineToUse;
}

/** The worker's heap after a forced collection, in bytes; undefined when the engine runs inline or has not started. */
export function engineHeapUsed(): Promise<number | undefined> {
  return standard instanceof WorkerEngine ? standard.heapUsed() : Promise.resolve(undefined);
}

/** The standard worker engine, for the fault tests (undefined when inline). */
export function workerEngineForTests(): WorkerEngine | undefined {
  const current = engine();
  return current instanceof WorkerEngine ? current : undefined;
}

export { LocalEngine };
