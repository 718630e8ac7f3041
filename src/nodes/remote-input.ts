/**
 * Reading an `scp remote` message: the operation, the path or paths, the new names of a rename and the
 * list options, from the node's settings and the message. Pure (no Node-RED): a bad value is an
 * InputError naming what was given.
 */
import { ENTRY_TYPES, MAX_ENTRIES_CAP, REMOTE_OPERATIONS, type EntryType, type ListOptions, type RemoteOperation, type RemoteRequest, type SortKey } from '../remote';
import { cleanText } from '../text';
import { splitRemote } from '../transfer';
import { InputError } from './input-error';
import { describeValueType, remotePathFrom } from './message-input';

export interface RemoteDef {
  operation?: RemoteOperation | 'msg';
  overwrite?: boolean;
  parents?: boolean;
  mode?: string;
  recursive?: boolean;
  maxDepth?: number | string;
  maxEntries?: number | string;
  pattern?: string;
  types?: string;
  minAge?: number | string;
  sortBy?: SortKey;
  sortOrder?: 'asc' | 'desc';
  limit?: number | string;
  absentIsError?: boolean;
}

const MODE_PATTERN = /^0?[0-7]{3,4}$/;
const SLASH = 0x2f;

export function operationOf(def: RemoteDef, msg: Record<string, unknown>): RemoteOperation {
  const value = def.operation === 'msg' || def.operation === undefined ? msg.operation : def.operation;
  if (typeof value === 'string' && (REMOTE_OPERATIONS as readonly string[]).includes(value)) return value as RemoteOperation;
  throw new InputError('badOperation', 'the operation must be list, stat, delete, rename, mkdir, rmdir or chmod', {
    detail: typeof value === 'string' ? `"${cleanText(value, 50)}"` : describeValueType(value),
  });
}

/** One path or an array of them, as bytes (a Buffer keeps a name that is not UTF-8). */
export function pathsFrom(value: unknown, key: 'noRemotePath' | 'noNewPath' = 'noRemotePath'): { texts: string[]; bytes: Buffer[] } {
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) throw new InputError(key === 'noRemotePath' ? 'noRemotePath' : 'noNewPath', 'the path list is empty');
  const texts: string[] = [];
  const bytes: Buffer[] = [];
  for (const item of items) {
    let one;
    try {
      one = remotePathFrom(item);
    } catch (error) {
      if (key === 'noNewPath' && error instanceof InputError) {
        throw new InputError(error.messageKey === 'noRemotePath' ? 'noNewPath' : 'badNewPath', 'the new path must be a non-empty string', { detail: error.detail });
      }
      throw error;
    }
    texts.push(one.text);
    bytes.push(one.bytes ?? Buffer.from(one.text, 'utf8'));
  }
  return { texts, bytes };
}

function number(value: unknown, fallback: number | undefined, what: string): number | undefined {
  if (value === undefined || value === null || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new InputError('badListOption', `${what} must be a number of 0 or more`, { detail: `${what} = ${cleanText(String(value), 50)}` });
  return parsed;
}

function entryLimit(value: unknown): number {
  const limit = number(value, 10_000, 'the entry limit') || 10_000;
  if (limit > MAX_ENTRIES_CAP) throw new InputError('badListOption', `the entry limit must be at most ${MAX_ENTRIES_CAP}`, { detail: `the entry limit = ${cleanText(String(value), 50)}` });
  return limit;
}

function modeFrom(def: RemoteDef, msg: Record<string, unknown>): number {
  const given = (def.mode ?? '').trim();
  const value: unknown = given !== '' ? given : msg.mode;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0o7777) return value;
  if (typeof value === 'string' && MODE_PATTERN.test(value.trim())) return parseInt(value.trim(), 8);
  throw new InputError('badMode', 'the mode must be octal, like 0644', { detail: typeof value === 'string' ? cleanText(value, 50) : describeValueType(value) });
}

function listOptionsFrom(def: RemoteDef, msg: Record<string, unknown>): ListOptions {
  const pattern = def.pattern?.trim() ? def.pattern.trim() : typeof msg.pattern === 'string' && msg.pattern !== '' ? msg.pattern : undefined;
  const types = (def.types ?? '')
    .split(',')
    .map((type) => type.trim())
    .filter((type): type is EntryType => (ENTRY_TYPES as readonly string[]).includes(type));
  const minAge = number(def.minAge !== undefined && def.minAge !== '' ? def.minAge : msg.minAge, undefined, 'the minimum age');
  const limit = number(def.limit, undefined, 'the limit');
  return {
    recursive: def.recursive === true,
    maxDepth: number(def.maxDepth, 8, 'the depth limit') || 8,
    maxEntries: entryLimit(def.maxEntries),
    ...(pattern ? { pattern } : {}),
    ...(types.length > 0 ? { types } : {}),
    ...(minAge ? { minAgeSeconds: minAge } : {}),
    sort: { by: def.sortBy ?? 'name', descending: def.sortOrder === 'desc' },
    ...(limit !== undefined && def.limit !== '' ? { limit: Math.floor(limit) } : {}),
  };
}

/** The new name of each path: the same number of new paths, or one ending in '/' (into that directory). */
function renamePairs(from: Buffer[], to: Buffer[]): { from: Buffer; to: Buffer }[] {
  const only = to.length === 1 ? to[0] : undefined;
  if (only && only[only.length - 1] === SLASH) {
    return from.map((path) => ({ from: path, to: Buffer.concat([only, splitRemote(path).base]) }));
  }
  if (to.length !== from.length) {
    throw new InputError('badNewPath', 'give one new path per path, or one directory ending in "/"', { detail: `${from.length} paths, ${to.length} new paths` });
  }
  return from.map((path, index) => ({ from: path, to: to[index] as Buffer }));
}

/** The engine request of one message. */
export function remoteRequestOf(def: RemoteDef, msg: Record<string, unknown>, operation: RemoteOperation, paths: Buffer[], newPaths: Buffer[] | undefined): RemoteRequest {
  const first = paths[0] as Buffer;
  const single = (): Buffer => {
    if (paths.length !== 1) throw new InputError('badRemotePath', 'the remote path must be a string', { detail: describeValueType(paths) });
    return first;
  };
  switch (operation) {
    case 'list':
      return { operation, path: single(), options: listOptionsFrom(def, msg) };
    case 'stat':
      return { operation, path: single() };
    case 'delete':
    case 'rmdir':
      return { operation, paths };
    case 'mkdir':
      return { operation, paths, parents: def.parents !== false };
    case 'chmod':
      return { operation, paths, mode: modeFrom(def, msg) };
    case 'rename':
      if (!newPaths) throw new InputError('noNewPath', 'the new path is empty');
      return { operation, pairs: renamePairs(paths, newPaths), overwrite: def.overwrite === true };
  }
}
