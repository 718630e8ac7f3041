/**
 * The link options through the nodes: the dialog's bandwidth limit, verify and resume, and their per-message
 * override in msg.scp (only those keys are read; a result left in msg.scp by an earlier node changes nothing).
 */
import assert from 'assert';
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { linkOptionsFrom } from '../../src/nodes/link-options';
import { makeServerDir, makeTempDir, runAsUser, sharedSshd, type SshdServer } from '../harness';
import { connectionDef, downloadDef, errorCode, loadFlow, resultOf, send, uploadDef, useNodeRed } from './support';

describe('nodes: bandwidth limit, verify and resume options', function () {
  useNodeRed();
  let server: SshdServer;

  before(async function () {
    server = await sharedSshd();
  });

  it('reads the dialog, then msg.scp.limitKiBps / verify / resume / resumeMaxAgeHours over it', () => {
    assert.strictEqual(linkOptionsFrom({}, {}), undefined);
    assert.strictEqual(linkOptionsFrom({ limitKiBps: '' }, { scp: { transport: 'scp', files: [] } }), undefined);
    assert.deepStrictEqual(linkOptionsFrom({ limitKiBps: '512', verify: true }, {}), { limitKiBps: 512, verify: true });
    assert.deepStrictEqual(linkOptionsFrom({ limitKiBps: '512', verify: true }, { scp: { limitKiBps: 0, verify: false, resume: true, resumeMaxAgeHours: 2 } }), {
      resume: { maxAgeMs: 2 * 3600 * 1000 },
    });
    assert.deepStrictEqual(linkOptionsFrom({ resume: true }, {}), { resume: { maxAgeMs: 24 * 3600 * 1000 } });
    for (const bad of [-1, 'fast', {}]) {
      assert.throws(() => linkOptionsFrom({}, { scp: { limitKiBps: bad } }), (error: { code?: string; messageKey?: string }) => error.code === 'EINVAL' && error.messageKey === 'badLimit');
    }
  });

  it('msg.scp.verify puts the sha256 into msg.scp.files; a bad msg.scp.limitKiBps is EINVAL', async function () {
    const remote = await makeServerDir(server, 'nodes-link');
    const local = await makeTempDir('nodes-link');
    await loadFlow([connectionDef(server), uploadDef(), downloadDef({ target: 'file' })], { conn: { password: server.password } });
    const content = crypto.randomBytes(200_000);
    const sha = crypto.createHash('sha256').update(content).digest('hex');
    const up = resultOf(await send('up', { payload: content, remotePath: `${remote.absolute}/f.bin`, scp: { verify: true, limitKiBps: 4096 } }));
    assert.strictEqual((up.scp as { files: Array<{ sha256?: string }> }).files[0]?.sha256, sha);
    assert.strictEqual((await runAsUser(server, `sha256sum '${remote.absolute}/f.bin'`)).stdout.toString().slice(0, 64), sha);
    const target = path.join(local, 'f.bin');
    const down = resultOf(await send('down', { remotePath: `${remote.absolute}/f.bin`, localPath: target, scp: { verify: true, resume: true } }));
    const scp = down.scp as { resumedFrom?: number; files: Array<{ sha256?: string }> };
    assert.deepStrictEqual([scp.files[0]?.sha256, scp.resumedFrom], [sha, 0]);
    assert.ok(fs.readFileSync(target).equals(content));
    const refused = await send('up', { payload: 'x', remotePath: `${remote.absolute}/g.bin`, scp: { limitKiBps: 'fast' } });
    assert.strictEqual(errorCode(refused), 'EINVAL');
  });
});
