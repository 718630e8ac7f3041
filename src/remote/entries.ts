/**
 * Entries as both transports build them: what a server said about a name (mode with its type bits, size,
 * mtime) checked and turned into a RemoteEntry, and the list options (glob, type, minimum age, sort, limit)
 * applied the same way whichever transport listed. Everything a server says is hostile: a name with '/',
 * an empty or over-long name, a size or time that is not a whole number in range is a protocol error
 * (EPROTO) naming the cleaned text, never a crash and never an entry.
 */
import { TransferError } from '../errors';
import { Glob } from '../glob';
import { cleanText, isValidUtf8 } from '../text';
import { joinRemote, showRemote } from '../transfer';
import type { EntryType, ListOptions, RemoteEntry, RemoteName } from './types';

/** NAME_MAX of every common file system: a longer name is no real file's. */
export const MAX_NAME_BYTES = 255;
/**
 * The modification times an entry may have: SFTP (version 3) carries an unsigned 32-bit time (a file
 * dated before 1970 arrives wrapped, as the server's sftp-server sent it); `stat %Y` over the shell gives
 * a real negative for one. A time outside about 1833..2106 is no real file's: a hostile number.
 */
const MAX_MTIME = 2 ** 32 - 1;
const MIN_MTIME = -(2 ** 32);
const UNKNOWN_TIME_KEY = MIN_MTIME - 1;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

export function typeOfMode(mode: number): EntryType {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'directory';
    case S_IFLNK:
      return 'symlink';
    default:
      return 'other';
  }
}

/** Text when the bytes are valid UTF-8, else the bytes (a copy: the caller's buffer may be reused). */
export function nameOf(bytes: Buffer): RemoteName {
  return isValidUtf8(bytes) ? bytes.toString('utf8') : Buffer.from(bytes);
}

/** '.' and '..' are every listing's own entries: left out, not refused. */
export function isDotEntry(name: Buffer): boolean {
  return (name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e);
}

function hostile(host: string, where: Buffer, problem: string, detail: string): TransferError {
  return new TransferError('EPROTO', `the server listed ${problem}`, { host, path: showRemote(where), detail: cleanText(detail, 200) });
}

/** Refuses a name no directory can hold (EPROTO). */
export function checkName(name: Buffer, host: string, where: Buffer): void {
  if (name.length === 0) throw hostile(host, where, 'an empty name', '');
  if (name.includes(0x2f)) throw hostile(host, where, "a name containing '/'", name.toString('latin1'));
  if (name.includes(0)) throw hostile(host, where, 'a name containing a NUL byte', name.toString('latin1'));
  if (name.length > MAX_NAME_BYTES) throw hostile(host, where, `a name longer than ${MAX_NAME_BYTES} bytes`, name.toString('latin1'));
}

export interface RawAttributes {
  mode: unknown;
  size: unknown;
  mtime: unknown;
}

function wholeNumber(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
}

/** Builds the entry for `name` in `dir` (the path as the request named it); hostile numbers are EPROTO. */
export function makeEntry(dir: Buffer, name: Buffer, attributes: RawAttributes, host: string): { entry: RemoteEntry; path: Buffer } {
  const path = joinRemote(dir, name);
  const mode = wholeNumber(attributes.mode, 0, 0xffff);
  if (mode === undefined) throw hostile(host, path, 'a mode that is not a file mode', String(attributes.mode));
  const size = wholeNumber(attributes.size, 0, Number.MAX_SAFE_INTEGER);
  if (size === undefined) throw hostile(host, path, 'a size that is not a whole number of bytes', String(attributes.size));
  let mtime: number | null = null;
  if (attributes.mtime !== null) {
    const seconds = wholeNumber(attributes.mtime, MIN_MTIME, MAX_MTIME);
    if (seconds === undefined) throw hostile(host, path, 'a modification time out of range', String(attributes.mtime));
    mtime = seconds;
  }
  const type = typeOfMode(mode);
  return {
    entry: { name: nameOf(name), path: nameOf(path), type, size: type === 'other' ? 0 : size, mode: mode & 0o7777, mtime },
    path,
  };
}

// -------------------------------------------------------------------------------------- list options

function bytesOf(name: RemoteName): Buffer {
  return typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
}

/** A filter made once per request: the glob parsed (EINVAL for a bad one), the age turned into a time. */
export function entryFilter(options: ListOptions, host: string, nowSeconds: number): (entry: RemoteEntry) => boolean {
  const glob = options.pattern ? Glob.parse(options.pattern, host) : undefined;
  const types = options.types && options.types.length > 0 ? new Set(options.types) : undefined;
  const newest = options.minAgeSeconds !== undefined && options.minAgeSeconds > 0 ? nowSeconds - options.minAgeSeconds : undefined;
  return (entry) => {
    if (types && !types.has(entry.type)) return false;
    if (glob && !glob.matches(bytesOf(entry.name))) return false;
    // An entry whose time the server cannot tell is not known to be old enough.
    if (newest !== undefined && (entry.mtime === null || entry.mtime > newest)) return false;
    return true;
  };
}

/** Sorts (by bytes of the path for names, so every transport and locale gives one order) and limits. */
export function sortAndLimit(entries: RemoteEntry[], options: ListOptions): RemoteEntry[] {
  const byPath = (a: RemoteEntry, b: RemoteEntry): number => Buffer.compare(bytesOf(a.path), bytesOf(b.path));
  const sort = options.sort ?? { by: 'name', descending: false };
  // An unknown time sorts before every known one, pre-1970 ones too.
  const key = (entry: RemoteEntry): number => (sort.by === 'size' ? entry.size : (entry.mtime ?? UNKNOWN_TIME_KEY));
  // Equal times or sizes keep the name order (ascending) either way, so a limit cuts predictably.
  const direction = sort.descending ? -1 : 1;
  const sorted = [...entries].sort((a, b) => (sort.by === 'name' ? direction * byPath(a, b) : direction * (key(a) - key(b)) || byPath(a, b)));
  return options.limit !== undefined && options.limit >= 0 ? sorted.slice(0, options.limit) : sorted;
}

/** The entry cap: the server listed more than the request allows. */
export function tooManyEntries(host: string, where: Buffer, maxEntries: number): TransferError {
  return new TransferError('ETOOBIG', `the listing holds more than ${maxEntries} entries (raise the entry limit, or list less)`, {
    host,
    path: showRemote(where),
  });
}
