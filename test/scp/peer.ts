/**
 * A scripted SCP peer over in-memory streams: the test plays the server, byte by byte, and sees exactly
 * what the session under test sent.
 */
import assert from 'assert';
import { EventEmitter } from 'events';
import { PassThrough } from 'stream';
import { TransferError } from '../../src/errors';
import type { ScpStreams } from '../../src/scp';
import { ByteQueue } from '../support/byte-queue';

export class ScriptedPeer {
  /** what the session writes (its stdin) */
  readonly toServer = new PassThrough();
  /** what the session reads (its stdout) */
  readonly fromServer = new PassThrough();
  readonly stderr = new PassThrough();
  readonly channel = new EventEmitter();
  private readonly fromSession = new ByteQueue('the session');

  constructor() {
    this.toServer.on('data', (chunk: Buffer) => this.fromSession.push(chunk));
    this.toServer.on('end', () => this.fromSession.end());
    this.toServer.on('close', () => this.fromSession.end());
  }

  get streams(): ScpStreams {
    return { stdout: this.fromServer, stdin: this.toServer, stderr: this.stderr, channel: this.channel };
  }

  /** Exactly `n` bytes that the session sent (waits for them). */
  take(n: number): Promise<Buffer> {
    return this.fromSession.take(n);
  }

  /** One line the session sent, without '\n'. */
  takeLine(): Promise<string> {
    return this.fromSession.takeLine('utf8');
  }

  /** Resolves once the session has closed its side (EOF); returns what it sent but nobody took. */
  sessionEnded(): Promise<Buffer> {
    return this.fromSession.whenEnded();
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

/** A peer whose server has already sent `reply` and, with `exitCode`, exited with it: the script of most tests. */
export function peerReplying(reply: string | Buffer, exitCode?: number): ScriptedPeer {
  const peer = new ScriptedPeer();
  peer.send(reply);
  if (exitCode !== undefined) peer.exit(exitCode);
  return peer;
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
