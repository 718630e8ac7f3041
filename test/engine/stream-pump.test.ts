/**
 * A stream payload crossing into the worker (src/engine/stream-pump.ts), wired through a real MessageChannel
 * as host.ts and worker-main.ts wire it: the host's StreamPump reads the caller's stream only while the
 * worker's PumpedStream asks, so a fast source and a slow reader keep at most a grant plus the reader's
 * buffer in flight; bytes arrive exact; failures reach the reader; the caller's stream is destroyed when the
 * job gave up on it, and its chunks are copied (never handed over, which would empty them for the caller).
 */
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { MessageChannel } from 'node:worker_threads';
import { TransferError } from '../../src/errors';
import { GRANT_BYTES, PumpedStream, StreamPump } from '../../src/engine/stream-pump';
import type { HostMessage } from '../../src/engine/wire';
import { fastSource, stalledStream } from './support';

const STREAM_ID = 7;

interface Wired {
  pump: StreamPump;
  reader: PumpedStream;
  /** bytes the pump has posted so far */
  sent(): number;
  /** the largest number of bytes sent and not yet taken by the reader, seen at each post */
  maxInFlight(): number;
  /** the reader took `bytes` (the test's reader calls it) */
  consumed(bytes: number): void;
  close(): void;
}

/** A pump on the "host" port and a reader on the "worker" port of one MessageChannel, as the engine wires them. */
function wire(source: Readable): Wired {
  const { port1: hostPort, port2: workerPort } = new MessageChannel();
  let sent = 0;
  let taken = 0;
  let maxInFlight = 0;
  const pump = new StreamPump(STREAM_ID, source, (message: HostMessage, transfer?: ArrayBuffer[]) => {
    if (message.t === 'chunk') {
      sent += message.data.byteLength;
      maxInFlight = Math.max(maxInFlight, sent - taken);
    }
    hostPort.postMessage(message, transfer ?? []);
  });
  const reader = new PumpedStream(STREAM_ID, (stream) => workerPort.postMessage({ t: 'read', stream }));
  workerPort.on('message', (message: HostMessage) => {
    if (message.t === 'chunk') reader.chunk(message.data);
    else if (message.t === 'end') reader.finish();
    else if (message.t === 'streamError') reader.fail(message.error);
  });
  hostPort.on('message', (message: { t: string; stream: number }) => {
    if (message.t === 'read' && message.stream === STREAM_ID) pump.grant();
  });
  // as the host does once the job is posted
  pump.start();
  return {
    pump,
    reader,
    sent: () => sent,
    maxInFlight: () => maxInFlight,
    consumed: (bytes) => {
      taken += bytes;
    },
    close: () => {
      hostPort.close();
      workerPort.close();
    },
  };
}

