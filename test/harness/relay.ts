/**
 * A throttled link on 127.0.0.1: a TCP forwarder in front of a server that lets through at most
 * `bytesPerSecond` in each direction, smoothly (small slices every few milliseconds, never a second's worth
 * at once), and counts the bytes that crossed it. The compression tests assert on those counts.
 */
import * as net from 'node:net';

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
    // At most two ticks' worth: a stalled event loop must not turn into a burst.
    this.allowance = Math.min(this.allowance + ((now - this.last) * this.bytesPerSecond) / 1000, (2 * TICK_MS * this.bytesPerSecond) / 1000);
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

export function startThrottledRelay(target: { host: string; port: number }, bytesPerSecond: number): Promise<ThrottledRelay> {
  let bytesUp = 0;
  let bytesDown = 0;
  const open = new Set<net.Socket>();
  const pipes = new Set<ThrottledPipe>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: target.host, port: target.port });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
    }
    const up = new ThrottledPipe(client, upstream, bytesPerSecond, (n) => (bytesUp += n));
    const down = new ThrottledPipe(upstream, client, bytesPerSecond, (n) => (bytesDown += n));
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
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        host: '127.0.0.1',
        port,
        get bytesUp() {
          return bytesUp;
        },
        get bytesDown() {
          return bytesDown;
        },
        resetCounts: () => {
          bytesUp = 0;
          bytesDown = 0;
        },
        close: () =>
          new Promise<void>((done) => {
            for (const pipe of pipes) pipe.stop();
            for (const socket of open) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
