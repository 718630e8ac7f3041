/**
 * Text that a server chose (file names, `\x01` error lines, stderr) is hostile: it may carry terminal
 * escape sequences, bidi overrides or invalid UTF-8 (CVE-2019-6109/6110). Everything such text passes
 * through here before it reaches a message, a status, a log or an error.
 */

const DEFAULT_MAX_LENGTH = 512;

// C0 and C1 controls, DEL, bidi embeddings/overrides/isolates, zero-width and line/paragraph separators.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ufffd]/gu;

function escapeCodePoint(char: string): string {
  const point = char.codePointAt(0) ?? 0;
  if (char === '\n') return '\\n';
  if (char === '\r') return '\\r';
  if (char === '\t') return '\\t';
  if (char === '\ufffd') return '\\ufffd';
  return point <= 0xff ? `\\x${point.toString(16).padStart(2, '0')}` : `\\u${point.toString(16).padStart(4, '0')}`;
}

/** Length of the valid UTF-8 sequence at `at`, or 0 when the bytes there are not one. */
function utf8SequenceLength(bytes: Buffer, at: number): number {
  const lead = bytes[at];
  if (lead < 0x80) return 1;
  let length: number;
  let min: number;
  if (lead >= 0xc2 && lead <= 0xdf) [length, min] = [2, 0x80];
  else if (lead >= 0xe0 && lead <= 0xef) [length, min] = [3, 0x800];
  else if (lead >= 0xf0 && lead <= 0xf4) [length, min] = [4, 0x10000];
  else return 0;
  if (at + length > bytes.length) return 0;
  let point = lead & (0xff >> (length + 1));
  for (let i = 1; i < length; i += 1) {
    const next = bytes[at + i];
    if ((next & 0xc0) !== 0x80) return 0;
    point = (point << 6) | (next & 0x3f);
  }
  if (point < min || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) return 0;
  return length;
}

/** Decodes UTF-8, writing each byte that is not part of a valid sequence as a visible \xNN escape. */
function decodeEscapingInvalid(bytes: Buffer): string {
  let out = '';
  let runStart = 0;
  let at = 0;
  while (at < bytes.length) {
    const length = utf8SequenceLength(bytes, at);
    if (length > 0) {
      at += length;
      continue;
    }
    out += bytes.toString('utf8', runStart, at) + `\\x${bytes[at].toString(16).padStart(2, '0')}`;
    at += 1;
    runStart = at;
  }
  return out + bytes.toString('utf8', runStart, at);
}

/**
 * Makes server-chosen text safe to show: invalid UTF-8 and control/bidi characters become visible
 * escapes, and the result is at most `maxLength` characters (an ellipsis marks a cut).
 */
export function cleanText(input: string | Buffer, maxLength = DEFAULT_MAX_LENGTH): string {
  const text = typeof input === 'string' ? input : decodeEscapingInvalid(input);
  const escaped = text.replace(UNSAFE, escapeCodePoint);
  if (escaped.length <= maxLength) return escaped;
  return `${escaped.slice(0, Math.max(0, maxLength - 1))}…`;
}

/** True when the bytes are valid UTF-8. */
export function isValidUtf8(bytes: Buffer): boolean {
  for (let at = 0; at < bytes.length; ) {
    const length = utf8SequenceLength(bytes, at);
    if (length === 0) return false;
    at += length;
  }
  return true;
}
