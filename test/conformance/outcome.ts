/**
 * What one conformance row did on one transport, in a form two transports can be compared in: the files
 * on both sides (names, kinds, modes, sizes, contents, and times when the row preserves them), the
 * result the engine returned, or its error's code and message. Only what must differ is normalised: the
 * row's own directories (each transport gets fresh ones), the transport's name and the random part of a
 * temporary name.
 */
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { TransferError } from '../../src/errors';
import type { TransferResult, TransportChoice } from '../../src/transfer';
import { type SshdServer, runAsUser } from '../harness';
import { sq } from '../transfer/support';

export interface Outcome {
  /** "name kind mode size sha mtime" for every entry below the row's remote directory */
  remote: string[];
  /** the same for the row's local directory */
  local: string[];
  result?: {
    transport: string;
    files: string[];
    directories: string[];
    bytes: number;
    skipped: string[];
    /** resume: where the copy started */
    resumedFrom?: number;
  };
  error?: { code: string; message: string };
  /** transport 'auto' only: the transport that moved the data (the result's, before it is normalised) */
  via?: string;
}

/** Where a row runs: replaced by placeholders so two transports' outcomes compare. */
export interface Places {
  remoteAbsolute: string;
  remoteRelative: string;
  local: string;
  /** upload sources */
  source: string;
  /** 'auto': either transport's name is normalised (which one moved the data is in Outcome.via) */
  transport: TransportChoice;
}

/** A name as a reader sees it: text when it is UTF-8, with control bytes and others escaped. */
export function showName(name: Buffer): string {
  const text = name.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(name) ? text : `0x${name.toString('hex')}`;
  return JSON.stringify(printable).slice(1, -1);
}

export function normalise(text: string, places: Places): string {
  let out = text;
  for (const [value, placeholder] of [
    [places.remoteAbsolute, '<remote>'],
    [places.remoteRelative, '<remote>'],
    [places.local, '<local>'],
    [places.source, '<source>'],
  ] as const) {
    out = out.split(value).join(placeholder);
  }
  return out
    .replace(/\.(scp|sftp)-[0-9a-f]{16}\.part/g, '.<tmp>.part')
    .replace(new RegExp(`\\b${places.transport === 'auto' ? '(?:scp|sftp)' : places.transport}\\b`, 'gi'), '<transport>');
}

function sha(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex').slice(0, 12);
}

/**
 * Every entry below `dir` on the server, read as the server's user (not through the code under test).
 * Unreadable files show their size without a checksum.
 */
export async function remoteView(server: SshdServer, dir: string, withTimes: boolean): Promise<string[]> {
  // NUL-separated fields: names may hold spaces, newlines and bytes that are not UTF-8.
  const listing = await runAsUser(server, `cd ${sq(dir)} && find . -mindepth 1 -printf '%P\\0%y\\0%m\\0%s\\0%T@\\0'`);
  assert.equal(listing.code, 0, listing.stderr);
  const fields = splitNul(listing.stdout);
  const sums = await remoteSums(server, dir);
  const lines: string[] = [];
  for (let at = 0; at + 5 <= fields.length; at += 5) {
    const [name, kind, mode, size, mtime] = fields.slice(at, at + 5);
    const kindText = kind.toString();
    const sum = kindText === 'f' ? (sums.get(name.toString('hex')) ?? 'unreadable') : '-';
    lines.push(line(showName(name), kindText, mode.toString(), kindText === 'd' ? '-' : size.toString(), sum, withTimes ? Math.floor(Number(mtime.toString())) : undefined));
  }
  return lines.sort();
}

/** sha256 (first 12 hex digits) of every readable file below `dir`, by the name's bytes in hex. */
async function remoteSums(server: SshdServer, dir: string): Promise<Map<string, string>> {
  const script = 'for f; do if h=$(sha256sum < "$f" 2>/dev/null); then printf "%s\\0%s\\0" "$f" "$h"; fi; done';
  const out = await runAsUser(server, `cd ${sq(dir)} && find . -mindepth 1 -type f -exec sh -c ${sq(script)} sh {} +`);
  const fields = splitNul(out.stdout);
  const sums = new Map<string, string>();
  for (let at = 0; at + 2 <= fields.length; at += 2) sums.set(fields[at].subarray(2).toString('hex'), fields[at + 1].toString().slice(0, 12));
  return sums;
}

