/**
 * The leftover journal on its own (no server): names survive a restart (a new instance on the same
 * file), names in use by a running job are never handed to a sweep, the file is written atomically and
 * removed when empty, and a corrupt or foreign file can never make a sweep remove anything but our own
 * temporary names.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { FileLeftoverJournal, JOURNAL_HEADER, MAX_LEFTOVERS } from '../../src/transfer/leftovers/journal-file';
import { isValidLeftover, type Leftover } from '../../src/transfer/leftovers/journal';
import { remoteTempName, stagingName } from '../../src/transfer/leftovers/temp-name';
import { makeTempDir } from '../harness';

function tempFile(dir: string, name: string): Leftover {
  return { path: Buffer.concat([Buffer.from(`${dir}/`), remoteTempName(Buffer.from(name))]), kind: 'file' };
}

function staging(dir: string): Leftover {
  return { path: Buffer.concat([Buffer.from(`${dir}/`), stagingName()]), kind: 'staging' };
}

const shown = (items: Leftover[]): string[] => items.map((item) => `${item.kind}:${item.path.toString('latin1')}`).sort();

describe('leftover journal', function () {
  let dir: string;
  let file: string;
  let logged: string[];
  const open = (): FileLeftoverJournal => new FileLeftoverJournal(file, (text) => logged.push(text));

  beforeEach(async function () {
    dir = await makeTempDir('leftover-journal');
    file = path.join(dir, 'scp-leftovers', 'server.json');
    logged = [];
  });

  it('keeps recorded names across a restart, hands them out once, and removes the file when empty', async function () {
    const items = [tempFile('/srv/up', 'report.csv'), staging('/srv/up'), tempFile('uploads', 'näme \u0001.bin')];
    const first = open();
    await first.record(items);
    assert.deepStrictEqual(await first.takeOrphans(), [], 'names of a running job are not orphans');
    // Node-RED restarts: the running job is gone, its names are not.
    const second = open();
    const orphans = await second.takeOrphans();
    assert.deepStrictEqual(shown(orphans), shown(items));
    assert.deepStrictEqual(await second.takeOrphans(), [], 'a sweep in progress holds them');
    second.release(orphans.slice(1));
    assert.deepStrictEqual(shown(await second.takeOrphans()), shown(orphans.slice(1)), 'released names are orphans again');
    await second.forget(orphans);
    assert.ok(!fs.existsSync(file), 'an empty journal leaves no file');
    assert.deepStrictEqual(fs.readdirSync(path.dirname(file)), [], 'no temporary file of the atomic write remains');
    assert.deepStrictEqual(await open().takeOrphans(), []);
    assert.deepStrictEqual(logged, []);
  });

  it('ignores a corrupt file (logged) and writes a good one on the next change', async function () {
    for (const content of ['{not json', '[]', '{"entries": 5}', 'null']) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
      logged = [];
      const journal = open();
      assert.deepStrictEqual(await journal.takeOrphans(), [], content);
      assert.strictEqual(logged.length, 1, `logged once for ${content}: ${logged.join(' | ')}`);
      const item = tempFile('/srv', 'x');
      await journal.record([item]);
      assert.deepStrictEqual(shown(await open().takeOrphans()), shown([item]));
      fs.rmSync(file);
    }
  });

  it('refuses every name that is not exactly one of our temporary names, on load and on record', async function () {
    const good = tempFile('/srv', 'kept.txt');
    const hex = '0123456789abcdef';
    const foreign: { path: string; kind: string }[] = [
      { path: '/etc/passwd', kind: 'file' },
      { path: '/home/user/data', kind: 'staging' },
      { path: '/', kind: 'staging' },
      { path: '.', kind: 'staging' },
      { path: '..', kind: 'file' },
      { path: '', kind: 'file' },
      { path: `/srv/.scp-${hex}.part/`, kind: 'staging' },
      { path: `/srv/.scp-${hex}.part/..`, kind: 'staging' },
      { path: `/srv/.scp-${hex}.part`, kind: 'file' },
      { path: `/srv/.x.scp-${hex}.part`, kind: 'staging' },
      { path: `/srv/.x.scp-${hex}.part`, kind: 'directory' },
      { path: `/srv/.x.scp-${hex.toUpperCase()}.part`, kind: 'file' },
      { path: `/srv/.x.scp-${hex}0.part`, kind: 'file' },
      { path: `/srv/x.scp-${hex}.part`, kind: 'file' },
      { path: `/srv/.x.scp-${hex}.part.old`, kind: 'file' },
      { path: `/srv/.x.scp-${hex}.part\u0000/etc`, kind: 'file' },
      { path: `/srv/.${'n'.repeat(300)}.scp-${hex}.part`, kind: 'file' },
      { path: `/srv/${'d/'.repeat(2100)}.x.scp-${hex}.part`, kind: 'file' },
    ];
    const stored = [
      ...foreign.map((entry) => ({ path: Buffer.from(entry.path, 'latin1').toString('base64'), kind: entry.kind })),
      { path: 42, kind: 'file' },
      { path: '@@not base64@@', kind: 'file' },
      null,
      { path: good.path.toString('base64'), kind: good.kind },
    ];
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ version: 1, entries: stored }));
    const journal = open();
    assert.deepStrictEqual(shown(await journal.takeOrphans()), shown([good]), 'only our own name is left');
    assert.ok(logged.some((text) => text.includes(`${stored.length - 1} entries`)), logged.join(' | '));

    const refused = foreign.map((entry) => ({ path: Buffer.from(entry.path, 'latin1'), kind: entry.kind as Leftover['kind'] }));
    for (const item of refused) assert.ok(!isValidLeftover(item), item.path.toString('latin1'));
    await journal.record(refused);
    journal.release(refused);
    journal.release([good]);
    assert.deepStrictEqual(shown(await open().takeOrphans()), shown([good]), 'foreign names are never recorded');
  });

  it('stays bounded: the oldest names no job uses make room', async function () {
    const journal = open();
    const old = Array.from({ length: MAX_LEFTOVERS }, (_, i) => tempFile('/srv', `old-${i}`));
    await journal.record(old);
    journal.release(old);
    const fresh = Array.from({ length: 10 }, (_, i) => tempFile('/srv', `new-${i}`));
    await journal.record(fresh);
    const kept = await open().takeOrphans();
    assert.strictEqual(kept.length, MAX_LEFTOVERS);
    assert.deepStrictEqual(shown(kept.slice(-10)), shown(fresh), 'the new names are kept');
    assert.ok(!shown(kept).includes(shown(old.slice(0, 1))[0]), 'the oldest name made room');
  });

  it('records concurrent jobs in one consistent file', async function () {
    const journal = open();
    const jobs = Array.from({ length: 20 }, (_, i) => [tempFile('/srv', `job-${i}`), staging(`/srv/job-${i}`)]);
    await Promise.all(jobs.map((items) => journal.record(items)));
    await Promise.all(jobs.filter((_, i) => i % 2 === 0).map((items) => journal.forget(items)));
    const left = jobs.filter((_, i) => i % 2 === 1).flat();
    assert.deepStrictEqual(shown(await open().takeOrphans()), shown(left));
  });

  it('never appends to a line torn by a crash: the first change rewrites the file, losing nothing recorded', async function () {
    const kept = tempFile('/srv', 'kept.bin');
    const torn = lineFor('+', tempFile('/srv', 'torn.bin')).slice(0, 30);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JOURNAL_HEADER}\n${lineFor('+', kept)}${torn}`);
    const journal = open();
    assert.deepStrictEqual(shown(await journal.takeOrphans()), shown([kept]));
    assert.ok(logged.some((text) => text.includes('1 entries')), logged.join(' | '));
    const fresh = tempFile('/srv', 'fresh.bin');
    await journal.record([fresh]);
    logged = [];
    assert.deepStrictEqual(shown(await open().takeOrphans()), shown([kept, fresh]));
    assert.deepStrictEqual(logged, [], 'the rewritten file holds no torn line');
  });

  it('stays small while names come and go: the log is compacted, and replays to what is recorded', async function () {
    const journal = open();
    const held = [tempFile('/srv', 'held-1'), staging('/srv/held-2')];
    await journal.record(held);
    let longest = 0;
    for (let i = 0; i < 500; i += 1) {
      const item = tempFile('/srv', `passing-${i}`);
      await journal.record([item]);
      longest = Math.max(longest, lineCount());
      await journal.forget([item]);
      longest = Math.max(longest, lineCount());
    }
    assert.ok(longest <= 2 * held.length + 66, `the log grew to ${longest} lines for ${held.length} names`);
    assert.deepStrictEqual(shown(await open().takeOrphans()), shown(held));
    assert.deepStrictEqual(fs.readdirSync(path.dirname(file)), [path.basename(file)], 'no temporary file of a rewrite remains');
    assert.deepStrictEqual(logged, []);
  });

  it('after a failed write, the next change rewrites the whole file (logged, nothing lost)', async function () {
    const journal = open();
    const first = tempFile('/srv', 'first');
    await journal.record([first]);
    // The file cannot be appended to: a directory stands in its place.
    fs.rmSync(file);
    fs.mkdirSync(file);
    const second = tempFile('/srv', 'second');
    await journal.record([second]);
    assert.ok(logged.some((text) => text.includes('not written')), logged.join(' | '));
    fs.rmdirSync(file);
    const third = tempFile('/srv', 'third');
    await journal.record([third]);
    logged = [];
    assert.deepStrictEqual(shown(await open().takeOrphans()), shown([first, second, third]));
    assert.deepStrictEqual(logged, []);
  });

  function lineFor(sign: '+' | '-', item: Leftover): string {
    return `${sign}${item.kind} ${item.path.toString('base64')}\n`;
  }

  function lineCount(): number {
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
  }
});