/** Reads `reader` to its end one chunk at a time, slowly (a timer turn per chunk), returning the sha256. */
async function slowRead(wired: Wired): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of wired.reader) {
    const data = chunk as Buffer;
    wired.consumed(data.byteLength);
    bytes += data.byteLength;
    hash.update(data);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function readAll(reader: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of reader) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe('engine stream pump: back-pressure across the thread boundary', function () {
  this.timeout(60_000);

  it('a fast 64 MiB source and a slow reader: content exact, in flight never over a grant plus the reader’s buffer', async () => {
    const TOTAL = 64 * 1024 * 1024;
    const CHUNK = 64 * 1024;
    const source = fastSource(TOTAL, CHUNK);
    const wired = wire(source.stream);
    try {
      const read = await slowRead(wired);
      assert.equal(read.bytes, TOTAL);
      assert.equal(read.sha256, source.sha256(), 'the same bytes in the same order');
      assert.equal(wired.sent(), TOTAL);
      const bound = GRANT_BYTES + wired.reader.readableHighWaterMark;
      // One source chunk of slack: the pump notices its credit is spent only after the chunk that spends it.
      assert.ok(
        wired.maxInFlight() <= bound + CHUNK,
        `at most ${bound + CHUNK} bytes sent and not yet read (grant ${GRANT_BYTES} + reader buffer ${wired.reader.readableHighWaterMark} + one chunk), saw ${wired.maxInFlight()}`,
      );
    } finally {
      wired.close();
    }
  });

  it("the caller's Buffer chunks are not detached after being sent (the pump copies them)", async () => {
    const source = fastSource(4 * 1024 * 1024, 64 * 1024);
    const before = source.chunks;
    const wired = wire(source.stream);
    try {
      const received = await readAll(wired.reader);
      assert.equal(received.length, 4 * 1024 * 1024);
      assert.equal(createHash('sha256').update(received).digest('hex'), source.sha256());
      assert.ok(before.length > 10, 'premise: the source kept its chunks');
      for (const [index, chunk] of before.entries()) {
        assert.equal(chunk.byteLength, 64 * 1024, `chunk ${index} keeps its length`);
        assert.equal(chunk.buffer.byteLength, 64 * 1024, `chunk ${index}'s memory is still the caller's`);
        assert.ok(chunk.equals(received.subarray(index * 64 * 1024, (index + 1) * 64 * 1024)), `chunk ${index} keeps its bytes`);
      }
    } finally {
      wired.close();
    }
  });

  it('a string chunk stream arrives as its UTF-8 bytes', async () => {
    const parts = ['héllo ', 'wörld ', '日本語 ', '', 'end'];
    const wired = wire(Readable.from(parts));
    try {
      const received = await readAll(wired.reader);
      assert.ok(received.equals(Buffer.from(parts.join(''), 'utf8')), received.toString('utf8'));
    } finally {
      wired.close();
    }
  });

  it('a stream read to its end before the job started still ends the reader (empty)', async () => {
    const source = new Readable({ read() {} });
    source.push(null);
    source.resume();
    await new Promise((resolve) => source.once('end', resolve));
    const wired = wire(source);
    try {
      const received = await readAll(wired.reader);
      assert.equal(received.length, 0);
    } finally {
      wired.close();
    }
  });
});

describe('engine stream pump: failures reach the reader', function () {
  this.timeout(30_000);

  it("a source error reaches the reader as an error with the source's message and code", async () => {
    let pushed = 0;
    const source = new Readable({
      read() {
        if (pushed < 3) {
          pushed += 1;
          this.push(Buffer.alloc(1000, pushed));
        } else this.destroy(Object.assign(new Error('the disk went away'), { code: 'EIO' }));
      },
    });
    const wired = wire(source);
    try {
      await assert.rejects(readAll(wired.reader), (error: Error & { code?: string }) => {
        assert.equal(error.message, 'the disk went away');
        assert.equal(error.code, 'EIO');
        return true;
      });
    } finally {
      wired.close();
    }
  });

  it('an object-mode stream yielding something that is not bytes fails the reader with EINVAL', async () => {
    const source = Readable.from([Buffer.from('fine'), { not: 'bytes' }, Buffer.from('never')]);
    const wired = wire(source);
    try {
      await assert.rejects(readAll(wired.reader), (error: Error) => {
        assert.ok(error instanceof TransferError, `a TransferError, got ${error.name}: ${error.message}`);
        assert.equal(error.code, 'EINVAL');
        return true;
      });
    } finally {
      wired.close();
    }
  });

  it('the job failing after such a stream gave a non-bytes value destroys the caller’s stream (it was not read to its end)', async () => {
    let closed = false;
    const source = Readable.from([Buffer.from('fine'), 42, Buffer.from('more')]);
    source.once('close', () => {
      closed = true;
    });
    const wired = wire(source);
    try {
      await assert.rejects(readAll(wired.reader), (error: Error & { code?: string }) => error.code === 'EINVAL');
      // the job fails on that error: the host stops the pump
      wired.pump.stop();
      assert.ok(source.destroyed, 'the unfinished caller stream is destroyed (its resources freed)');
      await new Promise<void>((resolve) => (closed ? resolve() : source.once('close', () => resolve())));
    } finally {
      wired.close();
    }
  });
});

describe('engine stream pump: stop()', function () {
  this.timeout(30_000);

  it('a stream that failed before the job started fails the reader at once with its own error', async () => {
    const source = new Readable({ read() {} });
    source.on('error', () => undefined);
    source.destroy(Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' }));
    await new Promise((resolve) => setImmediate(resolve));
    const wired = wire(source);
    try {
      await assert.rejects(readAll(wired.reader), (error: Error & { code?: string }) => error.code === 'ENOENT' && /no such file/.test(error.message));
    } finally {
      wired.close();
    }
  });

  it('stop() destroys an unfinished caller stream (its close fires), and a grant after it sends nothing', async () => {
    // never ends: unfinished whatever the pump has read of it
    const source = stalledStream(randomBytes(4 * 1024 * 1024), 64 * 1024, 3 * 1024 * 1024);
    let errors = 0;
    source.stream.on('error', () => (errors += 1));
    const closed = new Promise<void>((resolve) => source.stream.once('close', () => resolve()));
    const wired = wire(source.stream);
    try {
      // read a little, then the job fails
      const iterator = wired.reader[Symbol.asyncIterator]();
      const first = await iterator.next();
      assert.ok(!first.done && (first.value as Buffer).length > 0);
      wired.pump.stop();
      assert.ok(source.stream.destroyed);
      await closed;
      assert.equal(errors, 0, 'destroyed without an error');
      const sentAtStop = wired.sent();
      wired.pump.grant();
      assert.equal(wired.sent(), sentAtStop, 'nothing more after the stop');
      wired.reader.destroy();
    } finally {
      wired.close();
    }
  });

  it('stop() after the end leaves the caller stream alone', async () => {
    for (const round of [1, 2]) {
      const source = new Readable({ autoDestroy: false, read() {} });
      source.push(Buffer.from('all of it'));
      source.push(null);
      const wired = wire(source);
      try {
        const received = await readAll(wired.reader);
        assert.equal(received.toString(), 'all of it');
        wired.pump.stop();
        assert.equal(source.destroyed, false, `stop() after the end does not destroy the stream (round ${round})`);
      } finally {
        wired.close();
      }
    }
  });
});
