/**
 * The SCP control records (C, D, E, T) as OpenSSH's scp.c writes and reads them. Pure functions over
 * buffers: the decoder treats every line as hostile and accepts only the exact shapes OpenSSH sends.
 */
import { TransferError, meaningOfServerText, type TransferErrorCode } from '../errors';
import { cleanText } from '../text';

/** whole seconds since the epoch */
export interface ScpTimes {
  mtime: number;
  atime: number;
}

export type ScpRecord =
  | { type: 'C'; mode: number; size: number; name: Buffer }
  | { type: 'D'; mode: number; name: Buffer }
  | { type: 'E' }
  | { type: 'T'; mtime: number; atime: number };

export interface RecordLimits {
  /** a control line longer than this (without its '\n') is refused */
  maxLineBytes: number;
  /** a name (one path component) longer than this many bytes is refused */
  maxNameBytes: number;
  /** a C record announcing more than this many bytes is refused (ETOOBIG) before any data is read */
  maxFileBytes: number;
}

export const DEFAULT_RECORD_LIMITS: RecordLimits = Object.freeze({
  maxLineBytes: 4096,
  maxNameBytes: 255,
  maxFileBytes: Number.MAX_SAFE_INTEGER,
});

/** The largest size the protocol can carry (OpenSSH parses it into an off_t). */
const MAX_PROTOCOL_SIZE = 2n ** 63n - 1n;
/** Times are clamped into this range: 0 .. 9999-12-31T23:59:59Z. */
const MAX_TIME_SECONDS = 253402300799;

function protocolError(summary: string, line?: Buffer): TransferError {
  return new TransferError('EPROTO', summary, line === undefined ? {} : { detail: cleanText(line, 200) });
}

/** Why a name can not be used as one path component, or undefined when it can. */
export function unsafeNameReason(name: Buffer, maxNameBytes: number): string | undefined {
  if (name.length === 0) return 'an empty name';
  if (name.length > maxNameBytes) return `a name longer than ${maxNameBytes} bytes`;
  if (name.includes(0x2f)) return "a name containing '/'";
  if (name.includes(0)) return 'a name containing a NUL byte';
  if (name.includes(0x0a)) return 'a name containing a newline';
  const text = name.toString('latin1');
  if (text === '.' || text === '..') return `the name '${text}'`;
  return undefined;
}

// ------------------------------------------------------------------------------------------- encoding

function encodeName(name: Buffer): Buffer {
  const reason = unsafeNameReason(name, Number.MAX_SAFE_INTEGER);
  if (reason !== undefined) {
    throw new TransferError('EINVAL', `can not send ${reason} in an SCP record`, { detail: cleanText(name, 200) });
  }
  return name;
}

function octalMode(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0) throw new TransferError('EINVAL', `invalid file mode ${mode}`);
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function wholeSeconds(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(MAX_TIME_SECONDS, Math.max(0, Math.floor(value)));
}

export function encodeRecord(record: ScpRecord): Buffer {
  switch (record.type) {
    case 'C': {
      if (!Number.isSafeInteger(record.size) || record.size < 0) {
        throw new TransferError('EINVAL', `invalid file size ${record.size}`);
      }
      const head = Buffer.from(`C${octalMode(record.mode)} ${record.size} `, 'latin1');
      return Buffer.concat([head, encodeName(record.name), Buffer.from('\n')]);
    }
    case 'D': {
      const head = Buffer.from(`D${octalMode(record.mode)} 0 `, 'latin1');
      return Buffer.concat([head, encodeName(record.name), Buffer.from('\n')]);
    }
    case 'E':
      return Buffer.from('E\n');
    case 'T':
      return Buffer.from(`T${wholeSeconds(record.mtime)} 0 ${wholeSeconds(record.atime)} 0\n`, 'latin1');
  }
}

// ------------------------------------------------------------------------------------------- decoding

