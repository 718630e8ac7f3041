/**
 * The bytes a channel delivered and nobody read yet, copied into one reused ring buffer the moment they
 * arrive. ssh2 hands every packet over in a fresh buffer; holding those across the awaits of a transfer
 * (a file write, a reply) gets them promoted into the old generation, and in a long-lived process with a
 * shrunk heap that means a full collection every few megabytes. Copied at once, they die young; the ring
 * lives as long as the session and is allocated once. It grows (up to its cap) only while a consumer of
 * bulk data holds a loan bigger than the ring: control records never make it hold more than it starts with.
 *
 * When the ring is full the rest of a delivery is kept aside (`overflow`) and `push` says "pause the
 * channel": flow control stays with ssh2, which stops widening the window while its stream is paused.
 * Bulk data is lent out in place (`lend`, then `giveBack` once the consumer is done with the view), so the
 * only copy on the way to the file is the one into the ring.
 */
export class ByteInbox {
  private ring: Buffer;
  /** where the oldest unread byte is */
  private head = 0;
  private unread = 0;
  /** bytes just before `head` that are lent out (or read during a loan) and may not be overwritten yet */
  private lent = 0;
  private lending = false;
  /** the loan asked for more than the ring holds: bulk data, the ring may grow meanwhile */
  private bulk = false;
  /** the part of a delivery that did not fit; always taken in before anything newer */
  private overflow: Buffer | null = null;

  constructor(
    firstBytes: number,
    private readonly maxBytes: number,
  ) {
    this.ring = Buffer.allocUnsafe(Math.min(firstBytes, maxBytes));
  }

  /** Unread bytes, those waiting in the overflow included. */
  get length(): number {
    return this.unread + (this.overflow?.length ?? 0);
  }

  /** How big the ring has become (for tests proving memory stays bounded). */
  get capacity(): number {
    return this.ring.length;
  }

  /**
   * Whether a paused channel may deliver again: nothing waits in the overflow and a good part of the ring
   * is free (resuming for a few bytes would pause again at the next packet).
   */
  get hasRoom(): boolean {
    return this.overflow === null && this.free() >= this.ring.length / 4;
  }

  /** Copies a delivery in; returns false when part of it had to wait (the caller pauses the channel). */
  push(chunk: Buffer): boolean {
    if (this.overflow !== null) {
      // Only reached when the caller delivers despite a pause: keep order, never lose bytes.
      this.overflow = Buffer.concat([this.overflow, chunk]);
      return false;
    }
    const rest = this.copyIn(chunk);
    if (rest === null) return true;
    this.overflow = rest;
    return false;
  }

  /** Copies as much as fits (growing the ring up to its cap first); returns what did not fit. */
  private copyIn(chunk: Buffer): Buffer | null {
    if (this.free() < chunk.length && this.bulk) this.grow(this.unread + chunk.length);
    let from = 0;
    // The free space starts right after the unread bytes and runs (wrapping) up to the lent ones.
    while (from < chunk.length && this.free() > 0) {
      const tail = (this.head + this.unread) % this.ring.length;
      const room = Math.min(chunk.length - from, this.free(), this.ring.length - tail);
      chunk.copy(this.ring, tail, from, from + room);
      from += room;
      this.unread += room;
    }
    return from === chunk.length ? null : chunk.subarray(from);
  }

  private free(): number {
    return this.ring.length - this.unread - this.lent;
  }

  /** A bigger ring (at most maxBytes) holding the unread bytes from its start; the lent view keeps the old one alive. */
  private grow(wanted: number): void {
    if (this.ring.length >= this.maxBytes) return;
    let size = this.ring.length;
    while (size < wanted && size < this.maxBytes) size *= 2;
    size = Math.min(size, this.maxBytes);
    const grown = Buffer.allocUnsafe(size);
    this.copyOut(grown, this.unread);
    this.ring = grown;
    this.head = 0;
    // What is lent out stays in the old ring: it occupies nothing here.
    this.lent = 0;
  }

