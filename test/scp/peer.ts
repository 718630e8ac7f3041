/**
 * A scripted SCP peer over in-memory streams: the test plays the server, byte by byte, and sees exactly
 * what the session under test sent.
 */
import assert from 'assert';
import { EventEmitter } from 'events';
import { PassThrough } from 'stream';
import { TransferError } from '../../src/errors';
import type { ScpStreams } from '../../src/scp';

export class ScriptedPeer {
  /** what the session writes (its stdin) */
  readonly toServer = new PassThrough();
  /** what the session reads (its stdout) */
  readonly fromServer = new PassThrough();
  readonly stderr = new PassThrough();
  readonly channel = new EventEmitter();
  private received: Buffer = Buffer.alloc(0);
  private receivedEnd = false;
  private waiters: (() => void)[] = [];

  constructor() {
    this.toServer.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake();
    });
    this.toServer.on('end', () => {
      this.receivedEnd = true;
      this.wake();
    });
    this.toServer.on('close', () => {
      this.receivedEnd = true;
      this.wake();
    });
  }

  get streams(): ScpStreams {
    return { stdout: this.fromServer, stdin: this.toServer, stderr: this.stderr, channel: this.channel };
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  private async until(test: () => boolean): Promise<void> {
    while (!test()) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Exactly `n` bytes that the session sent (waits for them). */
  async take(n: number): Promise<Buffer> {
    await this.until(() => this.received.length >= n || this.receivedEnd);
    if (this.received.length < n) throw new Error(`peer: wanted ${n} bytes, the session ended after ${this.received.length}`);
    const out = this.received.subarray(0, n);
    this.received = this.received.subarray(n);
    return Buffer.from(out);
  }

  /** One line the session sent, without '\n'. */
  async takeLine(): Promise<string> {
    await this.until(() => this.received.includes(0x0a) || this.receivedEnd);
    const at = this.received.indexOf(0x0a);
    if (at < 0) throw new Error('peer: the session ended inside a line');
    const line = this.received.subarray(0, at).toString('utf8');
    this.received = this.received.subarray(at + 1);
    return line;
  }

  /** Resolves once the session has closed its side (EOF); returns what it sent but nobody took. */
  async sessionEnded(): Promise<Buffer> {
    await this.until(() => this.receivedEnd);
    return this.received;
  }

  send(bytes: Buffer | string): void {
    this.fromServer.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** The server's scp exits: EOF on its stdout, then the exit status, then the channel closes. */
  exit(code: number | null): void {
    this.fromServer.end();
    setImmediate(() => {
      this.channel.emit('exit', code);
      this.channel.emit('close', code);
    });
  }
}

/** No raw control character (C0, DEL, C1) and no bidi override in the text. */
export function hasRawControls(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u.test(text);
}

/** The host the sessions under test are told they talk to: every error they raise must name it. */
export const PEER_HOST = 'files.example:22';

/** Asserts a TransferError with this code whose message names PEER_HOST and carries no raw control characters. */
export async function rejectsWith(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<TransferError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof TransferError, `expected a TransferError ${code}, got ${String(caught)}`);
  assert.strictEqual(caught.code, code, caught.message);
  assert.ok(caught.message.includes(PEER_HOST), `host missing from: ${caught.message}`);
  assert.ok(!hasRawControls(caught.message), `raw control characters in: ${JSON.stringify(caught.message)}`);
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}
