/**
 * Every catalog key the nodes can ask for exists in the en-US catalogs: a missing or misspelt key makes
 * Node-RED show the key itself ("badMaxSize") to the user. Scans the runtime sources (src/nodes) and the
 * editor templates (nodes/*.html); a key built at run time must match one of the patterns below, whose
 * values are enumerated, so a new kind of dynamic key fails here until this test learns it.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { TRANSFER_ERROR_CODES, TRANSFER_ERROR_REASONS } from '../../src/errors';
import { DEVICE_ERROR_KEYS } from '../../src/nodes/device';
import { INPUT_ERROR_KEYS } from '../../src/nodes/input-error';
import { lookUp } from './catalog';

const ROOT = path.resolve(__dirname, '../../..');
const NODE_SOURCES = path.join(ROOT, 'src/nodes');
const EDITOR = path.join(ROOT, 'nodes');
const FLOW_NAMESPACES = ['scp-upload', 'scp-download', 'scp-remote'] as const;

function read(file: string): string {
  return fs.readFileSync(file, 'utf8');
}

/** Input-error keys named as string literals in a source file (constructors and arguments alike). */
function inputKeysIn(source: string): string[] {
  // (the list of all keys in input-error.ts is no use of them)
  const uses = source.replace(/export const INPUT_ERROR_KEYS = \[[^\]]*\]/, '');
  return INPUT_ERROR_KEYS.filter((key) => new RegExp(`['"\`]${key}['"\`]`).test(uses));
}

/** Strings that look like keys but are not: a permission name, an icon file. */
const NOT_KEYS = /^scp-connection\.(read|write)$|\.svg$/;

