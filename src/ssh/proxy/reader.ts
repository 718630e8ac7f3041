/**
 * Reads a proxy's handshake replies off a socket: waits for an exact number of bytes or for the end of an
 * HTTP header block, never buffers more than a bound, and hands back whatever arrived after the reply (the
 * SSH server's greeting may share the reply's TCP segment).
 */
import type * as net from 'node:net';

export class HandshakeReader {
  private buffered: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;
  private readonly onData = (chunk: Buffer): void => {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    this.wake();
  };
  private readonly onEnd = (): void => {
    this.ended ??= new Error('the proxy closed the connection during the handshake');
    this.wake();
  };

  constructor(private readonly socket: net.Socket) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  /** Exactly `count` bytes; rejects when the proxy closes first. */
  async bytes(count: number): Promise<Buffer> {
    while (this.buffered.length < count) await this.more();
    const taken = this.buffered.subarray(0, count);
    this.buffered = this.buffered.subarray(count);
    return taken;
  }

  /** The bytes up to and including the first CRLF CRLF, at most `limit` bytes of them. */
  async headerBlock(limit: number): Promise<Buffer> {
    for (;;) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end >= 0 && end + 4 <= limit) return this.bytes(end + 4);
      if (end >= 0 || this.buffered.length > limit) throw new Error(`the proxy's reply header is longer than ${limit} bytes`);
      await this.more();
    }
  }

  /** Stops reading and gives the socket back paused, with any bytes past the reply put back in front. */
  release(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.pause();
    if (this.buffered.length > 0) this.socket.unshift(this.buffered);
    this.buffered = Buffer.alloc(0);
  }

  private more(): Promise<void> {
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      this.waiter = () => {
        this.waiter = undefined;
        if (this.ended) reject(this.ended);
        else resolve();
      };
    });
  }

  private wake(): void {
    this.waiter?.();
  }
}
