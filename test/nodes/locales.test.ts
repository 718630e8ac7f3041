/**
 * The translations (locales/de, ja, zh-CN) follow locales/en-US key for key and page for page. Node-RED fills a
 * missing or empty key from en-US without a word, so a forgotten translation would only show up as English in
 * a German editor: these checks make it fail here instead.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';

const LOCALES = path.resolve(__dirname, '..', '..', '..', 'locales');
const SOURCE = 'en-US';
const TRANSLATIONS = ['de', 'ja', 'zh-CN'];
/** What a browser may send for each translation; Node-RED falls back from "de-DE" to "de". */
const BROWSER_LANGUAGES: Record<string, string[]> = { de: ['de', 'de-DE', 'de-AT'], ja: ['ja', 'ja-JP'], 'zh-CN': ['zh-CN'] };

type Catalog = { [key: string]: string | Catalog };

/** Every leaf of a catalog as dotted key → value (a value that is not a string or object is kept as is). */
function leaves(catalog: Catalog, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(catalog)) {
    const dotted = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of leaves(value, dotted)) out.set(k, v);
    } else {
      out.set(dotted, value);
    }
  }
  return out;
}

/** The interpolations a text needs: i18next's `__name__` and `{{name}}`, sorted, duplicates kept once. */
function placeholders(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(/__[A-Za-z0-9_.-]+?__|\{\{-?\s*[^}\s]+\s*\}\}/g)) found.add(match[0]);
  return [...found].sort();
}

/** What is wrong with a translated catalog compared with the source: one line per problem. */
function catalogProblems(source: Catalog, translated: Catalog): string[] {
  const problems: string[] = [];
  const want = leaves(source);
  const have = leaves(translated);
  for (const [key, text] of want) {
    const value = have.get(key);
    if (value === undefined) problems.push(`missing key ${key}`);
    else if (typeof value !== 'string') problems.push(`key ${key} is not a string`);
    else if (value.trim() === '') problems.push(`empty key ${key}`);
    else if (typeof text === 'string' && placeholders(text).join(' ') !== placeholders(value).join(' ')) {
      problems.push(`key ${key}: placeholders ${placeholders(value).join(' ') || '(none)'}, en-US has ${placeholders(text).join(' ') || '(none)'}`);
    }
  }
  for (const key of have.keys()) if (!want.has(key)) problems.push(`extra key ${key} (not in en-US)`);
  return problems;
}

function helpNames(html: string): string[] {
  return [...html.matchAll(/<script\s+type="text\/html"\s+data-help-name="([^"]*)"/g)].map((m) => m[1]).sort();
}

/** The code spans of a help page, as a set: commands, property names and error codes stay exactly as in en-US. */
function codeSpans(html: string): string[] {
  return [...new Set([...html.matchAll(/<code>([\s\S]*?)<\/code>/g)].map((m) => m[1]))].sort();
}

const STRUCTURE = /<\/?(script|h3|h4|dl|dt|dd|ol|ul|li|table|tr|th|td|p|code|i|b|a|span)\b[^>]*>/g;

