/**
 * A throttled link on 127.0.0.1: a TCP forwarder in front of a server that lets through at most
 * `bytesPerSecond` in each direction, smoothly (small slices every few milliseconds, never a second's worth
 * at once), and counts the bytes that crossed it. The compression tests assert on those counts.
 * It runs in a worker thread: the client's own CPU work (compressing, encrypting) in the test's event loop
 * must not stall the link, as it would not stall a real one.
 */
import * as net from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

export interface ThrottledRelay {
  host: '127.0.0.1';
  port: number;
  /** bytes the relay passed from the client to the server, over all connections */
  readonly bytesUp: number;
  /** bytes the relay passed from the server to the client */
  readonly bytesDown: number;
  /** zeroes both counters (between measurements) */
  resetCounts(): void;
  close(): Promise<void>;
}

/** How often the relay hands out bytes; each tick passes at most rate × elapsed (at most a tick's burst). */
const TICK_MS = 5;
const CATCH_UP_MS = 50;
/** The read-ahead per direction: the sender is paused beyond this, as a slow link's buffers would. */
const QUEUE_LIMIT = 256 * 1024;

/** One direction of one connection: reads from `from`, writes to `to` at the rate. */
class ThrottledPipe {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private allowance = 0;
  private last = Date.now();
  private readonly timer: NodeJS.Timeout;
  private ended = false;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly bytesPerSecond: number,
    private readonly count: (bytes: number) => void,
  ) {
    from.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      this.queued += chunk.length;
      if (this.queued > QUEUE_LIMIT) from.pause();
    });
    from.on('end', () => {
      this.ended = true;
    });
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = Date.now();
    // A late tick (a loaded machine) may catch up, but by at most CATCH_UP_MS: never a burst of a second.
    this.allowance = Math.min(this.allowance + ((now - this.last) * this.bytesPerSecond) / 1000, (CATCH_UP_MS * this.bytesPerSecond) / 1000);
    this.last = now;
    while (this.allowance >= 1 && this.queue.length > 0 && !this.to.destroyed) {
      const head = this.queue[0] as Buffer;
      const size = Math.min(head.length, Math.floor(this.allowance));
      const slice = head.subarray(0, size);
      if (size === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(size);
      this.queued -= size;
      this.allowance -= size;
      this.count(size);
      this.to.write(slice);
    }
    if (this.queued <= QUEUE_LIMIT / 2 && this.from.isPaused() && !this.from.destroyed) this.from.resume();
    if (this.ended && this.queue.length === 0 && !this.to.destroyed) {
      this.to.end();
      this.stop();
    }
  }
}

/** Counters shared with the worker: [bytes up, bytes down]. */
type Counters = BigInt64Array;

function runRelay(target: { host: string; port: number }, bytesPerSecond: number, counters: Counters, listening: (port: number) => void): () => Promise<void> {
  const open = new Set<net.Socket>();
  const pipes = new Set<ThrottledPipe>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: target.host, port: target.port });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
    }
    const up = new ThrottledPipe(client, upstream, bytesPerSecond, (n) => Atomics.add(counters, 0, BigInt(n)));
    const down = new ThrottledPipe(upstream, client, bytesPerSecond, (n) => Atomics.add(counters, 1, BigInt(n)));
    pipes.add(up);
    pipes.add(down);
    const teardown = (): void => {
      up.stop();
      down.stop();
      pipes.delete(up);
      pipes.delete(down);
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    // A graceful end travels through the pipe after its queued bytes; a broken side tears both down.
    let closed = 0;
    const onClose = (hadError: boolean): void => {
      closed += 1;
      if (hadError || closed === 2) teardown();
    };
    client.on('close', onClose);
    upstream.on('close', onClose);
  });
  server.on('error', () => undefined);
  server.listen(0, '127.0.0.1', () => listening((server.address() as net.AddressInfo).port));
  return () =>
    new Promise<void>((done) => {
      for (const pipe of pipes) pipe.stop();
      for (const socket of open) socket.destroy();
      server.close(() => done());
    });
}

interface RelayWorkerData {
  throttledRelay: true;
  target: { host: string; port: number };
  bytesPerSecond: number;
  counters: SharedArrayBuffer;
}

if (!isMainThread && (workerData as Partial<RelayWorkerData> | null)?.throttledRelay === true && parentPort) {
  const data = workerData as RelayWorkerData;
  const port = parentPort;
  const close = runRelay(data.target, data.bytesPerSecond, new BigInt64Array(data.counters), (listeningOn) => port.postMessage({ port: listeningOn }));
  port.on('message', () => {
    void close().then(() => process.exit(0));
  });
}

export function startThrottledRelay(target: { host: string; port: number }, bytesPerSecond: number): Promise<ThrottledRelay> {
  const shared = new SharedArrayBuffer(16);
  const counters = new BigInt64Array(shared);
  const worker = new Worker(__filename, { workerData: { throttledRelay: true, target: { host: target.host, port: target.port }, bytesPerSecond, counters: shared } satisfies RelayWorkerData });
  // (a relay a test forgot to close must not keep the run from ending)
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', ({ port }: { port: number }) => {
      resolve({
        host: '127.0.0.1',
        port,
        get bytesUp() {
          return Number(Atomics.load(counters, 0));
        },
        get bytesDown() {
          return Number(Atomics.load(counters, 1));
        },
        resetCounts: () => {
          Atomics.store(counters, 0, 0n);
          Atomics.store(counters, 1, 0n);
        },
        close: async () => {
          worker.postMessage('close');
          await exited;
        },
      });
    });
  });
}
