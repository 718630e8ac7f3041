/**
 * A stream payload crossing into the worker: the host reads the caller's stream only while the worker's
 * reader asks for more (back-pressure across the threads), and the worker sees an ordinary Readable.
 * At most GRANT_BYTES travel unasked, so a fast stream and a slow server never pile up memory.
 */
import { Readable } from 'stream';
import { TransferError } from '../errors';
import { fromWireError, toWireError, type HostMessage, type WireError } from './wire';

/** Bytes the host sends on one request of the reader. */
export const GRANT_BYTES = 1024 * 1024;

type Post = (message: HostMessage, transfer?: ArrayBuffer[]) => void;

/** Host side: pumps one caller's stream into the worker. */
export class StreamPump {
  private credit = 0;
  /** no more to send: the stream ended, failed, or the job stopped */
  private finished = false;
  /** the caller's stream was read to its end */
  private ended = false;
  private readonly onData = (chunk: unknown): void => this.send(chunk);
  private readonly onEnd = (): void => {
    this.finished = true;
    this.ended = true;
    this.post({ t: 'end', stream: this.id });
  };
  private readonly onError = (error: unknown): void => {
    if (this.finished) return;
    this.finished = true;
    this.post({ t: 'streamError', stream: this.id, error: toWireError(error) });
  };

  constructor(
    readonly id: number,
    private readonly stream: Readable,
    private readonly post: Post,
  ) {
    stream.on('error', this.onError);
    stream.on('end', this.onEnd);
    stream.on('data', this.onData);
    stream.pause();
  }

  /**
   * Called once the job is on its way to the worker: a stream that failed, was destroyed or was read to its
   * end before the job started sends no event again, so the worker hears of it now rather than after a timeout.
   */
  start(): void {
    const stream = this.stream;
    if (stream.readableEnded) this.onEnd();
    else if (stream.errored) this.onError(stream.errored);
    else if (stream.destroyed) this.onError(new TransferError('EINVAL', 'the payload stream was closed before the upload started'));
  }

  /** The worker's reader asked for more. */
  grant(): void {
    if (this.finished) return;
    this.credit = GRANT_BYTES;
    this.stream.resume();
  }

  private send(chunk: unknown): void {
    if (this.finished) return;
    let bytes: Uint8Array;
    if (typeof chunk === 'string') bytes = new Uint8Array(Buffer.from(chunk, 'utf8'));
    // new Uint8Array(chunk) copies (Buffer#slice would not: it is a view)
    else if (chunk instanceof Uint8Array) bytes = new Uint8Array(chunk);
    else {
      this.onError(new TransferError('EINVAL', 'the payload stream gave something other than bytes or text'));
      this.stream.pause();
      return;
    }
    // A copy of its own: the caller's chunk may be read by others (a stream piped twice). Its size is taken
    // before it is handed over: a moved buffer reads as empty.
    const size = bytes.byteLength;
    this.post({ t: 'chunk', stream: this.id, data: bytes }, size > 0 ? [bytes.buffer as ArrayBuffer] : []);
    this.credit -= size;
    if (this.credit <= 0) this.stream.pause();
  }

  /** The job ended: stop reading; a stream the job did not read to its end is destroyed (as on the thread). */
  stop(): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.finished = true;
    // The error listener stays: a destroyed or later failing stream must not crash Node-RED.
    if (!this.ended) this.stream.destroy();
  }
}

/** Worker side: the stream the engine reads, fed by the host's pump. */
export class PumpedStream extends Readable {
  /** bytes of the last grant not yet arrived: the reader asks again only once they have */
  private owed = 0;

  constructor(
    readonly id: number,
    private readonly ask: (stream: number) => void,
  ) {
    super({ highWaterMark: GRANT_BYTES });
    // The engine adds its own listeners; this one keeps an unread failure from becoming an uncaught one.
    this.on('error', () => undefined);
  }

  override _read(): void {
    // The pump sends a whole grant unless the stream ends or fails first: one request per grant.
    if (this.owed > 0) return;
    this.owed = GRANT_BYTES;
    this.ask(this.id);
  }

  chunk(data: Uint8Array): void {
    this.owed -= data.byteLength;
    this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  finish(): void {
    this.push(null);
  }

  fail(error: WireError): void {
    this.destroy(fromWireError(error));
  }
}