function splitNul(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let at = data.indexOf(0); at !== -1; at = data.indexOf(0, start)) {
    out.push(data.subarray(start, at));
    start = at + 1;
  }
  return out;
}

function line(name: string, kind: string, mode: string, size: string, sum: string, mtime: number | undefined): string {
  // A tab after the name: a JSON-escaped name never holds a raw one, so the name can be read back.
  return `${name}\t${[kind, mode, size, sum, ...(mtime === undefined ? [] : [String(mtime)])].join(' ')}`;
}

/** Every entry below `dir` on this machine, in the same form as remoteView. */
export async function localView(dir: string, withTimes: boolean, rel: Buffer = Buffer.alloc(0)): Promise<string[]> {
  const lines: string[] = [];
  const here = Buffer.concat([Buffer.from(`${dir}/`), rel]);
  for (const name of await fs.readdir(here, { encoding: 'buffer' })) {
    const relPath = rel.length > 0 ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
    const path = Buffer.concat([Buffer.from(`${dir}/`), relPath]);
    const stats = await fs.lstat(path);
    const kind = stats.isDirectory() ? 'd' : stats.isFile() ? 'f' : 'o';
    const sum = kind === 'f' ? sha(await fs.readFile(path)) : '-';
    lines.push(line(showName(relPath), kind, (stats.mode & 0o7777).toString(8), kind === 'd' ? '-' : String(stats.size), sum, withTimes ? Math.floor(stats.mtimeMs / 1000) : undefined));
    if (kind === 'd') lines.push(...(await localView(dir, withTimes, relPath)));
  }
  return lines.sort();
}

export function describeResult(result: TransferResult, places: Places, withTimes: boolean): Outcome['result'] {
  const show = (text: string | undefined): string => (text === undefined ? '-' : normalise(text, places));
  return {
    transport: normalise(result.transport, places),
    files: result.files.map((file) =>
      [
        show(file.remotePath),
        show(file.localPath),
        file.size,
        file.mode.toString(8),
        file.transferred ? 'sent' : 'skipped',
        file.data ? sha(file.data) : '-',
        ...(withTimes ? [file.mtime ?? '-'] : []),
        // scheduled pulls: what the after-action did, and files skipped as unchanged
        ...(file.unchanged ? ['unchanged'] : []),
        ...(file.removed ? ['removed'] : []),
        ...(file.movedTo !== undefined ? [`movedTo=${show(file.movedTo)}`] : []),
        ...(file.afterError ? [`afterError=${file.afterError.code}`] : []),
        // verify: the sha256 both sides agreed on
        ...(file.sha256 !== undefined ? [`sha256=${file.sha256}`] : []),
      ].join(' '),
    ),
    directories: result.directories.map(show),
    bytes: result.bytes,
    skipped: (result.skipped ?? []).map((entry) => `${show(entry.localPath)} ${entry.reason}`),
    ...(result.resumedFrom !== undefined ? { resumedFrom: result.resumedFrom } : {}),
  };
}

export function describeError(error: unknown, places: Places): Outcome['error'] {
  if (error instanceof TransferError) return { code: error.code, message: normalise(error.message, places) };
  return { code: 'not a TransferError', message: String((error as Error)?.stack ?? error) };
}

export async function collect(
  server: SshdServer,
  places: Places,
  run: () => Promise<TransferResult>,
  withTimes: boolean,
): Promise<{ outcome: Omit<Outcome, 'remote' | 'local'>; view: () => Promise<Pick<Outcome, 'remote' | 'local'>> }> {
  let outcome: Omit<Outcome, 'remote' | 'local'>;
  try {
    const result = await run();
    outcome = { result: describeResult(result, places, withTimes), ...(places.transport === 'auto' ? { via: result.transport } : {}) };
  } catch (error) {
    outcome = { error: describeError(error, places) };
  }
  return {
    outcome,
    view: async () => ({
      remote: (await remoteView(server, places.remoteRelative, withTimes)).map((entry) => normalise(entry, places)),
      local: (await localView(join(places.local), withTimes)).map((entry) => normalise(entry, places)),
    }),
  };
}