/** The SshWarning codes the connection layer may raise (the union in src/ssh/types.ts). */
function sshWarningCodes(): string[] {
  const types = read(path.join(ROOT, 'src/ssh/types.ts'));
  const union = /interface SshWarning \{\s*code:([^;]+);/.exec(types);
  assert.ok(union, 'SshWarning.code is a union of string literals');
  return [...union[1].matchAll(/'(\w+)'/g)].map((match) => match[1]);
}

/** Every key the runtime can build, by file: literal keys and the expansions of the known dynamic ones. */
function runtimeKeys(): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  const jobRunner = read(path.join(NODE_SOURCES, 'job-runner.ts'));
  // Status texts with words are keys the editor translates (this.key('connecting')); numbers are literal.
  const statusKeys = [...jobRunner.matchAll(/this\.key\('(\w+)'/g)].map((match) => match[1]);
  assert.ok(statusKeys.length >= 2, 'status keys found');
  // Input errors raised by the modules both flow nodes share can reach either node's catalog.
  const nodeFiles = fs.readdirSync(NODE_SOURCES).filter((name) => name.endsWith('.ts'));
  // A node's own helpers (scp remote reads its message in remote-input.ts) raise keys of that node only.
  const helperFiles: Record<string, string[]> = { 'scp-remote': ['remote-input.ts'] };
  const ownFiles = new Set([...FLOW_NAMESPACES.map((namespace) => `${namespace}.ts`), 'scp-connection.ts', ...Object.values(helperFiles).flat()]);
  const sharedInputKeys = nodeFiles.filter((file) => !ownFiles.has(file)).flatMap((file) => inputKeysIn(read(path.join(NODE_SOURCES, file))));
  for (const file of nodeFiles) {
    const source = read(path.join(NODE_SOURCES, file));
    const found: string[] = [];
    for (const match of source.matchAll(/['"](scp-(?:connection|upload|download|remote)\.[\w.]+)['"]/g)) found.push(match[1]);
    for (const match of source.matchAll(/`([^`]*)`/g)) {
      const template = match[1];
      if (!template.includes('${') || !/scp-|namespace\}\./.test(template)) continue;
      if (template === '${namespace}.errors.${key}') {
        for (const namespace of FLOW_NAMESPACES) {
          const own = [`${namespace}.ts`, ...(helperFiles[namespace] ?? [])].flatMap((file) => inputKeysIn(read(path.join(NODE_SOURCES, file))));
          for (const key of [...TRANSFER_ERROR_CODES, ...TRANSFER_ERROR_REASONS, ...sharedInputKeys, ...own]) found.push(`${namespace}.errors.${key}`);
        }
      } else if (template === '${this.namespace}.status.${name}') {
        for (const namespace of FLOW_NAMESPACES) for (const key of statusKeys) found.push(`${namespace}.status.${key}`);
      } else if (template === 'scp-connection.warnings.${warning.code}') {
        for (const code of sshWarningCodes()) found.push(`scp-connection.warnings.${code}`);
      } else if (template === 'scp-connection.errors.${error.key}') {
        for (const key of DEVICE_ERROR_KEYS) found.push(`scp-connection.errors.${key}`);
      } else {
        assert.fail(`${file}: a catalog key built as \`${template}\` is not known to this test: teach it the values`);
      }
    }
    keys.set(`src/nodes/${file}`, found);
  }
  return keys;
}

function editorKeys(): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const file of fs.readdirSync(EDITOR).filter((name) => name.endsWith('.html'))) {
    const html = read(path.join(EDITOR, file));
    const found: string[] = [];
    for (const match of html.matchAll(/data-i18n="([^"]+)"/g)) {
      for (const part of match[1].split(';')) found.push(part.replace(/^\[[^\]]+\]/, ''));
    }
    for (const match of html.matchAll(/['"](scp-(?:connection|upload|download|remote)\.[\w.]+)['"]/g)) {
      const key = match[1];
      if (!key.endsWith('.')) found.push(key);
      // A key built from a prefix: the report's trust texts and the validation messages are expanded from
      // the literals they are built with. The field labels ('<ns>.label.' + property) are checked for every
      // property in the browser (test/editor: defaults and credentials without a translated label).
      else if (key === 'scp-connection.report.') {
        const trustOf = /function trustOf\(report\) \{([\s\S]*?)\n {12}\}/.exec(html);
        assert.ok(trustOf, 'trustOf() builds the report key');
        for (const word of trustOf[1].matchAll(/'(\w+)'/g)) found.push(key + word[1]);
      } else if (key === 'scp-connection.validation.') {
        const names = [...html.matchAll(/invalid\(opt, '(\w+)'/g)].map((use) => use[1]);
        assert.ok(names.length >= 3, 'validation keys found');
        for (const name of names) found.push(key + name);
      } else if (!key.endsWith('.label.')) {
        assert.fail(`${file}: a catalog key built from \`${key}\` is not known to this test: teach it the values`);
      }
    }
    keys.set(`nodes/${file}`, found);
  }
  return keys;
}

/** The keys (by file) that en-US lacks, among those `ours` accepts, and how many were looked up (ours or not). */
function missingKeys(keysByFile: Map<string, string[]>, ours: (key: string) => boolean = () => true): { missing: string[]; count: number } {
  const missing: string[] = [];
  let count = 0;
  for (const [file, keys] of keysByFile) {
    for (const key of keys) {
      count += 1;
      if (ours(key) && !NOT_KEYS.test(key) && lookUp(key) === undefined) missing.push(`${file}: ${key}`);
    }
  }
  return { missing, count };
}

describe('nodes: every catalog key in use exists in en-US', function () {
  it('the runtime (src/nodes): literal keys, error codes, reasons, input errors, status, warnings', function () {
    const { missing, count } = missingKeys(runtimeKeys());
    assert.deepStrictEqual(missing, []);
    assert.ok(count > 60, `${count} keys checked`);
  });

  it('the runtime asks for the limits under the names the catalog has (badMaxSize, badMaxFiles)', function () {
    const download = read(path.join(NODE_SOURCES, 'scp-download.ts'));
    for (const key of ['badMaxSize', 'badMaxFiles']) {
      assert.ok(download.includes(`'${key}'`), `${key} is used`);
      assert.ok(lookUp(`scp-download.errors.${key}`), `${key} is in the catalog`);
    }
  });

  it('the editor templates (nodes/*.html)', function () {
    // Node-RED's own keys (node-red:common...) are not ours to check.
    const { missing, count } = missingKeys(editorKeys(), (key) => /^scp-(connection|upload|download)\./.test(key));
    assert.deepStrictEqual(missing, []);
    assert.ok(count > 50, `${count} keys checked`);
  });
});
