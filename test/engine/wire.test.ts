/**
 * What survives the crossing between Node-RED's thread and the engine's worker (src/engine/wire.ts): errors
 * as plain objects and back, Buffers revived over the memory they arrived in, and the list of memory a
 * result may hand over (only Buffers that own their whole ArrayBuffer). `structuredClone` is the algorithm
 * postMessage uses, so a value cloned by it is what the other thread receives.
 */
import * as assert from 'node:assert/strict';
import { TransferError } from '../../src/errors';
import { fromWireError, ownsItsMemory, reviveBuffers, toWireError, transferablesIn } from '../../src/engine/wire';

/** As the other thread sees it: the wire form cloned the way postMessage clones it, then revived. */
function across(error: unknown): Error {
  return fromWireError(structuredClone(toWireError(error)));
}

describe('engine wire: errors across the thread boundary', function () {
  it('a TransferError keeps code, summary, host, path, detail, reason and its whole message', () => {
    const sent = new TransferError('EACCES', 'permission denied', {
      host: 'pi@10.0.0.7:22',
      path: '/srv/in/a.bin',
      detail: 'scp: /srv/in/a.bin: File name too long',
      reason: 'nameTooLong',
    });
    const received = across(sent);
    assert.ok(received instanceof TransferError, `a TransferError again, got ${received.constructor.name}`);
    assert.equal(received.code, 'EACCES');
    assert.equal(received.summary, 'permission denied');
    assert.equal(received.host, 'pi@10.0.0.7:22');
    assert.equal(received.path, '/srv/in/a.bin');
    assert.equal(received.detail, 'scp: /srv/in/a.bin: File name too long');
    assert.equal(received.reason, 'nameTooLong');
    assert.equal(received.message, sent.message);
    assert.equal(received.name, 'TransferError');
  });

  it('a TransferError without details has none after the crossing', () => {
    const received = across(new TransferError('ETIMEDOUT', 'the server stopped answering'));
    assert.ok(received instanceof TransferError);
    assert.equal(received.code, 'ETIMEDOUT');
    assert.equal(received.host, undefined);
    assert.equal(received.path, undefined);
    assert.equal(received.detail, undefined);
    assert.equal(received.reason, undefined);
    assert.equal(received.message, 'the server stopped answering');
  });

  it("a partial failure's outcomes cross with their Buffer names as Buffers", () => {
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
    const sent = Object.assign(new TransferError('ENOENT', '1 of 2 paths failed, the first: no such file', { host: 'h:22', path: 'gone' }), {
      outcomes: [
        { path: latin1, done: 'deleted' },
        { path: 'gone', error: { code: 'ENOENT', message: 'no such file' } },
        { path: 'old', to: Buffer.from([0x6e, 0xff]), done: 'renamed' },
      ],
    });
    const received = across(sent) as TransferError & { outcomes?: { path: unknown; to?: unknown; done?: string; error?: unknown }[] };
    assert.ok(received instanceof TransferError);
    assert.equal(received.code, 'ENOENT');
    const outcomes = received.outcomes;
    assert.ok(Array.isArray(outcomes) && outcomes.length === 3, 'every outcome arrives');
    const [first, second, third] = outcomes;
    assert.ok(Buffer.isBuffer(first?.path), `a Buffer again, got ${Object.prototype.toString.call(first?.path)}`);
    assert.ok((first.path as Buffer).equals(latin1));
    assert.equal(first.done, 'deleted');
    assert.deepEqual(second, { path: 'gone', error: { code: 'ENOENT', message: 'no such file' } });
    assert.equal(third?.path, 'old');
    assert.ok(Buffer.isBuffer(third?.to) && (third.to as Buffer).equals(Buffer.from([0x6e, 0xff])));
  });

  it('a system error keeps its errno name (ENOENT stays ENOENT), its name and its message', () => {
    const sent = Object.assign(new Error("ENOENT: no such file or directory, open '/nowhere/x'"), { code: 'ENOENT', errno: -2, syscall: 'open' });
    const received = across(sent) as Error & { code?: unknown };
    assert.ok(!(received instanceof TransferError), 'not made a TransferError');
    assert.equal(received.code, 'ENOENT');
    assert.equal(received.message, "ENOENT: no such file or directory, open '/nowhere/x'");
    assert.equal(received.name, 'Error');
  });

  it('a plain Error without a code has none; its name (a TypeError) survives', () => {
    const received = across(new TypeError('cannot read x')) as Error & { code?: unknown };
    assert.equal(received.code, undefined);
    assert.equal(received.name, 'TypeError');
    assert.equal(received.message, 'cannot read x');
  });

  it('something thrown that is not an Error arrives as an Error with its text', () => {
    const received = across('a string was thrown');
    assert.ok(received instanceof Error);
    assert.equal(received.message, 'a string was thrown');
  });
});

