import assert from 'assert';
import { hasGlobCharacters, matchGlob } from '../../src/scp';

describe('scp glob matching', () => {
  const cases: [string, string, boolean][] = [
    ['*.log', 'a.log', true],
    ['*.log', 'a.log.1', false],
    ['*.log', '.log', false],
    ['*', '.hidden', false],
    ['.*', '.hidden', true],
    ['?', '.', false],
    ['[.]x', '.x', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['a?c', 'aéc', true],
    ['[abc]x', 'bx', true],
    ['[abc]x', 'dx', false],
    ['[!abc]x', 'dx', true],
    ['[^abc]x', 'ax', false],
    ['[a-c]1', 'b1', true],
    ['[a-c]1', 'd1', false],
    ['[]]', ']', true],
    ['[a-]', '-', true],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['[unterminated', '[unterminated', true],
    ['*a*b*c*', 'xxaxxbxxcxx', true],
    ['*a*b*c*', 'xxaxxcxxbxx', false],
    ['log-*-[0-9][0-9].txt', 'log-app-42.txt', true],
    ['log-*-[0-9][0-9].txt', 'log-app-4x.txt', false],
    ['exact', 'exact', true],
    ['exact', 'exactly', false],
    ['', '', true],
  ];
  for (const [pattern, name, expected] of cases) {
    it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(name)}`, () => {
      assert.strictEqual(matchGlob(pattern, name), expected);
    });
  }

  it('stays fast on many stars against a long non-matching name', () => {
    const pattern = `${'*a'.repeat(30)}b`;
    const name = 'a'.repeat(5000);
    assert.strictEqual(matchGlob(pattern, name), false);
  });

  it('tells glob patterns from plain names', () => {
    assert.strictEqual(hasGlobCharacters('*.log'), true);
    assert.strictEqual(hasGlobCharacters('a[bc]'), true);
    assert.strictEqual(hasGlobCharacters('plain.txt'), false);
    assert.strictEqual(hasGlobCharacters('escaped\\*'), false);
  });
});
