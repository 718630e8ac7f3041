/**
 * Bad input through the nodes, read as the user reads it (the real en-US catalog): the exact code, the
 * words that say what is wrong and what was given, no catalog key, no phrase said twice, nothing sent.
 */
import assert from 'assert';
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { makeTempDir, runAsUser } from '../harness';
import { assertReadable, repeatedPhrases, translatedNodes } from './catalog';
import { connectionDef, downloadDef, errorCode, helper, resultOf, send, sinks, uploadDef, useNodeRed, type Outcome } from './support';
import { useServerDir, useSharedSshd } from '../support';

function messageOf(outcome: Outcome): string {
  return String((outcome.error?.error as { message?: unknown } | undefined)?.message ?? '');
}

describe('nodes: input errors a user can act on (real sshd, en-US messages)', function () {
  useNodeRed();
  const server = useSharedSshd();
  const dir = useServerDir(server, 'nodes-errors-input');

  async function load(nodes: Record<string, unknown>[]): Promise<void> {
    await helper.load(translatedNodes, [connectionDef(server), ...nodes, ...sinks()], { conn: { password: server.password, privateKey: server.clientKey } });
  }

  async function expectError(id: string, msg: Record<string, unknown>, code: string, words: (string | RegExp)[]): Promise<string> {
    const outcome = await send(id, msg);
    assert.strictEqual(errorCode(outcome), code, messageOf(outcome));
    assert.strictEqual(outcome.results.length, 0);
    const message = messageOf(outcome);
    assertReadable(message, words);
    return message;
  }

  describe('a remote path that is not a string says what it is', function () {
    const values: [string, unknown, string][] = [
      ['a number', 42, 'a number'],
      ['an object', { path: '/x' }, 'an object'],
      ['an array', ['/x'], 'an array'],
      ['a boolean', true, 'a boolean'],
    ];
    for (const [name, value, words] of values) {
      it(`${name}: EINVAL "must be a string, not ${words}" on both nodes`, async function () {
        await load([uploadDef(), downloadDef()]);
        for (const id of ['up', 'down']) {
          const message = await expectError(id, { payload: 'x', remotePath: value }, 'EINVAL', ['remote path must be a string', `not ${words}`]);
          assert.ok(!/is empty/.test(message), `${id}: ${message}`);
        }
      });
    }

    it('an absent or empty remote path still says it is empty', async function () {
      await load([uploadDef(), downloadDef()]);
      await expectError('up', { payload: 'x' }, 'EINVAL', ['The remote path is empty']);
      await expectError('down', { remotePath: '' }, 'EINVAL', ['The remote path is empty']);
    });
  });

  it('an unknown TypedInput type is EINVAL naming the type, and nothing is written under the literal text', async function () {
    const literal = `${dir.absolute}/literal-type.txt`;
    await load([uploadDef({ remotePath: literal, remotePathType: 'bogus' }), downloadDef({ remotePath: literal, remotePathType: 'bogus' })]);
    await expectError('up', { payload: 'x' }, 'EINVAL', ['Unknown property type "bogus"']);
    await expectError('down', {}, 'EINVAL', ['Unknown property type "bogus"']);
    const check = await runAsUser(server, `test -e '${literal}' && echo present || echo absent`);
    assert.strictEqual(check.stdout.toString().trim(), 'absent');
  });

  it('a property that fails to evaluate says so once, with the expression and the reason', async function () {
    await load([uploadDef({ remotePath: '$substring(', remotePathType: 'jsonata' })]);
    const message = await expectError('up', { payload: 'x' }, 'EINVAL', ['A property could not be evaluated', 'jsonata $substring(']);
    assert.strictEqual(message.match(/could not be evaluated/g)?.length, 1, message);
  });

  it('a bad size limit names the limit and the value, never the key badMaxSize', async function () {
    await load([downloadDef({ maxSize: 'lots' }), downloadDef({ id: 'down2', maxFiles: '-3' })]);
    await expectError('down', { remotePath: `${dir.absolute}/x` }, 'EINVAL', ['The size limit must be a positive number of MiB: lots']);
    await expectError('down2', { remotePath: `${dir.absolute}/x` }, 'EINVAL', ['The file limit must be a positive number: -3']);
  });

  it('a bad mode says it once, with the value', async function () {
    await load([uploadDef({ mode: '9x' })]);
    const message = await expectError('up', { payload: 'x', remotePath: `${dir.absolute}/m.txt` }, 'EINVAL', ['The mode must be octal, like 0644: 9x']);
    assert.strictEqual(message.match(/octal/g)?.length, 1, message);
  });

  it('a local path that is not a string (or a list holding one) says what it got', async function () {
    await load([uploadDef(), downloadDef({ target: 'file' })]);
    await expectError('up', { remotePath: `${dir.absolute}/l.txt`, localPath: 7 }, 'EINVAL', ['local path must be', 'not a number']);
    await expectError('up', { remotePath: `${dir.absolute}/l.txt`, localPath: ['/etc/hostname', 7] }, 'EINVAL', ['not an array holding a number']);
    await expectError('up', { remotePath: `${dir.absolute}/l.txt`, localPath: ['/etc/hostname', ''] }, 'EINVAL', ['not an array holding an empty string']);
    await expectError('down', { remotePath: `${dir.absolute}/l.txt`, localPath: { file: 'x' } }, 'EINVAL', ['The local path must be a string, not an object']);
  });

  describe('a local download target that is not a regular file says what it is', function () {
    let remoteFile: string;
    before(async function () {
      remoteFile = `${dir.absolute}/source.txt`;
      await runAsUser(server, `printf 'content' > '${remoteFile}'`);
    });

    for (const overwrite of ['overwrite', 'fail', 'skip']) {
      it(`a symbolic link (overwrite ${overwrite}): EINVAL "is a symbolic link", its target untouched`, async function () {
        const local = await makeTempDir('errors-input-link');
        const precious = path.join(local, 'precious');
        fs.writeFileSync(precious, 'precious');
        const link = path.join(local, 'link');
        fs.symlinkSync(precious, link);
        await load([downloadDef({ target: 'file', overwrite })]);
        const message = await expectError('down', { remotePath: remoteFile, localPath: link }, 'EINVAL', [
          `Refused to write to ${link}`,
          'is a symbolic link',
        ]);
        assert.ok(!/already exists/i.test(message), message);
        assert.strictEqual(fs.readFileSync(precious, 'utf8'), 'precious');
        assert.ok(fs.lstatSync(link).isSymbolicLink());
      });
    }

    it('a FIFO: EINVAL "is a FIFO", not opened', async function () {
      const local = await makeTempDir('errors-input-fifo');
      const fifo = path.join(local, 'fifo');
      execFileSync('mkfifo', [fifo]);
      await load([downloadDef({ target: 'file', overwrite: 'fail' })]);
      const message = await expectError('down', { remotePath: remoteFile, localPath: fifo }, 'EINVAL', [`Refused to write to ${fifo}`, 'is a FIFO']);
      assert.ok(!/already exists/i.test(message), message);
      assert.ok(fs.lstatSync(fifo).isFIFO());
    });

    it('a regular file with overwrite "fail" is still EEXIST (the message says so)', async function () {
      const local = await makeTempDir('errors-input-exists');
      const file = path.join(local, 'file');
      fs.writeFileSync(file, 'old');
      await load([downloadDef({ target: 'file', overwrite: 'fail' })]);
      await expectError('down', { remotePath: remoteFile, localPath: file }, 'EEXIST', ['Already exists and overwrite is "fail"']);
      assert.strictEqual(fs.readFileSync(file, 'utf8'), 'old');
      await helper.unload();
      await load([downloadDef({ target: 'file', overwrite: 'overwrite' })]);
      resultOf(await send('down', { remotePath: remoteFile, localPath: file }));
      assert.strictEqual(fs.readFileSync(file, 'utf8'), 'content');
    });
  });

  it('repeatedPhrases finds the old doubled message (the check can fail)', function () {
    assert.deepStrictEqual(repeatedPhrases('A property could not be evaluated: a property could not be evaluated: bad'), [
      'a property could not',
      'property could not be',
      'could not be evaluated',
    ]);
  });
});
