/**
 * Issue 16 in the download node: "Minimum age" and "Stable size" from the node's settings and from the
 * message (msg.minimumAge, msg.stableInterval), files passed over listed with the reason, a bad value EINVAL
 * with its own catalog key. The engine's tests cover both transports (test/transfer/settle.test.ts).
 */
import assert from 'assert';
import { makeServerDir, runAsUser } from '../harness';
import { useSharedSshd } from '../support/servers';
import { allNodes, connectionDef, downloadDef, errorCode, helper, resultOf, send, sinks, useNodeRed, type Msg } from './support';

describe('nodes: minimum age and stable size (real sshd)', function () {
  this.timeout(60_000);
  useNodeRed();
  const server = useSharedSshd();

  async function load(props: Record<string, unknown>): Promise<void> {
    await helper.load(allNodes, [connectionDef(server, { transport: 'sftp' }), downloadDef({ glob: true, ...props }), ...sinks()], { conn: { password: server.password } });
  }

  it('minimum age from the node: the file written just now is skipped (minimumAge); msg.minimumAge = 0 fetches it', async function () {
    const remote = await makeServerDir(server, 'nodes-settle-age');
    await runAsUser(server, `cd '${remote.absolute}' && printf old > old.log && touch -d @1600000000 old.log && printf fresh > fresh.log`);
    await load({ minimumAge: '600' });
    const first = resultOf(await send('down', { remotePath: `${remote.absolute}/*.log` }));
    assert.strictEqual((first.payload as Buffer).toString(), 'old');
    const files = (first.scp as { files: Msg[]; skipped: number }).files;
    assert.deepStrictEqual(
      files.map((file) => [String(file.remotePath).split('/').pop(), file.transferred, file.skipped]),
      [
        ['fresh.log', false, 'minimumAge'],
        ['old.log', true, undefined],
      ],
    );
    assert.strictEqual((first.scp as { skipped: number }).skipped, 1);
    const both = await send('down', { remotePath: `${remote.absolute}/*.log`, minimumAge: 0 }, 2);
    assert.deepStrictEqual(both.results.map((msg) => (msg.payload as Buffer).toString()), ['fresh', 'old']);
  });

  it('a bad minimum age or stable size interval fails with EINVAL and its own catalog key', async function () {
    await load({ minimumAge: 'soon' });
    const bad = await send('down', { remotePath: 'x/*.log' });
    assert.strictEqual(errorCode(bad), 'EINVAL');
    assert.match(String((bad.error?.error as { message: string }).message), /badMinimumAge/);
    await helper.unload();
    await load({});
    const tooLong = await send('down', { remotePath: 'x/*.log', stableInterval: 7200 });
    assert.strictEqual(errorCode(tooLong), 'EINVAL');
    assert.match(String((tooLong.error?.error as { message: string }).message), /badStableInterval/);
  });
});
