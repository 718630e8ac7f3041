/**
 * Which warning a missing ssh2 crypto binding gets: on Node.js 26 and later ssh2 1.17's binding cannot compile
 * (no toolchain helps), anywhere else the install lacked one. The pool warns in English with the values filled
 * in; the nodes translate the code (every catalog has both texts).
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { bindingMissingWarning, bindingWarningEnglish } from '../../src/ssh/crypto-binding';

const LOCALES = path.resolve(__dirname, '..', '..', '..', 'locales');

describe('ssh: the warning for a missing crypto binding', function () {
  it('names ssh2 and the Node version where ssh2 1.17 cannot build its binding (Node 26 and later)', function () {
    assert.deepStrictEqual(bindingMissingWarning('v26.12.1', '1.17.0'), { code: 'cryptoBindingUnsupported', values: { node: '26.12.1', ssh2: '1.17.0' } });
    assert.deepStrictEqual(bindingMissingWarning('v27.0.0', '1.17.3'), { code: 'cryptoBindingUnsupported', values: { node: '27.0.0', ssh2: '1.17.3' } });
  });

  it('points at the build tools on the lines where the binding builds, and with an ssh2 that may build it', function () {
    for (const [node, ssh2] of [
      ['v20.20.2', '1.17.0'],
      ['v22.23.5', '1.17.0'],
      ['v24.22.3', '1.17.0'],
      ['v26.12.1', '1.18.0'],
      ['v26.12.1', ''],
    ]) {
      assert.deepStrictEqual(bindingMissingWarning(node, ssh2), { code: 'cryptoBindingMissing', values: {} }, `${node} with ssh2 '${ssh2}'`);
    }
  });

  it('every catalog translates both warnings and keeps their placeholders', function () {
    for (const language of fs.readdirSync(LOCALES)) {
      const warnings = (JSON.parse(fs.readFileSync(path.join(LOCALES, language, 'scp-connection.json'), 'utf8')) as Record<string, { warnings: Record<string, string> }>)['scp-connection']
        .warnings;
      assert.strictEqual(typeof warnings.cryptoBindingMissing, 'string', `${language}: cryptoBindingMissing`);
      const unsupported = warnings.cryptoBindingUnsupported;
      assert.ok(unsupported.includes('__ssh2__') && unsupported.includes('__node__'), `${language}: cryptoBindingUnsupported names ssh2's and Node's versions`);
    }
  });
  it("the engine's English (logged outside Node-RED) is the en-US catalog's text, values filled in", function () {
    const english = (JSON.parse(fs.readFileSync(path.join(LOCALES, 'en-US', 'scp-connection.json'), 'utf8')) as Record<string, { warnings: Record<string, string> }>)['scp-connection']
      .warnings;
    assert.strictEqual(bindingWarningEnglish({ code: 'cryptoBindingMissing', values: {} }), english.cryptoBindingMissing);
    assert.strictEqual(
      bindingWarningEnglish({ code: 'cryptoBindingUnsupported', values: { node: '26.1.0', ssh2: '1.17.0' } }),
      english.cryptoBindingUnsupported?.replace('__ssh2__', '1.17.0').replace('__node__', '26.1.0'),
    );
  });
});
