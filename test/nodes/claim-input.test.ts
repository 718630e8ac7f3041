/**
 * Issue 16, claims in the download node: a claim timeout not longer than the stable size interval is refused
 * (EINVAL, its own catalog key), since the stable size wait happens while the files are claimed and another
 * instance would release a live claim during it. Nothing on the server is touched by a refused message.
 */
import assert from 'assert';
import { makeServerDir, runAsUser, sharedSshd, type SshdServer } from '../harness';
import { allNodes, connectionDef, downloadDef, errorCode, helper, resultOf, send, sinks, useNodeRed } from './support';

describe('nodes: claim timeout against the stable size interval (real sshd)', function () {
  this.timeout(60_000);
  useNodeRed();
  let server: SshdServer;

  before(async function () {
    server = await sharedSshd();
  });

  async function load(props: Record<string, unknown>): Promise<void> {
    await helper.load(allNodes, [connectionDef(server, { transport: 'sftp' }), downloadDef({ glob: true, afterAction: 'delete', claim: true, ...props }), ...sinks()], {
      conn: { password: server.password },
    });
  }

  for (const [timeout, interval] of [
    ['30', 30],
    ['10', 30],
  ] as const) {
    it(`claim timeout ${timeout} s with a stable size interval of ${interval} s: EINVAL claimTimeoutNotOverStable, the file stays in place`, async function () {
      const remote = await makeServerDir(server, `nodes-claim-timeout-${timeout}`);
      await runAsUser(server, `cd '${remote.absolute}' && printf data > a.log`);
      await load({ claimTimeout: timeout });
      const refused = await send('down', { remotePath: `${remote.absolute}/*.log`, stableInterval: interval });
      assert.strictEqual(errorCode(refused), 'EINVAL');
      assert.match(String((refused.error?.error as { message: string }).message), /claimTimeoutNotOverStable/);
      const listed = await runAsUser(server, `cd '${remote.absolute}' && ls -A`);
      assert.strictEqual(listed.stdout.toString(), 'a.log\n', 'not claimed, not fetched, not deleted');
    });
  }

  it('a claim timeout longer than the stable size interval pulls (the file fetched and deleted)', async function () {
    const remote = await makeServerDir(server, 'nodes-claim-timeout-ok');
    await runAsUser(server, `cd '${remote.absolute}' && printf data > a.log && touch -d @1600000000 a.log`);
    await load({ claimTimeout: '3' });
    const pulled = resultOf(await send('down', { remotePath: `${remote.absolute}/*.log`, stableInterval: 1 }));
    assert.strictEqual((pulled.payload as Buffer).toString(), 'data');
    const listed = await runAsUser(server, `cd '${remote.absolute}' && find . -mindepth 1`);
    // The folder of claims stays (other instances use it); this pull's claim folder is gone.
    assert.strictEqual(listed.stdout.toString(), './.scp-claims\n', 'deleted, no claim folder left');
  });
});