/** The tags that shape a help page (headings, lists, tables, the property lists) with their classes, in order. */
function structure(html: string): string[] {
  return [...html.matchAll(STRUCTURE)]
    .filter((m) => ['script', 'h3', 'h4', 'dl', 'dt', 'dd', 'ol', 'ul', 'li', 'table', 'tr', 'th', 'td'].includes(m[1]))
    .map((m) => m[0].replace(/\s+(href|data-help-name)="[^"]*"/g, '').replace(/\s+/g, ' '));
}

/** Opening and closing tags must pair up, or the editor's help panel renders a broken page. */
function unbalancedTags(html: string): string[] {
  const stack: string[] = [];
  const problems: string[] = [];
  for (const match of html.matchAll(STRUCTURE)) {
    const closing = match[0].startsWith('</');
    if (!closing) stack.push(match[1]);
    else if (stack.pop() !== match[1]) problems.push(`unexpected ${match[0]} at offset ${match.index}`);
  }
  if (stack.length > 0) problems.push(`unclosed ${stack.join(', ')}`);
  return problems;
}

interface NodeRedI18n {
  init(settings: { lang?: string }): void;
  registerMessageCatalog(namespace: string, dir: string, file: string): Promise<void>;
  availableLanguages(namespace: string): string[] | undefined;
  i: { loadLanguages(lang: string): Promise<unknown> };
  _(key: string, options: Record<string, unknown>): string;
}
interface NodeRedLoader {
  getNodeHelp(node: { template: string; module: string; help: Record<string, string> }, lang: string): string | null;
}
// Node-RED's own catalog and help lookup, as the runtime uses them for an installed node module.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeRedI18n = (require('@node-red/util') as { i18n: NodeRedI18n }).i18n;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeRedLoader = require('@node-red/registry/lib/loader') as NodeRedLoader;

function files(lang: string, ext: string): string[] {
  return fs.readdirSync(path.join(LOCALES, lang)).filter((f) => f.endsWith(ext)).sort();
}

function readJson(lang: string, file: string): Catalog {
  return JSON.parse(fs.readFileSync(path.join(LOCALES, lang, file), 'utf8')) as Catalog;
}

function readText(lang: string, file: string): string {
  return fs.readFileSync(path.join(LOCALES, lang, file), 'utf8');
}

describe('locales: every language carries every en-US key and help page', function () {
  it('the checks themselves catch a missing, empty, extra or mistyped key and a changed placeholder', function () {
    const source: Catalog = { n: { a: 'A __x__', b: 'B', c: { d: 'D {{y}}' }, e: 'E' } };
    const translated: Catalog = { n: { a: 'A __z__', b: ' ', c: { d: 'D' }, f: 'F', e: { g: 'G' } } };
    assert.deepStrictEqual(catalogProblems(source, translated).sort(), [
      'empty key n.b',
      'extra key n.e.g (not in en-US)',
      'extra key n.f (not in en-US)',
      'key n.a: placeholders __z__, en-US has __x__',
      'key n.c.d: placeholders (none), en-US has {{y}}',
      'missing key n.e',
    ]);
    assert.deepStrictEqual(catalogProblems(source, source), []);
    assert.deepStrictEqual(unbalancedTags('<dl><dt>a</dt><dd>b</dl>'), ['unexpected </dl> at offset 19', 'unclosed dl']);
  });

  it('the language folders are named as Node-RED looks them up', function () {
    // @node-red/util's i18n refuses any language name outside [a-zA-Z-] and falls back from "de-DE" to "de".
    for (const lang of [SOURCE, ...TRANSLATIONS]) {
      assert.match(lang, /^[a-z]{2}(-[A-Z]{2})?$/);
      assert.ok(fs.statSync(path.join(LOCALES, lang)).isDirectory(), `locales/${lang} is missing`);
    }
    assert.ok(files(SOURCE, '.json').length > 0 && files(SOURCE, '.html').length > 0, 'en-US has no catalogs or help');
    for (const file of files(SOURCE, '.html')) assert.deepStrictEqual(unbalancedTags(readText(SOURCE, file)), [], file);
  });

  it("Node-RED's runtime finds each language by its folder name, also from a browser's region variant", async function () {
    nodeRedI18n.init({}); // as the runtime does without a `lang` setting; a no-op if it already ran
    for (const file of files(SOURCE, '.json')) {
      const namespace = `locales-test/${file}`;
      await nodeRedI18n.registerMessageCatalog(namespace, LOCALES, file);
      assert.deepStrictEqual([...(nodeRedI18n.availableLanguages(namespace) ?? [])].sort(), [SOURCE, ...TRANSLATIONS].sort());
      const source = leaves(readJson(SOURCE, file));
      for (const lang of TRANSLATIONS) {
        // A key whose text differs from en-US, so that a silent fallback to English cannot pass.
        const [key, text] = [...leaves(readJson(lang, file))].find(([k, v]) => v !== source.get(k) && !String(v).includes('__')) ?? [];
        assert.ok(key, `locales/${lang}/${file} is all English`);
        for (const asked of BROWSER_LANGUAGES[lang]) {
          await nodeRedI18n.i.loadLanguages(asked);
          assert.strictEqual(nodeRedI18n._(`${namespace}:${key}`, { lng: asked }), text, `${file} ${key} for ${asked}`);
        }
      }
    }
    for (const file of files(SOURCE, '.html')) {
      for (const lang of TRANSLATIONS) {
        // The loader looks for locales/<lang>/<file> beside the node's .html; only its directory matters here.
        for (const asked of BROWSER_LANGUAGES[lang]) {
          const node = { template: path.join(LOCALES, '..', file), module: 'locales-test', help: {} };
          assert.strictEqual(nodeRedLoader.getNodeHelp(node, asked), readText(lang, file), `${asked}: ${file}`);
        }
      }
    }
  });

  for (const lang of TRANSLATIONS) {
    describe(lang, function () {
      it('has exactly the catalogs and help pages of en-US', function () {
        assert.deepStrictEqual(files(lang, '.json'), files(SOURCE, '.json'));
        assert.deepStrictEqual(files(lang, '.html'), files(SOURCE, '.html'));
      });

      for (const file of files(SOURCE, '.json')) {
        it(`${file}: every key translated, none extra, same placeholders`, function () {
          assert.ok(fs.existsSync(path.join(LOCALES, lang, file)), `locales/${lang}/${file} is missing`);
          const problems = catalogProblems(readJson(SOURCE, file), readJson(lang, file));
          assert.deepStrictEqual(problems, [], `locales/${lang}/${file}:\n  ${problems.join('\n  ')}`);
        });
      }

      for (const file of files(SOURCE, '.html')) {
        it(`${file}: same help names, page structure and code spans as en-US`, function () {
          assert.ok(fs.existsSync(path.join(LOCALES, lang, file)), `locales/${lang}/${file} is missing`);
          const source = readText(SOURCE, file);
          const translated = readText(lang, file);
          assert.deepStrictEqual(helpNames(translated), helpNames(source), `locales/${lang}/${file}: data-help-name`);
          assert.deepStrictEqual(unbalancedTags(translated), [], `locales/${lang}/${file}: tags`);
          assert.deepStrictEqual(structure(translated), structure(source), `locales/${lang}/${file}: structure`);
          assert.deepStrictEqual(codeSpans(translated), codeSpans(source), `locales/${lang}/${file}: <code> spans`);
        });
      }
    });
  }
});
