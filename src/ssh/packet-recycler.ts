/**
 * Buffers of outgoing SSH packets, used again once the socket has written them. ssh2 allocates a fresh
 * buffer for every packet it sends (32 KiB each for bulk data, 32,768 of them per GiB uploaded) and fills
 * its padding with a random-number call per packet. In a long-lived process whose heap V8 has shrunk
 * after idling, that stream of short-lived external memory keeps the collector marking the whole heap
 * over and over; recycled, the same upload allocates a few dozen packet buffers. Knows nothing of ssh2:
 * ssh2-internals.ts hooks it in, and only for ciphers that encrypt a packet in place and hand that very
 * buffer to the socket, so a buffer comes back only after the socket's write callback said it is done.
 */
import { randomFillSync } from 'node:crypto';
import type * as net from 'node:net';

/** Payloads smaller than this (control messages, short writes) keep ssh2's own allocation. */
const MIN_RECYCLED_PAYLOAD = 16 * 1024;
/** Free buffers kept at most (a channel window's worth of 32 KiB packets and some). */
const MAX_FREE = 96;
/** Random bytes fetched at once for the padding of recycled packets (each byte used once). */
const RANDOM_RESERVOIR_BYTES = 64 * 1024;

/** What a fresh packet of one payload length looks like before its payload is written. */
interface Layout {
  payloadLength: number;
  bufferLength: number;
  /** packet_length (4 bytes) and padding_length (1 byte), as the cipher wrote them */
  header: Buffer;
}

export interface RecyclerStats {
  /** packet buffers the cipher allocated itself */
  fresh: number;
  /** packet buffers handed out again after the socket wrote them */
  reused: number;
  /** ciphers seen: the first one and one per re-key */
  ciphers: number;
}

export class PacketRecycler {
  private layout: Layout | undefined;
  private free: Buffer[] = [];
  /** buffers handed out and not yet written, with the generation they belong to */
  private readonly lent = new WeakMap<Buffer, number>();
  /** bumped when the cipher changes (a re-key): buffers of an older cipher are not taken back */
  private generation = 0;
  private random = Buffer.alloc(0);
  private randomAt = 0;
  readonly stats: RecyclerStats = { fresh: 0, reused: 0, ciphers: 0 };

  /**
   * A buffer for a packet of `payloadLength` bytes: a recycled one with the header and fresh random
   * padding written (the payload is written by the caller), or `allocate`'s own.
   */
  packet(payloadLength: number, allocate: (payloadLength: number) => Buffer): Buffer {
    if (payloadLength < MIN_RECYCLED_PAYLOAD) return allocate(payloadLength);
    const layout = this.layout;
    const reusable = layout !== undefined && layout.payloadLength === payloadLength ? this.free.pop() : undefined;
    if (reusable === undefined || layout === undefined) {
      const fresh = allocate(payloadLength);
      this.stats.fresh += 1;
      this.learn(payloadLength, fresh);
      this.lent.set(fresh, this.generation);
      return fresh;
    }
    layout.header.copy(reusable, 0);
    this.pad(reusable, 5 + payloadLength, layout.header[4]);
    this.stats.reused += 1;
    this.lent.set(reusable, this.generation);
    return reusable;
  }

  /** Whether `chunk` is a packet buffer of ours on its way to the socket. */
  isLent(chunk: unknown): chunk is Buffer {
    return Buffer.isBuffer(chunk) && this.lent.has(chunk);
  }

  /** The socket has written `buffer` (its write callback ran without error): it may be used again. */
  written(buffer: Buffer): void {
    const generation = this.lent.get(buffer);
    this.lent.delete(buffer);
    if (generation !== this.generation || this.layout === undefined || buffer.length !== this.layout.bufferLength) return;
    if (this.free.length < MAX_FREE) this.free.push(buffer);
  }

  /** The cipher changed (a re-key): what was learnt about packets and the free buffers are dropped. */
  reset(): void {
    this.stats.ciphers += 1;
    this.generation += 1;
    this.layout = undefined;
    this.free = [];
  }

  /** Remembers what a fresh packet of this payload length looks like (one length: bulk data is uniform). */
  private learn(payloadLength: number, fresh: Buffer): void {
    if (this.layout?.payloadLength === payloadLength && this.layout.bufferLength === fresh.length) return;
    const padding = fresh[4];
    // A header that does not describe this buffer (another packet format) is not learnt: no reuse then.
    if (fresh.length < 5 + payloadLength + padding || fresh.readUInt32BE(0) !== 1 + payloadLength + padding) return;
    this.layout = { payloadLength, bufferLength: fresh.length, header: Buffer.from(fresh.subarray(0, 5)) };
    this.free = [];
  }

  /** Fills `length` bytes at `at` with random bytes, taken from a reservoir refilled in bulk. */
  private pad(buffer: Buffer, at: number, length: number): void {
    if (this.randomAt + length > this.random.length) {
      if (this.random.length === 0) this.random = Buffer.allocUnsafe(RANDOM_RESERVOIR_BYTES);
      randomFillSync(this.random);
      this.randomAt = 0;
    }
    this.random.copy(buffer, at, this.randomAt, this.randomAt + length);
    this.randomAt += length;
  }
}

/**
 * ssh2 writes every packet to the socket on its own (32,768 writes per GiB uploaded): the packets written
 * in one turn of the event loop go out together instead, as one writev when the turn ends.
 */
export function gatherWrites(socket: net.Socket): void {
  const write = socket.write;
  let gathering = false;
  socket.write = function gathered(this: net.Socket, ...args: unknown[]): boolean {
    if (!gathering && !socket.destroyed) {
      gathering = true;
      socket.cork();
      process.nextTick(() => {
        gathering = false;
        socket.uncork();
      });
    }
    return (write as (...all: unknown[]) => boolean).apply(this, args);
  } as typeof socket.write;
}