  /** Copies the first `count` unread bytes into `target` without consuming them. */
  private copyOut(target: Buffer, count: number, targetStart = 0): void {
    const first = Math.min(count, this.ring.length - this.head);
    this.ring.copy(target, targetStart, this.head, this.head + first);
    if (count > first) this.ring.copy(target, targetStart + first, 0, count - first);
  }

  /** Moves overflow into the ring as space frees up. */
  private refill(): void {
    if (this.overflow === null) return;
    const rest = this.copyIn(this.overflow);
    this.overflow = rest;
  }

  private consume(count: number): void {
    this.head = (this.head + count) % this.ring.length;
    this.unread -= count;
    // Read during a loan: those bytes stay occupied until the loan comes back (they sit behind it).
    if (this.lending) this.lent += count;
    if (this.unread === 0 && this.lent === 0) this.head = 0;
    this.refill();
  }

  /** The byte at `index` among the unread ones (overflow included), without consuming it. */
  private byteAt(index: number): number {
    if (index < this.unread) return this.ring[(this.head + index) % this.ring.length];
    return (this.overflow as Buffer)[index - this.unread];
  }

  /** Consumes and returns the next byte; undefined when there is none. */
  takeByte(): number | undefined {
    if (this.length === 0) return undefined;
    const byte = this.byteAt(0);
    if (this.unread > 0) this.consume(1);
    else this.overflow = this.overflow!.length > 1 ? this.overflow!.subarray(1) : null;
    return byte;
  }

  /** The position of `byte` among the first `within` unread bytes, or -1. */
  indexOf(byte: number, within: number): number {
    const limit = Math.min(within, this.length);
    for (let index = 0; index < limit; index += 1) if (this.byteAt(index) === byte) return index;
    return -1;
  }

  /** A copy of up to `max` unread bytes, consumed. */
  take(max: number): Buffer {
    const count = Math.min(max, this.length);
    const copy = this.peek(count);
    this.skip(count);
    return copy;
  }

  /** A copy of up to `max` unread bytes, left unread. */
  peek(max: number): Buffer {
    const count = Math.min(max, this.length);
    const copy = Buffer.allocUnsafe(count);
    const fromRing = Math.min(count, this.unread);
    this.copyOut(copy, fromRing);
    if (count > fromRing) (this.overflow as Buffer).copy(copy, fromRing, 0, count - fromRing);
    return copy;
  }

  /** Drops up to `count` unread bytes. */
  skip(count: number): void {
    let left = Math.min(count, this.length);
    while (left > 0) {
      if (this.unread === 0) {
        const overflow = this.overflow as Buffer;
        this.overflow = left < overflow.length ? overflow.subarray(left) : null;
        return;
      }
      const step = Math.min(left, this.unread);
      this.consume(step);
      left -= step;
    }
  }

  /**
   * Up to `max` unread bytes as a view into the ring, consumed but not yet free: valid (and not
   * overwritten) until `giveBack()`. One loan at a time. Empty when nothing is unread.
   */
  lend(max: number): Buffer {
    if (this.lending) throw new Error('ByteInbox: the previous loan was not given back');
    if (this.unread === 0 && this.overflow !== null) this.refill();
    const count = Math.min(max, this.unread, this.ring.length - this.head);
    const view = this.ring.subarray(this.head, this.head + count);
    this.lending = true;
    this.bulk = max > this.ring.length;
    this.lent = count;
    this.head = (this.head + count) % this.ring.length;
    this.unread -= count;
    return view;
  }

  /** The consumer is done with the last loan: its bytes may be overwritten now. */
  giveBack(): void {
    if (!this.lending) return;
    this.lending = false;
    this.bulk = false;
    this.lent = 0;
    if (this.unread === 0) this.head = 0;
    this.refill();
  }
}
