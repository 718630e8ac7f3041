/**
 * Pure helpers of the engine, no server: remote path splitting and temporary names (the glob engine
 * and its agreement with real shells: test/glob/).
 */
import * as assert from 'node:assert/strict';
import { joinRemote, splitRemote } from '../../src/transfer/remote-path';
import { localTempName, remoteTempName } from '../../src/transfer/leftovers/temp-name';

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
