/**
 * The glob engine (src/glob.ts) on its own: the dialect's rules one by one, the patterns it refuses, and
 * the canonical shell word. test/glob/shell-agreement.test.ts checks the matcher against real shells.
 */
import assert from 'assert';
import { Glob, matchGlob } from '../../src/glob';
import { TransferError } from '../../src/errors';

describe('glob engine: matching', () => {
  const cases: [string, string | Buffer, boolean][] = [
    ['*.log', 'a.log', true],
    ['*.log', 'a.log.1', false],
    ['*.log', '.log', false],
    ['*', '.hidden', false],
    ['.*', '.hidden', true],
    ['.*', '.', false],
    ['.*', '..', false],
    ['.?', '..', false],
    ['*', '..', false],
    ['?', '.', false],
    ['[.]x', '.x', false],
    ['\\.x', '.x', true],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    // byte-wise: é is two bytes in UTF-8
    ['a?c', 'aéc', false],
    ['a??c', 'aéc', true],
    ['a*c', 'aéc', true],
    ['a?', Buffer.from([0x61, 0xff]), true],
    ['[!a]', Buffer.from([0xff]), true],
    ['[abc]x', 'bx', true],
    ['[abc]x', 'dx', false],
    ['[!abc]x', 'dx', true],
    ['[^abc]x', 'ax', false],
    ['[^abc]x', '^x', true],
    ['[a-c]1', 'b1', true],
    ['[a-c]1', 'd1', false],
    ['[]]', ']', true],
    ['[]a]', 'a', true],
    ['[!]]', ']', false],
    ['[!]]', 'x', true],
    ['[a-]', '-', true],
    ['[-a]', '-', true],
    ['[ _]', ' ', true],
    ['log[ _]1', 'log 1', true],
    ['log[ _]1', 'log_1', true],
    ['log[ _]1', 'log-1', false],
    ['[\\]]', ']', true],
    ['[\\\\]', '\\', true],
    ['[\\!]', '!', true],
    ['[[:digit:]]x', '7x', true],
    ['[[:digit:]]x', 'ax', false],
    ['[![:alpha:]]', '1', true],
    ['[[:punct:]]', '[', true],
    ['[[:upper:][:digit:]]', 'Q', true],
    ['[[]', '[', true],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['a\\b', 'ab', true],
    ['a\\b', 'a\\b', false],
    ['a\\\\b', 'a\\b', true],
    ['ab\\', 'ab\\', true],
    ['[unterminated', '[unterminated', true],
    ['[!]', '[!]', true],
    ['[a\\]', '[a]', true],
    ['*a*b*c*', 'xxaxxbxxcxx', true],
    ['*a*b*c*', 'xxaxxcxxbxx', false],
    ['log-*-[0-9][0-9].txt', 'log-app-42.txt', true],
    ['log-*-[0-9][0-9].txt', 'log-app-4x.txt', false],
    ['exact', 'exact', true],
    ['exact', 'exactly', false],
    ['Café*', 'Café.txt', true],
    ['x', '', false],
  ];
  for (const [pattern, name, expected] of cases) {
    it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${typeof name === 'string' ? JSON.stringify(name) : name.toString('hex')}`, () => {
      assert.strictEqual(matchGlob(pattern, name), expected);
    });
  }

  it('stays fast on many stars against a long non-matching name', () => {
    const pattern = `${'*a'.repeat(30)}b`;
    const name = 'a'.repeat(5000);
    assert.strictEqual(matchGlob(pattern, name), false);
  });

  it('tells patterns from plain names', () => {
    assert.strictEqual(Glob.parse('*.log').isPattern, true);
    assert.strictEqual(Glob.parse('a[bc]').isPattern, true);
    assert.strictEqual(Glob.parse('plain.txt').isPattern, false);
    assert.strictEqual(Glob.parse('escaped\\*').isPattern, false);
    assert.strictEqual(Glob.parse('[unterminated').isPattern, false);
  });
});

describe('glob engine: refused patterns (EINVAL naming the problem)', () => {
  const refused: [string, RegExp][] = [
    ['', /is empty/],
    ['a/b*', /one path component/],
    ['a\0b', /one path component/],
    ['[é]', /non-ASCII character é inside brackets/],
    ['[a-é]', /non-ASCII/],
    ['[[:letter:]]', /unknown character class \[:letter:\]/],
    ['[z-a]', /reversed range z-a/],
  ];
  for (const [pattern, message] of refused) {
    it(`refuses ${JSON.stringify(pattern)}`, () => {
      assert.throws(
        () => Glob.parse(pattern, 'host.example'),
        (error: unknown) => error instanceof TransferError && error.code === 'EINVAL' && message.test(error.message) && error.host === 'host.example',
      );
    });
  }
});

describe('glob engine: the shell word', () => {
  const words: [string, string][] = [
    ['*.log', "*'.log'"],
    ["it's ?", "'it'\\''s '?"],
    ['log[ _]1', "'log'[\\ \\_]'1'"],
    ['[^a]', '[!a]'],
    ['[]a-]', '[]a-]'],
    ['[!]!^]', '[!]\\!\\^]'],
    ['[a-zA-Z0-9]', '[0-9A-Za-z]'],
    ['[ab]', '[ab]'],
    ['[abc]', '[a-c]'],
    ['[[:xdigit:]]', '[0-9A-Fa-f]'],
    ['[$(x)]', '[\\$\\(\\)x]'],
    ['\\*\\?\\[', "'*?['"],
    ['$(touch x);`y`', "'$(touch x);`y`'"],
  ];
  for (const [pattern, word] of words) {
    it(`${JSON.stringify(pattern)} becomes ${word}`, () => {
      assert.strictEqual(Glob.parse(pattern).shellWord().toString('latin1'), word);
    });
  }

  it('never puts NUL or "/" into a bracket, and quotes a newline', () => {
    const word = Glob.parse('[[:cntrl:][:punct:]]').shellWord().toString('latin1');
    assert.ok(!word.includes('\0') && !word.includes('/'), JSON.stringify(word));
    assert.ok(word.includes("'\n'"), JSON.stringify(word));
  });
});
