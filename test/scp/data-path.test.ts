/**
 * The reused buffers of the SCP data path: the inbox ring against a plain model, a source whose buffers
 * are held by the channel (as ssh2 holds a write while the window is full) and a sink whose writer is slow.
 * A buffer reused one moment too early shows up as a wrong digest.
 */
import assert from 'assert';
import { createHash } from 'crypto';
import { EventEmitter } from 'events';
import { PassThrough, Readable, Writable } from 'stream';
import { ByteInbox } from '../../src/scp/inbox';
import { DEFAULT_RECORD_LIMITS, ScpSink, ScpSource, type SelfReadingContent } from '../../src/scp';
import { PEER_HOST, ScriptedPeer, rejectsWith } from './peer';

/** A small deterministic generator: the same failures on every run. */
function random(seed: number): (below: number) => number {
  let state = seed >>> 0 || 1;
  return (below) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % below;
  };
}

/** `size` bytes that differ from block to block (a stale or shifted buffer can not pass for the right one). */
function variedBytes(size: number, seed: number): Buffer {
  const next = random(seed);
  const data = Buffer.allocUnsafe(size);
  for (let at = 0; at < size; at += 4) data.writeUInt32LE(next(0xffffffff), Math.min(at, size - 4));
  return data;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SCP data path: reused buffers', () => {
  describe('ByteInbox (the ring incoming data is copied into)', () => {
    it('hands out exactly what came in, in order, whatever the mix of deliveries, reads and loans', () => {
      for (let seed = 1; seed <= 40; seed += 1) {
        const next = random(seed);
        const inbox = new ByteInbox(1024, 16 * 1024);
        const input = variedBytes(256 * 1024, seed);
        let pushed = 0;
        const output: Buffer[] = [];
        let model = 0; // bytes handed out so far
        let loan: { view: Buffer; copy: Buffer } | undefined;
        while (model < input.length) {
          const action = next(7);
          if (action <= 2 && pushed < input.length) {
            const piece = input.subarray(pushed, Math.min(input.length, pushed + 1 + next(6000)));
            pushed += piece.length;
            inbox.push(piece);
          } else if (action === 3 && loan === undefined) {
            const view = inbox.lend(1 + next(20000));
            loan = { view, copy: Buffer.from(view) };
            output.push(loan.copy);
            model += view.length;
          } else if (action === 4 && loan !== undefined) {
            // Whatever arrived while the loan was out must not have touched it.
            assert.ok(loan.view.equals(loan.copy), `seed ${seed}: a lent view changed before it was given back`);
            inbox.giveBack();
            loan = undefined;
          } else if (action === 5) {
            const newline = inbox.indexOf(input[model] ?? 0, 50);
            const taken = inbox.take(newline >= 0 ? newline + 1 : 1 + next(300));
            output.push(taken);
            model += taken.length;
          } else {
            const byte = inbox.takeByte();
            if (byte !== undefined) {
              output.push(Buffer.from([byte]));
              model += 1;
            }
          }
          assert.ok(inbox.capacity <= 16 * 1024, `seed ${seed}: the ring grew past its cap`);
          assert.strictEqual(inbox.length, pushed - model, `seed ${seed}: unread count`);
        }
        if (loan) inbox.giveBack();
        assert.ok(Buffer.concat(output).equals(input), `seed ${seed}: the bytes handed out differ from those pushed`);
      }
    });

    it('grows only while a bulk loan is out, and asks for a pause when full', () => {
      const inbox = new ByteInbox(4096, 64 * 1024);
      assert.strictEqual(inbox.push(Buffer.alloc(3000)), true);
      assert.strictEqual(inbox.push(Buffer.alloc(3000)), false, 'a full ring says: pause');
      assert.strictEqual(inbox.capacity, 4096, 'records alone never grow the ring');
      assert.strictEqual(inbox.length, 6000);
      inbox.skip(6000);
      const view = inbox.lend(1024 * 1024);
      assert.strictEqual(view.length, 0);
      assert.strictEqual(inbox.push(Buffer.alloc(40_000, 7)), true);
      assert.ok(inbox.capacity >= 40_000 && inbox.capacity <= 64 * 1024);
      inbox.giveBack();
      assert.strictEqual(inbox.push(Buffer.alloc(200_000)), false, 'the cap holds: the rest waits, the channel pauses');
      assert.strictEqual(inbox.capacity, 64 * 1024);
    });
  });

  it('ScpSource: a self-reading content is never reused before the channel has taken it (8 MiB, window held)', async function () {
    this.timeout(60_000);
    const content = variedBytes(8 * 1024 * 1024 + 12345, 7);
    const next = random(99);
    // Like an ssh2 channel with a tiny window: each write is held, then consumed (digested) later; and
    // like ssh2's, the stream's buffer takes 2 MiB before write() says "wait".
    const seen = createHash('sha256');
    let heldBytes = 0;
    let maxHeld = 0;
    const stdin = new Writable({
      highWaterMark: 2 * 1024 * 1024,
      write(chunk: Buffer, _encoding, done) {
        heldBytes += chunk.length;
        maxHeld = Math.max(maxHeld, heldBytes);
        setTimeout(() => {
          seen.update(chunk);
          heldBytes -= chunk.length;
          done();
        }, next(3));
      },
    });
    const stdout = new PassThrough();
    const channel = new EventEmitter();
    let position = 0;
    const reader: SelfReadingContent = {
      async readInto(buffer, length) {
        if (next(4) === 0) await tick();
        const n = Math.min(length, content.length - position, 1 + next(300_000));
        content.copy(buffer, 0, position, position + n);
        position += n;
        return n;
      },
    };
    const source = new ScpSource({ stdout, stdin, channel }, { host: 'peer', path: '/x', idleTimeoutMs: 20_000 });
    stdout.write(Buffer.from([0, 0, 0]));
    await source.ready();
    const result = await source.sendFile({ name: 'big', mode: 0o644, size: content.length, content: Object.assign(Readable.from([]), reader) });
    assert.deepStrictEqual(result, { ok: true });
    await new Promise<void>((resolve) => stdin.end(resolve));
    const header = Buffer.from(`C0644 ${content.length} big\n`);
    assert.strictEqual(seen.digest('hex'), sha256(Buffer.concat([header, content, Buffer.from([0])])));
    assert.ok(maxHeld <= 1024 * 1024 + 1, `held ${maxHeld} bytes at once`);
  });

  /** A self-reading content over `data` (in reads of at most `step` bytes) that records whether it was released. */
  function selfReading(data: Buffer, step: number): Readable & SelfReadingContent & { released: () => boolean } {
    let position = 0;
    let released = false;
    const stream = new Readable({ read() {} });
    stream.on('close', () => (released = true));
    return Object.assign(stream, {
      readInto: async (buffer: Buffer, length: number) => {
        const n = Math.min(length, step, data.length - position);
        data.copy(buffer, 0, position, position + n);
        position += n;
        return n;
      },
      released: () => released,
    });
  }

  for (const [how, data, size] of [
    ['fewer', Buffer.alloc(3 * 1024 * 1024 + 5, 1), 3 * 1024 * 1024 + 9],
    ['more', Buffer.alloc(1024 * 1024 + 1, 2), 1024 * 1024],
  ] as const) {
    it(`ScpSource: a self-reading content with ${how} bytes than announced -> ECHANGED "changed size", no trailer, content released`, async () => {
      const peer = new ScriptedPeer();
      peer.send('\0\0');
      const source = new ScpSource(peer.streams, { host: PEER_HOST, path: '/x', idleTimeoutMs: 5000 });
      await source.ready();
      const content = selfReading(data, 100_000);
      await rejectsWith(source.sendFile({ name: 'x', mode: 0o644, size, content }), 'ECHANGED', new RegExp(`changed size.*${how}`));
      const sent = await peer.sessionEnded();
      const header = `C0644 ${size} x\n`;
      assert.strictEqual(sent.subarray(0, header.length).toString('latin1'), header);
      assert.ok(sent.length - header.length <= Math.min(size, data.length), 'more data than there was, or a trailer, was sent');
      assert.ok(sent.subarray(header.length).equals(data.subarray(0, sent.length - header.length)), 'the data sent is not the content');
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(content.released(), 'the content was not released');
    });
  }

  it('ScpSink: a slow writer gets every byte right while packets of odd sizes keep coming, and the channel waits (8 MiB)', async function () {
    this.timeout(60_000);
    const content = variedBytes(8 * 1024 * 1024 + 777, 11);
    const next = random(5);
    const wire = Buffer.concat([Buffer.from(`C0644 ${content.length} big\n`), content, Buffer.from([0])]);
    let pulled = 0;
    const server = new Readable({
      highWaterMark: 32 * 1024,
      read() {
        while (pulled < wire.length) {
          const piece = wire.subarray(pulled, Math.min(wire.length, pulled + 1 + next(40_000)));
          pulled += piece.length;
          // A fresh buffer per packet, as ssh2 delivers them.
          if (!this.push(Buffer.from(piece))) return;
        }
        this.push(null);
      },
    });
    const stdout = new PassThrough({ highWaterMark: 32 * 1024 });
    server.pipe(stdout);
    const stdin = new PassThrough();
    stdin.resume();
    const channel = new EventEmitter();
    const sink = new ScpSink(
      { stdout, stdin, channel },
      { host: 'peer', path: '/x', idleTimeoutMs: 20_000, expect: { kind: 'exact', name: 'big' }, recursive: false, limits: { ...DEFAULT_RECORD_LIMITS, maxDepth: 1, maxFiles: 1, maxTotalBytes: 1 << 30 } },
    );
    const entry = await sink.next();
    assert.strictEqual(entry?.type, 'file');
    const digest = createHash('sha256');
    let received = 0;
    let maxAhead = 0;
    await sink.receive(async (chunk) => {
      const copy = Buffer.from(chunk);
      // The writer is slow: the view must still hold the same bytes after it waited.
      if (next(3) === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      await tick();
      assert.ok(chunk.equals(copy), 'the chunk changed while its writer was still busy with it');
      digest.update(chunk);
      received += chunk.length;
      maxAhead = Math.max(maxAhead, pulled - received);
    });
    assert.strictEqual(digest.digest('hex'), sha256(content));
    // Back-pressure: what the server got to send ahead of the writer is the inbox (2 MiB) and stream buffers.
    assert.ok(maxAhead <= 2 * 1024 * 1024 + 256 * 1024, `the server got ${maxAhead} bytes ahead of the writer`);
    channel.emit('exit', 0);
    channel.emit('close', 0);
    assert.strictEqual(await sink.next(), null);
  });
});
