/**
 * Temporary names for atomic writes: `.<name>.scp-<random>.part` in the same directory as the final
 * file, so the final rename never crosses a filesystem. Kept within NAME_MAX (255 bytes).
 */
import { randomBytes } from 'crypto';

const NAME_MAX = 255;
const SUFFIX_LENGTH = '.scp-'.length + 16 + '.part'.length;

function suffix(): string {
  return `.scp-${randomBytes(8).toString('hex')}.part`;
}

/** A staging directory's name (see scp-upload's `stage`): `.scp-<random>.part`. */
export function stagingName(): Buffer {
  return Buffer.from(suffix());
}

const STAGING_NAME = /^\.scp-[0-9a-f]{16}\.part$/u;
const TEMP_NAME = /^\.[\s\S]*\.scp-[0-9a-f]{16}\.part$/u;

/**
 * True when `name` (a final path component, raw bytes) is exactly what remoteTempName or stagingName
 * makes: the only names a recorded leftover may carry, so no record can make us remove anything else.
 */
export function isOurTemporaryName(name: Buffer, kind: 'file' | 'staging'): boolean {
  if (name.includes(0x2f) || name.includes(0)) return false;
  const text = name.toString('latin1');
  if (kind === 'staging') return STAGING_NAME.test(text);
  return TEMP_NAME.test(text) && name.length <= NAME_MAX;
}

/**
 * Remote temp name: raw bytes (the final name may be any bytes), with control bytes replaced by "_"
 * because the temp name travels in an SCP record line (a newline cannot) while the final name only
 * reaches the server inside a quoted shell argument.
 */
export function remoteTempName(name: Buffer): Buffer {
  const room = NAME_MAX - 1 - SUFFIX_LENGTH;
  const kept = Buffer.from(name.subarray(0, room));
  for (let i = 0; i < kept.length; i += 1) if (kept[i] < 0x20 || kept[i] === 0x7f) kept[i] = 0x5f;
  return Buffer.concat([Buffer.from('.'), kept, Buffer.from(suffix())]);
}

/** A name that can travel in an SCP record (no control bytes), for records the server ignores. */
export function recordSafeName(name: Buffer): Buffer {
  const kept = Buffer.from(name);
  for (let i = 0; i < kept.length; i += 1) if (kept[i] < 0x20 || kept[i] === 0x7f) kept[i] = 0x5f;
  return kept;
}

/** Local temp name: cut on a character boundary so the result is still valid text. */
export function localTempName(name: string): string {
  const room = NAME_MAX - 1 - SUFFIX_LENGTH;
  let kept = name;
  if (Buffer.byteLength(kept) > room) {
    kept = Buffer.from(name, 'utf8').subarray(0, room).toString('utf8').replace(/\ufffd+$/u, '');
  }
  return `.${kept}${suffix()}`;
}