// Exactly 4 octal digits, one space, plain decimal digits (no sign, exponent or hex), one space, the name.
const FILE_OR_DIRECTORY = /^([CD])([0-7]{4}) ([0-9]+) /;
// Seconds may carry a sign (strtoll accepts one) and are clamped; microseconds are 0..999999.
const TIMES = /^T(-?[0-9]+) ([0-9]{1,6}) (-?[0-9]+) ([0-9]{1,6})$/;

function clampSeconds(digits: string): number {
  const value = BigInt(digits);
  if (value < 0n) return 0;
  return value > BigInt(MAX_TIME_SECONDS) ? MAX_TIME_SECONDS : Number(value);
}

/** Decodes one control line (without its '\n'). TransferError EPROTO for any malformed line, ETOOBIG for sizes. */
export function parseRecord(line: Buffer, limits: RecordLimits): ScpRecord {
  if (line.length > limits.maxLineBytes) {
    throw protocolError(`the server sent a control line longer than ${limits.maxLineBytes} bytes`, line.subarray(0, 64));
  }
  const first = line.length > 0 ? String.fromCharCode(line[0]) : '';
  switch (first) {
    case 'E':
      if (line.length !== 1) throw protocolError('the server sent a malformed E record', line);
      return { type: 'E' };
    case 'T':
      return parseTimes(line);
    case 'C':
    case 'D':
      return parseEntry(line, limits);
    default:
      throw protocolError('the server sent an unknown SCP record', line);
  }
}

function parseTimes(line: Buffer): ScpRecord {
  const match = TIMES.exec(line.toString('latin1'));
  if (match === null) throw protocolError('the server sent a malformed T record', line);
  // The length cap above already rules out absurd digit counts; microseconds must be 0..999999 (1-6 digits).
  return { type: 'T', mtime: clampSeconds(match[1]), atime: clampSeconds(match[3]) };
}

function parseEntry(line: Buffer, limits: RecordLimits): ScpRecord {
  // Only the ASCII head is matched as text; the name stays raw bytes until the caller validates it.
  const head = line.subarray(0, Math.min(line.length, 64)).toString('latin1');
  const match = FILE_OR_DIRECTORY.exec(head);
  const type = head[0] as 'C' | 'D';
  if (match === null) {
    throw protocolError(`the server sent a malformed ${type} record (bad mode or size)`, line);
  }
  const name = line.subarray(match[0].length);
  const mode = parseInt(match[2], 8) & 0o777;
  const reason = unsafeNameReason(name, limits.maxNameBytes);
  if (reason !== undefined) {
    throw new TransferError('EPROTO', `the server sent ${reason}`, { detail: cleanText(name, 200) });
  }
  if (type === 'D') return { type: 'D', mode, name };
  const size = BigInt(match[3]);
  if (size > MAX_PROTOCOL_SIZE) throw protocolError('the server sent a file size beyond 2^63-1', line);
  if (size > BigInt(limits.maxFileBytes)) {
    throw new TransferError('ETOOBIG', `the remote file has ${size} bytes, over the limit of ${limits.maxFileBytes}`, {
      detail: cleanText(name, 200),
    });
  }
  return { type: 'C', mode, size: Number(size), name };
}

// ------------------------------------------------------------------------------------ server messages

/** What only scp says: its own words, before the system error table (src/errors.ts) is asked. */
const SCP_MESSAGE_CODES: [RegExp, TransferErrorCode][] = [
  [/ambiguous target/i, 'ENOTDIR'],
  [/not found/i, 'ENOENT'],
];

/** Maps an scp error text ("scp: /x: No such file or directory") onto our codes; EPROTO when unknown. */
export function codeForServerMessage(text: string): TransferErrorCode {
  const system = meaningOfServerText(text);
  if (system) return system.code;
  for (const [pattern, code] of SCP_MESSAGE_CODES) if (pattern.test(text)) return code;
  return 'EPROTO';
}
