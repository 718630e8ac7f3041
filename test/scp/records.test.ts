import assert from 'assert';
import { TransferError } from '../../src/errors';
import {
  DEFAULT_RECORD_LIMITS,
  codeForServerMessage,
  encodeRecord,
  parseRecord,
  type RecordLimits,
  type ScpRecord,
} from '../../src/scp';
import { hasRawControls } from './peer';

const line = (text: string | Buffer): Buffer => (typeof text === 'string' ? Buffer.from(text, 'latin1') : text);

function parseFails(input: string | Buffer, code: string, limits: RecordLimits = DEFAULT_RECORD_LIMITS): TransferError {
  let caught: unknown;
  try {
    parseRecord(line(input), limits);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof TransferError, `expected a TransferError for ${JSON.stringify(input.toString())}`);
  assert.strictEqual(caught.code, code, `code for ${JSON.stringify(input.toString())}: ${caught.message}`);
  assert.ok(!hasRawControls(caught.message), `raw control characters in ${JSON.stringify(caught.message)}`);
  return caught;
}

describe('scp records', () => {
  describe('encodeRecord', () => {
    it('writes C, D, E and T exactly as OpenSSH does', () => {
      assert.strictEqual(encodeRecord({ type: 'C', mode: 0o644, size: 12, name: Buffer.from('a b.txt') }).toString(), 'C0644 12 a b.txt\n');
      assert.strictEqual(encodeRecord({ type: 'D', mode: 0o755, name: Buffer.from('dir') }).toString(), 'D0755 0 dir\n');
      assert.strictEqual(encodeRecord({ type: 'E' }).toString(), 'E\n');
      assert.strictEqual(encodeRecord({ type: 'T', mtime: 1700000000, atime: 1700000001 }).toString(), 'T1700000000 0 1700000001 0\n');
    });

    it('keeps only the permission and special bits of the mode, as 4 octal digits', () => {
      assert.strictEqual(encodeRecord({ type: 'C', mode: 0o100600, size: 0, name: Buffer.from('x') }).toString(), 'C0600 0 x\n');
      assert.strictEqual(encodeRecord({ type: 'C', mode: 0o7, size: 0, name: Buffer.from('x') }).toString(), 'C0007 0 x\n');
    });

    it('keeps raw name bytes (invalid UTF-8) unchanged', () => {
      const name = Buffer.from([0x66, 0xff, 0xfe, 0x20, 0x41]);
      const encoded = encodeRecord({ type: 'C', mode: 0o600, size: 3, name });
      assert.deepStrictEqual(encoded, Buffer.concat([Buffer.from('C0600 3 '), name, Buffer.from('\n')]));
    });

    it('clamps times into range instead of throwing', () => {
      assert.strictEqual(encodeRecord({ type: 'T', mtime: -5, atime: 1.9 }).toString(), 'T0 0 1 0\n');
      assert.strictEqual(encodeRecord({ type: 'T', mtime: Number.NaN, atime: 1e20 }).toString(), 'T0 0 253402300799 0\n');
    });

    for (const bad of ['', '.', '..', 'a/b', 'x\ny', 'nul\0']) {
      it(`refuses to send the name ${JSON.stringify(bad)} (EINVAL)`, () => {
        assert.throws(
          () => encodeRecord({ type: 'C', mode: 0o644, size: 1, name: Buffer.from(bad) }),
          (error: unknown) => error instanceof TransferError && error.code === 'EINVAL' && !hasRawControls(error.message),
        );
      });
    }

    it('refuses sizes that are negative, fractional or beyond 2^53', () => {
      for (const size of [-1, 1.5, 2 ** 53, Number.NaN]) {
        assert.throws(() => encodeRecord({ type: 'C', mode: 0o644, size, name: Buffer.from('x') }), /invalid file size/);
      }
    });
  });

  describe('parseRecord', () => {
    const roundTrips: ScpRecord[] = [
      { type: 'C', mode: 0o644, size: 0, name: Buffer.from('empty') },
      { type: 'C', mode: 0o600, size: 123456789, name: Buffer.from('with space and ünïcödé') },
      { type: 'C', mode: 0o755, size: Number.MAX_SAFE_INTEGER, name: Buffer.from('big') },
      { type: 'D', mode: 0o700, name: Buffer.from('dir') },
      { type: 'E' },
      { type: 'T', mtime: 0, atime: 1 },
      { type: 'T', mtime: 1700000000, atime: 1600000000 },
    ];
    for (const record of roundTrips) {
      it(`round-trips ${encodeRecord(record).toString().trim()}`, () => {
        const encoded = encodeRecord(record);
        assert.strictEqual(encoded[encoded.length - 1], 0x0a);
        assert.deepStrictEqual(parseRecord(encoded.subarray(0, -1), DEFAULT_RECORD_LIMITS), record);
      });
    }

    it('masks setuid, setgid and sticky bits off the mode', () => {
      const record = parseRecord(line('C7777 1 x'), DEFAULT_RECORD_LIMITS);
      assert.strictEqual(record.type === 'C' && record.mode, 0o777);
      const dir = parseRecord(line('D4755 0 d'), DEFAULT_RECORD_LIMITS);
      assert.strictEqual(dir.type === 'D' && dir.mode, 0o755);
    });

    it('keeps spaces inside names', () => {
      const record = parseRecord(line('C0644 5  two  spaces '), DEFAULT_RECORD_LIMITS);
      assert.strictEqual(record.type === 'C' && record.name.toString(), ' two  spaces ');
    });

    it('accepts sizes up to 2^63-1 when the limit allows, and refuses them as ETOOBIG under the default', () => {
      const limits = { ...DEFAULT_RECORD_LIMITS, maxFileBytes: Number.MAX_SAFE_INTEGER };
      parseFails('C0644 9223372036854775807 huge', 'ETOOBIG', limits);
      const ok = parseRecord(line(`C0644 ${Number.MAX_SAFE_INTEGER} max`), limits);
      assert.strictEqual(ok.type === 'C' && ok.size, Number.MAX_SAFE_INTEGER);
    });

    it('refuses a size over maxFileBytes as ETOOBIG', () => {
      const error = parseFails('C0644 1001 x', 'ETOOBIG', { ...DEFAULT_RECORD_LIMITS, maxFileBytes: 1000 });
      assert.match(error.message, /1001/);
      const fits = parseRecord(line('C0644 1000 x'), { ...DEFAULT_RECORD_LIMITS, maxFileBytes: 1000 });
      assert.strictEqual(fits.type === 'C' && fits.size, 1000);
    });

    it('clamps times out of range (negative, huge) instead of throwing', () => {
      assert.deepStrictEqual(parseRecord(line('T-100 0 99999999999999999999999 0'), DEFAULT_RECORD_LIMITS), {
        type: 'T',
        mtime: 0,
        atime: 253402300799,
      });
      assert.deepStrictEqual(parseRecord(line('T5 999999 6 0'), DEFAULT_RECORD_LIMITS), { type: 'T', mtime: 5, atime: 6 });
    });

    const malformed: [string, string | Buffer, string][] = [
      ['mode with 3 digits', 'C644 1 x', 'EPROTO'],
      ['mode in hex', 'C0x44 1 x', 'EPROTO'],
      ['mode with a non-octal digit', 'C0888 1 x', 'EPROTO'],
      ['mode with 5 digits', 'C08888 1 x', 'EPROTO'],
      ['mode with 5 octal digits', 'C00644 1 x', 'EPROTO'],
      ['negative size', 'C0644 -1 x', 'EPROTO'],
      ['size with exponent', 'C0644 1e3 x', 'EPROTO'],
      ['size with plus sign', 'C0644 +5 x', 'EPROTO'],
      ['size in hex', 'C0644 0x10 x', 'EPROTO'],
      ['size 2^64', 'C0644 18446744073709551616 x', 'EPROTO'],
      ['size 2^63', 'C0644 9223372036854775808 x', 'EPROTO'],
      ['size with two spaces before it', 'C0644  5 x', 'EPROTO'],
      ['missing name separator', 'C0644 5', 'EPROTO'],
      ['empty name', 'C0644 5 ', 'EPROTO'],
      ['traversal name', 'C0644 5 ../x', 'EPROTO'],
      ['name with a slash', 'C0644 5 a/b', 'EPROTO'],
      ['absolute name', 'C0644 5 /etc/x', 'EPROTO'],
      ['dot', 'D0755 0 .', 'EPROTO'],
      ['dot dot', 'D0755 0 ..', 'EPROTO'],
      ['file named dot dot', 'C0644 0 ..', 'EPROTO'],
      ['name with NUL', Buffer.from('C0644 1 a\0b', 'latin1'), 'EPROTO'],
      ['name of 256 bytes', `C0644 1 ${'n'.repeat(256)}`, 'EPROTO'],
      ['D with a bad size', 'D0755 x dir', 'EPROTO'],
      ['E with trailing bytes', 'E junk', 'EPROTO'],
      ['T with microseconds over 999999', 'T1 1000000 2 0', 'EPROTO'],
      ['T with negative microseconds', 'T1 -1 2 0', 'EPROTO'],
      ['T with three fields', 'T1 0 2', 'EPROTO'],
      ['T with letters', 'Tabc 0 2 0', 'EPROTO'],
      ['unknown record', 'X0644 1 x', 'EPROTO'],
      ['empty line', '', 'EPROTO'],
      ['escape sequence as first byte', '\x1b[31mC0644 1 x', 'EPROTO'],
      ['line over maxLineBytes', `C0644 1 ${'a'.repeat(5000)}`, 'EPROTO'],
    ];
    for (const [title, input, code] of malformed) {
      it(`refuses ${title} (${code})`, () => {
        parseFails(input, code);
      });
    }

    it('allows a name of exactly maxNameBytes bytes', () => {
      const name = 'n'.repeat(255);
      const record = parseRecord(line(`C0644 1 ${name}`), DEFAULT_RECORD_LIMITS);
      assert.strictEqual(record.type === 'C' && record.name.toString(), name);
    });

    it('cleans escape sequences and bidi overrides of a bad line out of the message', () => {
      const error = parseFails(Buffer.from('C0644 1 evil\x1b[2J\u202e/x', 'utf8'), 'EPROTO');
      assert.match(error.message, /\\x1b/);
      assert.match(error.message, /\\u202e/);
    });
  });

  describe('codeForServerMessage', () => {
    /** what OpenSSH's scp says -> the code it maps to */
    const codeOfMessage: Record<string, string> = {
      'scp: /x: No such file or directory': 'ENOENT',
      'scp: /root/x: Permission denied': 'EACCES',
      'scp: /ro/x: Read-only file system': 'EACCES',
      'scp: /tmp: Is a directory': 'EISDIR',
      'scp: /etc/passwd/x: Not a directory': 'ENOTDIR',
      'scp: ambiguous target': 'ENOTDIR',
      'scp: /full/x: No space left on device': 'ENOSPC',
      'scp: /q/x: Disk quota exceeded': 'ENOSPC',
      'scp: protocol error: bad mode': 'EPROTO',
      '': 'EPROTO',
    };
    for (const [text, code] of Object.entries(codeOfMessage)) {
      it(`maps ${JSON.stringify(text)} to ${code}`, () => {
        assert.strictEqual(codeForServerMessage(text), code);
      });
    }
  });
});
