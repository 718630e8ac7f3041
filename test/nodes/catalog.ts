/**
 * The nodes with a translator that reads the real en-US catalogs (inside the test helper RED._ returns the
 * key itself), so a test sees the message a user reads, and helpers that judge such a message: it has the
 * words that matter, no placeholder or catalog key left in it, and no phrase said twice.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { allNodes } from './support';

const LOCALES = path.resolve(__dirname, '../../../locales/en-US');

type Register = (red: Record<string, unknown>) => unknown;
type Catalog = Record<string, unknown>;

const catalogs = new Map<string, Catalog>();

/** The en-US catalog of one node namespace (`scp-upload`), as Node-RED loads it. */
export function catalogOf(namespace: string): Catalog {
  let catalog = catalogs.get(namespace);
  if (!catalog) {
    catalog = (JSON.parse(fs.readFileSync(path.join(LOCALES, `${namespace}.json`), 'utf8')) as Record<string, Catalog>)[namespace];
    catalogs.set(namespace, catalog);
  }
  return catalog;
}

/** The text at `ns.a.b`, or undefined when the catalog has no such key. */
export function lookUp(key: string): string | undefined {
  const [namespace, ...parts] = key.split('.');
  let node: unknown = catalogOf(namespace);
  for (const part of parts) node = (node as Record<string, unknown> | undefined)?.[part];
  return typeof node === 'string' ? node : undefined;
}

/** Like Node-RED's i18n: `__name__` filled from the values; a missing key comes back as the key. */
export function translate(key: string, values: Record<string, unknown> = {}): string {
  const text = lookUp(key);
  if (text === undefined) return key;
  return text.replace(/__(\w+)__/g, (_all, name: string) => String(values[name] ?? ''));
}

/** The three nodes, registered with a RED whose `_` translates with the en-US catalogs. */
export const translatedNodes = (allNodes as Register[]).map((register) => (red: Record<string, unknown>) => {
  red._ = translate;
  return register(red);
});

/** Runs of `size` words that occur more than once in `text` ("could not be evaluated: could not be evaluated"). */
export function repeatedPhrases(text: string, size = 4): string[] {
  const words = text.toLowerCase().split(/[\s:;,()"]+/).filter(Boolean);
  const seen = new Set<string>();
  const repeated: string[] = [];
  for (let i = 0; i + size <= words.length; i += 1) {
    const phrase = words.slice(i, i + size).join(' ');
    if (seen.has(phrase)) repeated.push(phrase);
    seen.add(phrase);
  }
  return repeated;
}

/**
 * A message a user can act on: it has every expected fragment, no `__placeholder__`, no catalog key
 * (`scp-upload.errors.x`, or a bare key such as `badMaxSize`), and says nothing twice.
 */
export function assertReadable(message: string, expected: (string | RegExp)[]): void {
  for (const fragment of expected) {
    if (typeof fragment === 'string') assert.ok(message.includes(fragment), `${JSON.stringify(message)} should contain ${JSON.stringify(fragment)}`);
    else assert.match(message, fragment);
  }
  assert.doesNotMatch(message, /__\w+__/, 'a placeholder was left unfilled');
  assert.doesNotMatch(message, /scp-(upload|download|connection)\./, 'a catalog key shows');
  const keys = ['scp-upload', 'scp-download'].flatMap((namespace) => Object.keys(catalogOf(namespace).errors as Catalog));
  for (const key of keys) {
    if (/^[a-z]+[A-Z]/.test(key)) assert.ok(!message.includes(key), `the internal key ${key} shows in ${JSON.stringify(message)}`);
  }
  assert.deepStrictEqual(repeatedPhrases(message), [], `${JSON.stringify(message)} repeats itself`);
}
