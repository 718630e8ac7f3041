/**
 * The scp remote node (dist/) against the real sshd: list with its options into msg.payload, stat with
 * msg.exists (and absence as ENOENT when asked), a change of several paths with per-path outcomes, a
 * partial failure reaching the Catch node with every outcome in msg.payload, msg.operation only when the
 * dialog says so, bad input as EINVAL with its catalog text, and the device named in msg.scp.
 */
import assert from 'assert';
import { makeServerDir, runAsUser, sharedSshd, type SshdServer } from '../harness';
import { translatedNodes } from './catalog';
import { connectionDef, helper, send, sinks, useNodeRed, type Msg } from './support';

function remoteDef(props: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'rem', type: 'scp remote', z: 'tab', connection: 'conn', operation: 'list', remotePath: 'remotePath', remotePathType: 'msg', wires: [['out']], ...props };
}

describe('nodes: scp remote (real sshd)', function () {
  this.timeout(30_000);
  useNodeRed();
  let server: SshdServer;
  let dir: { relative: string; absolute: string };

  before(async () => {
    server = await sharedSshd();
    dir = await makeServerDir(server, 'nodes-remote');
    const made = await runAsUser(
      server,
      `cd '${dir.relative}' && mkdir -p logs/old && printf 1 > logs/a.csv && printf 22 > logs/b.csv && printf 333 > logs/c.txt && printf 4 > logs/old/d.csv && touch -d @1600000000 logs/a.csv logs/b.csv logs/old/d.csv`,
    );
    assert.strictEqual(made.code, 0, made.stderr);
  });

  async function load(props: Record<string, unknown>, transport = 'auto', connection: Record<string, unknown> = {}): Promise<void> {
    await helper.unload();
    // translatedNodes hold all four nodes, with the real en-US catalogs (a test reads what a user reads).
    await helper.load(translatedNodes, [connectionDef(server, { transport, ...connection }), remoteDef(props), ...sinks()], { conn: { password: server.password } });
  }

  for (const transport of ['sftp', 'scp']) {
    it(`lists with pattern, type, minimum age, sort and limit into msg.payload (transport ${transport})`, async () => {
      await load({ pattern: '*.csv', types: 'file', minAge: '60', sortBy: 'size', sortOrder: 'desc', recursive: true, maxDepth: '2', limit: '2' }, transport);
      const outcome = await send('rem', { remotePath: `${dir.absolute}/logs` });
      assert.ok(!outcome.error, JSON.stringify(outcome.error));
      const msg = outcome.results[0] as Msg;
      const entries = msg.payload as { name: string; path: string; type: string; size: number; mode: number; mtime: number }[];
      assert.deepStrictEqual(entries.map((entry) => entry.name), ['b.csv', 'a.csv']);
      assert.deepStrictEqual(entries[0], { name: 'b.csv', path: `${dir.absolute}/logs/b.csv`, type: 'file', size: 2, mode: 0o644, mtime: 1600000000 });
      const scp = msg.scp as Record<string, unknown>;
      assert.strictEqual(scp.transport, transport);
      assert.strictEqual(scp.listed, 5);
      assert.strictEqual(scp.host, server.host);
    });
  }

  it('stat: the entry and msg.exists; a missing path is payload null and msg.exists false, or ENOENT when asked', async () => {
    await load({ operation: 'stat' });
    const found = (await send('rem', { remotePath: `${dir.absolute}/logs/c.txt` })).results[0] as Msg;
    assert.strictEqual(found.exists, true);
    assert.strictEqual((found.payload as { size: number }).size, 3);
    const missing = (await send('rem', { remotePath: `${dir.absolute}/logs/none` })).results[0] as Msg;
    assert.strictEqual(missing.payload, null);
    assert.strictEqual(missing.exists, false);
    await load({ operation: 'stat', absentIsError: true });
    const failed = await send('rem', { remotePath: `${dir.absolute}/logs/none` });
    assert.strictEqual((failed.error?.error as { code: string }).code, 'ENOENT');
  });

  it('mkdir then rename several paths into a directory ending in "/", outcomes per path', async () => {
    await load({ operation: 'mkdir' });
    const made = (await send('rem', { remotePath: [`${dir.absolute}/w/x`, `${dir.absolute}/w/y`] })).results[0] as Msg;
    assert.deepStrictEqual(made.payload, [
      { path: `${dir.absolute}/w/x`, done: 'created' },
      { path: `${dir.absolute}/w/y`, done: 'created' },
    ]);
    await load({ operation: 'rename', newPath: `${dir.absolute}/w/x/`, newPathType: 'str' });
    const moved = (await send('rem', { remotePath: [`${dir.absolute}/w/y`] })).results[0] as Msg;
    assert.deepStrictEqual(moved.payload, [{ path: `${dir.absolute}/w/y`, to: `${dir.absolute}/w/x/y`, done: 'renamed' }]);
  });

  it('a partial failure reaches the Catch node with the first code and every outcome in msg.payload', async () => {
    await runAsUser(server, `cd '${dir.relative}' && : > p1 && mkdir -p pdir`);
    await load({ operation: 'delete' });
    const outcome = await send('rem', { remotePath: [`${dir.absolute}/p1`, `${dir.absolute}/pdir`, `${dir.absolute}/pnone`] });
    const error = outcome.error?.error as { code: string; message: string };
    assert.strictEqual(error.code, 'EISDIR');
    assert.match(error.message, /2 of 3 paths failed/);
    assert.deepStrictEqual(
      (outcome.error?.payload as { done?: string; error?: { code: string } }[]).map((o) => o.done ?? o.error?.code),
      ['deleted', 'EISDIR', 'ENOENT'],
    );
  });

  it('msg.operation is used only when the dialog says so, and a bad one is EINVAL', async () => {
    await load({ operation: 'stat' });
    const fixed = (await send('rem', { remotePath: `${dir.absolute}/logs/c.txt`, operation: 'delete' })).results[0] as Msg;
    assert.strictEqual(fixed.exists, true, 'a leftover msg.operation never turns a stat into a delete');
    await load({ operation: 'msg' });
    const listed = (await send('rem', { remotePath: `${dir.absolute}/logs`, operation: 'list' })).results[0] as Msg;
    assert.ok(Array.isArray(listed.payload));
    const bad = await send('rem', { remotePath: `${dir.absolute}/logs`, operation: 'format' });
    const error = bad.error?.error as { code: string; message: string };
    assert.strictEqual(error.code, 'EINVAL');
    assert.match(error.message, /The operation must be list, stat, delete, rename, mkdir, rmdir or chmod: "format"/);
  });

  it('the device override of the connection applies: msg.host and msg.port name the device, refused (EINVAL) without the option', async () => {
    await load({ operation: 'stat' }, 'auto', { deviceOverride: true });
    const chosen = (await send('rem', { remotePath: `${dir.absolute}/logs/c.txt`, host: server.host, port: server.port })).results[0] as Msg;
    assert.strictEqual(chosen.exists, true);
    assert.deepStrictEqual([(chosen.scp as Msg).host, (chosen.scp as Msg).port], [server.host, server.port]);
    await load({ operation: 'stat' }, 'auto', { deviceOverride: false });
    const refused = await send('rem', { remotePath: `${dir.absolute}/logs/c.txt`, port: 1 });
    assert.strictEqual((refused.error?.error as { code: string }).code, 'EINVAL');
  });
});