describe('engine wire: Buffers revived without a copy', function () {
  it('makes every nested Uint8Array a Buffer over the same memory, in place', () => {
    const big = new Uint8Array(new ArrayBuffer(64));
    big.fill(7);
    const view = new Uint8Array(big.buffer, 8, 16);
    const value = { files: [{ data: big, name: 'a' }, { data: view }], deep: { deeper: [[new Uint8Array([1, 2, 3])]] }, when: new Date(0), n: 3, s: 'text' };
    const revived = reviveBuffers(value);
    assert.equal(revived, value, 'revived in place');
    const first = revived.files[0]?.data as unknown as Buffer;
    const second = revived.files[1]?.data as unknown as Buffer;
    assert.ok(Buffer.isBuffer(first) && Buffer.isBuffer(second));
    assert.equal(first.buffer, big.buffer, 'the same ArrayBuffer, not a copy');
    assert.equal(first.byteOffset, 0);
    assert.equal(first.byteLength, 64);
    assert.equal(second.buffer, big.buffer, 'a view stays a view of the same memory');
    assert.equal(second.byteOffset, 8);
    assert.equal(second.byteLength, 16);
    // one memory: a write through the Buffer shows in the original view
    second[0] = 42;
    assert.equal(big[8], 42);
    const nested = revived.deep.deeper[0]?.[0] as unknown as Buffer;
    assert.ok(Buffer.isBuffer(nested) && nested.equals(Buffer.from([1, 2, 3])));
    assert.ok(revived.when instanceof Date && revived.when.getTime() === 0, 'other objects are left alone');
    assert.equal(revived.n, 3);
    assert.equal(revived.s, 'text');
  });

  it('revives what structuredClone (postMessage) made of a result', () => {
    const data = Buffer.alloc(10_000, 0x5a);
    const received = reviveBuffers(structuredClone({ files: [{ data }] }));
    const file = received.files[0]?.data;
    assert.ok(Buffer.isBuffer(file), 'a Buffer again');
    assert.ok(file.equals(data));
  });

  it('a top-level Uint8Array becomes a Buffer; a Buffer stays the very same object', () => {
    const raw = new Uint8Array([9, 8, 7]);
    const revived = reviveBuffers(raw) as unknown as Buffer;
    assert.ok(Buffer.isBuffer(revived));
    assert.equal(revived.buffer, raw.buffer);
    const buffer = Buffer.from([1]);
    assert.equal(reviveBuffers(buffer), buffer);
  });
});

describe('engine wire: what a result may hand over (transferablesIn)', function () {
  it('lists a Buffer that owns its whole ArrayBuffer, nested in arrays and plain objects', () => {
    const owned = Buffer.alloc(16 * 1024, 1);
    assert.ok(ownsItsMemory(owned), 'premise: Buffer.alloc of 16 KiB owns its memory');
    const name = Buffer.from(new ArrayBuffer(4));
    const found = transferablesIn({ transport: 'scp', files: [{ remotePath: 'a', data: owned }], entries: [{ name }] });
    assert.equal(found.length, 2);
    assert.ok(found.includes(owned.buffer as ArrayBuffer));
    assert.ok(found.includes(name.buffer as ArrayBuffer));
  });

  it("never lists a pooled small Buffer (Buffer.from('abc') is a slice of Node's shared pool)", () => {
    const small = Buffer.from('abc');
    assert.ok(small.buffer.byteLength > small.byteLength, "premise: a slice of the pool (handing it over would empty other Buffers)");
    assert.deepEqual(transferablesIn({ files: [{ data: small }] }), []);
    const unsafe = Buffer.allocUnsafe(100);
    assert.deepEqual(transferablesIn([unsafe]), [], 'Buffer.allocUnsafe of 100 bytes is pooled too');
  });

  it('never lists a view of part of a bigger buffer, nor an empty one, nor shared memory', () => {
    const whole = Buffer.alloc(8192);
    const head = whole.subarray(0, 100);
    const tail = whole.subarray(100);
    const shared = new Uint8Array(new SharedArrayBuffer(64));
    assert.deepEqual(transferablesIn({ a: head, b: tail, c: Buffer.alloc(0), d: shared }), []);
  });

  it('lists a memory once when two Buffers over the whole of it appear', () => {
    const owned = Buffer.alloc(10_000);
    const again = Buffer.from(owned.buffer, 0, owned.byteLength);
    const found = transferablesIn({ files: [{ data: owned }, { data: again }], first: owned });
    assert.deepEqual(found, [owned.buffer]);
  });

  it('looks nowhere but in plain objects and arrays (a Map or class instance is not walked)', () => {
    const owned = Buffer.alloc(10_000);
    class Holder {
      data = owned;
    }
    assert.deepEqual(transferablesIn({ map: new Map([['x', owned]]), holder: new Holder() }), []);
    assert.deepEqual(transferablesIn(undefined), []);
    assert.deepEqual(transferablesIn('text'), []);
  });

  it('the listed memory can really be handed over: postMessage with it detaches the sender’s copy', () => {
    const owned = Buffer.alloc(10_000, 3);
    const message = { files: [{ data: owned }] };
    const received = structuredClone(message, { transfer: transferablesIn(message) });
    assert.equal(owned.buffer.byteLength, 0, 'the sender no longer holds the memory (no copy was made)');
    const data = reviveBuffers(received).files[0]?.data;
    assert.ok(Buffer.isBuffer(data) && data.length === 10_000 && data[9_999] === 3);
  });
});
