/**
 * The fake server's half of one exec channel, for scripting hostile `scp -f` replies: take what the
 * client sent, send bytes on stdout or stderr (respecting the channel window, so the fake server itself
 * never buffers without bound), count everything pushed, and notice when the client gave up.
 */
import type { ServerChannel } from 'ssh2';
import { ByteQueue } from '../support/byte-queue';

export class ServerSide {
  private readonly fromClient = new ByteQueue('client');
  private closed = false;
  /** stdout + stderr bytes that ssh2 accepted for the wire (the window allowed them) */
  pushed = 0;

  constructor(readonly channel: ServerChannel) {
    channel.on('data', (chunk: Buffer) => this.fromClient.push(chunk));
    channel.on('end', () => this.fromClient.end());
    channel.on('close', () => {
      this.closed = true;
      this.fromClient.end();
    });
  }

  /** The next `n` bytes from the client; throws when the client ends first (the script then stops). */
  take(n: number): Promise<Buffer> {
    return this.fromClient.take(n);
  }

  /** One line the client sent, without its '\n' (latin1); throws when the client ends first. */
  takeLine(): Promise<string> {
    return this.fromClient.takeLine('latin1');
  }

  /** Waits for one \0 from the client (the start signal or an acknowledgement). */
  async ack(): Promise<void> {
    const byte = await this.take(1);
    if (byte[0] !== 0) throw new Error(`client answered 0x${byte[0].toString(16)} instead of an ack`);
  }

  /** Resolves when the client closed its side (EOF or channel close): how a stall ends. */
  async clientEnded(): Promise<void> {
    await this.fromClient.whenEnded();
  }

  /**
   * Writes and waits until ssh2 has put the bytes on the wire; false when the channel closed first.
   * Strings are latin1 (one char = one byte) so scripts can write any byte.
   */
  async send(bytes: Buffer | string, to: 'stdout' | 'stderr' = 'stdout'): Promise<boolean> {
    const stream = to === 'stdout' ? this.channel : this.channel.stderr;
    if (this.closed || !stream.writable) return false;
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    return new Promise<boolean>((resolve) => {
      const done = (written: boolean): void => {
        this.channel.off('close', onClose);
        if (written) this.pushed += data.length;
        resolve(written);
      };
      const onClose = (): void => done(false);
      this.channel.on('close', onClose);
      stream.write(data, (error) => {
        // ssh2 1.17 server channels keep the last window-blocked chunk (`_chunk` / `_chunkErr`) after it was
        // sent; with stdout and stderr both waiting for the window, a WINDOW_ADJUST replays the stale one
        // (ERR_MULTIPLE_CALLBACK, channel destroyed). Only a server writing both streams hits it.
        const internals = this.channel as unknown as Record<string, unknown>;
        if (to === 'stdout') internals._chunk = internals._chunkcb = undefined;
        else internals._chunkErr = internals._chunkcbErr = undefined;
        done(!error);
      });
    });
  }

  /** Sends `block` until `limit` bytes went out or the client closed; returns the bytes sent. */
  async flood(block: Buffer, limit: number, to: 'stdout' | 'stderr' = 'stdout'): Promise<number> {
    let sent = 0;
    while (sent < limit && (await this.send(block, to))) sent += block.length;
    return sent;
  }

  exit(code: number): void {
    if (this.closed || this.channel.destroyed) return;
    this.channel.exit(code);
    this.channel.end();
  }
}
