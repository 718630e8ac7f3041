/**
 * Pure helpers of the engine, no server: remote path splitting, temporary names, and the glob
 * quoting/matching checked against a real local `sh` (the shell is the specification).
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { globForShell, matchGlob } from '../../src/transfer/plan/glob';
import { joinRemote, splitRemote } from '../../src/transfer/remote-path';
import { localTempName, remoteTempName } from '../../src/transfer/temp-name';

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('transfer units: remote paths and temporary names', function () {
  it('splits and joins remote paths as bytes', function () {
    const cases: [string, string, string][] = [
      ['name', '.', 'name'],
      ['/x', '/', 'x'],
      ['a/b/c', 'a/b', 'c'],
      ['a//b/', 'a', 'b'],
      ['/a/b//', '/a', 'b'],
      ['//x', '/', 'x'],
    ];
    for (const [path, dir, base] of cases) {
      const split = splitRemote(Buffer.from(path));
      assert.deepEqual([split.dir.toString(), split.base.toString()], [dir, base], path);
    }
    assert.equal(joinRemote(Buffer.from('/'), 'x').toString(), '/x');
    assert.equal(joinRemote(Buffer.from('a'), Buffer.from([0xff])).toString('hex'), Buffer.from('a/\xff', 'latin1').toString('hex'));
  });

  it('temporary names stay within 255 bytes, hidden, without control bytes, and differ each time', function () {
    const long = Buffer.alloc(255, 0x61);
    const temp = remoteTempName(long);
    assert.ok(temp.length <= 255);
    assert.match(temp.toString(), /^\.a+\.scp-[0-9a-f]{16}\.part$/);
    const withNewline = remoteTempName(Buffer.from('x\ny\x7f'));
    assert.ok(!withNewline.some((byte) => byte < 0x20 || byte === 0x7f));
    assert.notEqual(remoteTempName(Buffer.from('x')).toString(), remoteTempName(Buffer.from('x')).toString());
    const local = localTempName('é'.repeat(200));
    assert.ok(Buffer.byteLength(local) <= 255);
    assert.ok(!local.includes('\ufffd'), 'cut on a character boundary');
  });
});

describe('transfer units: glob quoting and matching against /bin/sh', function () {
  this.timeout(60_000);
  const CHARS = ["'", '"', '$', '`', ';', '|', '&', '>', '<', '(', ')', '{', '}', ' ', '\\', '!', '#', '~', '=', 'a', 'b', 'c', '.', '-', 'é', '*', '?', '[', ']', '[ab]', '[!a]', '[a-c]', '$(touch x)'];
  let empty: string;

  before(() => {
    empty = mkdtempSync(join(tmpdir(), 'glob-unit-'));
  });
  after(() => rmSync(empty, { recursive: true, force: true }));

  it('a quoted pattern that matches nothing reaches sh literally and runs nothing (1000 patterns)', function () {
    const next = random(7);
    const patterns: string[] = [];
    for (let i = 0; i < 1000; i += 1) {
      // Never a leading ".": ".*" would match the directory's own "." and "..".
      let pattern = 'z';
      const length = 1 + Math.floor(next() * 6);
      for (let j = 0; j < length; j += 1) pattern += CHARS[Math.floor(next() * CHARS.length)];
      patterns.push(pattern);
    }
    // In an empty directory no pattern matches, so sh prints each one as written (after quote removal).
    const script = patterns.map((pattern) => `printf '%s\\0' ${globForShell(pattern, 'test').toString()}`).join('\n');
    const out = execFileSync('/bin/sh', ['-c', script], { cwd: empty });
    const printed = out.toString().split('\0').slice(0, -1);
    assert.deepEqual(printed, patterns);
    assert.deepEqual(execFileSync('ls', ['-A', empty]).toString(), '', 'nothing was created');
  });

  it('matchGlob agrees with sh `case` on generated names and patterns', function () {
    const next = random(11);
    // ASCII only: `?` matches one byte in dash but one character in bash, so non-ASCII depends on the
    // server's shell. Names never start with "." (case has no leading-dot rule; tested below).
    const alphabet = ['a', 'b', 'c', '.', '-', '*', '?', '[ab]', '[!a]', '[a-c]'];
    const nameChars = ['a', 'b', 'c', '.', '-', 'x'];
    const rows: { pattern: string; name: string }[] = [];
    for (let i = 0; i < 600; i += 1) {
      let pattern = '';
      for (let j = 0, n = 1 + Math.floor(next() * 4); j < n; j += 1) pattern += alphabet[Math.floor(next() * alphabet.length)];
      let name = 'x';
      for (let j = 0, n = Math.floor(next() * 5); j < n; j += 1) name += nameChars[Math.floor(next() * nameChars.length)];
      rows.push({ pattern, name });
    }
    const script = rows
      .map(({ pattern, name }) => `case '${name}' in ${globForShell(pattern, 'test').toString()}) printf 1;; *) printf 0;; esac`)
      .join('\n');
    const shell = execFileSync('/bin/sh', ['-c', script]).toString();
    const mismatches = rows.filter(({ pattern, name }, i) => (matchGlob(pattern, name) ? '1' : '0') !== shell[i]);
    assert.deepEqual(mismatches, []);
    assert.ok(shell.includes('1') && shell.includes('0'), 'the generated cases both match and miss');
  });

  it('a leading dot is only matched literally, as pathname expansion does', function () {
    assert.equal(matchGlob('*.log', '.hidden.log'), false);
    assert.equal(matchGlob('.*.log', '.hidden.log'), true);
    assert.equal(matchGlob('?x', '.x'), false);
  });
});
