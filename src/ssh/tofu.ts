/**
 * Trust on first use: a JSON file mapping "host:port" to the key first seen there. Writes are atomic
 * (temporary file + rename) and serialised per file inside this process, so two pools that meet a new
 * host at once cannot lose each other's entries.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TransferError } from '../errors';

export interface TofuRecord {
  type: string;
  fingerprint: string;
  firstSeen: string;
}

export type TofuStore = Record<string, TofuRecord>;

export type TofuVerdict = { kind: 'match' } | { kind: 'stored' } | { kind: 'unknown' } | { kind: 'mismatch'; record: TofuRecord };

const fileLocks = new Map<string, Promise<unknown>>();

export function tofuKey(host: string, port: number): string {
  return `${host.toLowerCase()}:${port}`;
}

/** Reads the store; a missing file is an empty store, an unreadable or corrupt one is an EHOSTKEY error. */
export async function readTofuStore(file: string, label: string): Promise<TofuStore> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new TransferError('EHOSTKEY', `trusted host key store ${file} cannot be read`, {
      host: label,
      detail: (error as NodeJS.ErrnoException).code,
      cause: error,
    });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as TofuStore;
  } catch (error) {
    // Never rewrite a store we cannot read: that would silently forget every trusted key.
    throw new TransferError('EHOSTKEY', `trusted host key store ${file} is not valid JSON`, { host: label, cause: error });
  }
}

/**
 * Checks the key against the store and, when the host is new and `store` is true, records it.
 * The read-decide-write runs under the file's lock.
 */
export function checkTofu(
  file: string,
  host: string,
  port: number,
  key: { type: string; fingerprint: string },
  options: { store: boolean; label: string },
): Promise<TofuVerdict> {
  return withFileLock(file, async () => {
    const store = await readTofuStore(file, options.label);
    const id = tofuKey(host, port);
    const record = Object.prototype.hasOwnProperty.call(store, id) ? store[id] : undefined;
    if (record) {
      return record.type === key.type && record.fingerprint === key.fingerprint
        ? { kind: 'match' as const }
        : { kind: 'mismatch' as const, record };
    }
    if (!options.store) return { kind: 'unknown' as const };
    store[id] = { type: key.type, fingerprint: key.fingerprint, firstSeen: new Date().toISOString() };
    await writeAtomically(file, `${JSON.stringify(store, null, 2)}\n`, options.label);
    return { kind: 'stored' as const };
  });
}

async function writeAtomically(file: string, text: string, label: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(temp, text, { mode: 0o600 });
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw new TransferError('EHOSTKEY', `trusted host key store ${file} cannot be written`, {
      host: label,
      detail: (error as NodeJS.ErrnoException).code,
      cause: error,
    });
  }
}

function withFileLock<T>(file: string, work: () => Promise<T>): Promise<T> {
  const key = path.resolve(file);
  const previous = fileLocks.get(key) ?? Promise.resolve();
  const next = previous.then(work, work);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  fileLocks.set(key, settled);
  void settled.then(() => {
    if (fileLocks.get(key) === settled) fileLocks.delete(key);
  });
  return next;
}
