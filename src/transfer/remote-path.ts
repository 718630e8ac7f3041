/**
 * Remote paths are handled as raw bytes: a POSIX server names files with bytes, not text, and a path
 * that is not valid UTF-8 must still reach it exactly (ssh2's exec passes a Buffer command through).
 */
import { TransferError } from '../errors';
import { cleanText, isValidUtf8 } from '../text';

const SLASH = 0x2f;

/** The request's remote path as bytes; empty or NUL-containing paths are refused (EINVAL). */
export function remotePathOf(request: { remotePath: string; remotePathBytes?: Buffer }, host: string): Buffer {
  const bytes = request.remotePathBytes ?? Buffer.from(request.remotePath ?? '', 'utf8');
  if (bytes.length === 0) throw new TransferError('EINVAL', 'the remote path is empty', { host });
  if (bytes.includes(0)) throw new TransferError('EINVAL', 'the remote path contains a NUL byte', { host, path: cleanText(bytes) });
  return bytes;
}

/** Text for messages: invalid UTF-8 and control characters escaped. */
export function showRemote(path: Buffer): string {
  return cleanText(path, 1024);
}

/** Text for results: the path itself when it is valid UTF-8, else its escaped form. */
export function remoteText(path: Buffer): string {
  return isValidUtf8(path) ? path.toString('utf8') : cleanText(path, 4096);
}

/** The path without its trailing slashes (`/` stays `/`). */
export function stripTrailingSlashes(path: Buffer): Buffer {
  let end = path.length;
  while (end > 1 && path[end - 1] === SLASH) end -= 1;
  return path.subarray(0, end);
}

export function endsWithSlash(path: Buffer): boolean {
  return path.length > 1 && path[path.length - 1] === SLASH;
}

/** dirname/basename on bytes; "name" → { dir: ".", base: "name" }, "/x" → { dir: "/", base: "x" }. */
export function splitRemote(path: Buffer): { dir: Buffer; base: Buffer } {
  const trimmed = stripTrailingSlashes(path);
  const slash = trimmed.lastIndexOf(SLASH);
  if (slash < 0) return { dir: Buffer.from('.'), base: trimmed };
  const base = trimmed.subarray(slash + 1);
  let dirEnd = slash;
  while (dirEnd > 0 && trimmed[dirEnd - 1] === SLASH) dirEnd -= 1;
  return { dir: dirEnd === 0 ? Buffer.from('/') : trimmed.subarray(0, dirEnd), base };
}

export function joinRemote(dir: Buffer, name: Buffer | string): Buffer {
  const nameBytes = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
  if (dir.length > 0 && dir[dir.length - 1] === SLASH) return Buffer.concat([dir, nameBytes]);
  return Buffer.concat([dir, Buffer.from('/'), nameBytes]);
}
