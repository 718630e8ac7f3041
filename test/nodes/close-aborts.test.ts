/**
 * Closing a flow node alone aborts its jobs. A "modified nodes" deploy that changes only the upload
 * node closes that node and leaves its connection (and the connection's pool) running: nothing else
 * stops the transfer then. The message must end with EABORTED, the transfer must really stop (nothing
 * at the final path, no temporary file left), the pool must keep its connection, and the new node works.
 *
 * The server's session is frozen (SIGSTOP) once the upload is in flight, so the redeploy certainly
 * meets it mid-stream; it is thawed the moment the old node is told to close (its own close handler has
 * run by then), so the clean-up after the abort can reach the server.
 */
import assert from 'assert';
import crypto from 'crypto';
import { makeServerDir, runAsUser } from '../harness';
import { connectionDef, freezeSessions, helper, inFlight, loadFlow, sinks, track, uploadDef, useNodeRed, type Msg } from '../faults/support';
import { eventually, useOwnSshd } from '../support';
import type { PoolStatsView } from '../support/red';

const SIZE = 48 * 1024 * 1024;

describe('nodes: closing a flow node alone aborts its jobs', function () {
  this.timeout(90_000);
  useNodeRed();
  const server = useOwnSshd({ throwawayUser: true });

  it('a deploy of the changed upload node only: EABORTED, no file and no temporary file, the connection stays', async function () {
    const dir = await makeServerDir(server, 'close-aborts');
    const credentials = { conn: { password: server.password } };
    const connection = (): Msg => connectionDef(server, { username: server.username });
    await loadFlow([connection(), uploadDef()], credentials);
    const conn = helper.getNode('conn') as unknown as { poolStats(): PoolStatsView | undefined };
    const up = track('up');
    const remotePath = `${dir.absolute}/big.bin`;
    const moving = inFlight(up, remotePath, SIZE);
    up.node.receive({ payload: crypto.randomBytes(SIZE), remotePath });
    await moving;
    const frozen = freezeSessions(server.port);
    let thawed = false;
    const thaw = (): void => {
      if (thawed) return;
      thawed = true;
      frozen.thaw();
    };
    try {
      assert.ok(frozen.count > 0, 'found the session processes');
      assert.strictEqual(up.completions.length, 0, 'the upload finished before the server froze');
      // Registered after the node's own close handler, so that one has run when this one does.
      up.node.on('close', thaw);

      await helper.setFlows([connection(), uploadDef({ name: 'changed' }), ...sinks()], 'nodes', credentials);
    } finally {
      thaw();
    }
    assert.strictEqual(helper.getNode('conn'), conn, 'the connection node was not restarted');

    const [done] = await up.wait(1);
    assert.strictEqual(done.error?.code, 'EABORTED', `upload: ${done.error?.message ?? 'succeeded'}`);
    // The transfer really stopped: its channel is gone, while the connection stays open.
    await eventually('the aborted upload to release its channel', () => conn.poolStats()?.channels === 0);
    assert.ok((conn.poolStats()?.connections ?? 0) >= 1, 'the pool kept its connection');
    // Nothing at the final path and no temporary file (a transfer left running would land here).
    await eventually('the remote scp to end', async () => {
      const ps = await runAsUser(server, `ps -o args= -u "$(id -u)" | grep -c '^scp ' || true`);
      return ps.stdout.toString().trim() === '0';
    });
    const listing = await runAsUser(server, `ls -A '${dir.absolute}'`);
    assert.strictEqual(listing.stdout.toString(), '', 'files left in the target directory');
    assert.strictEqual(up.completions.length, 1, 'the message was answered exactly once');

    // The replaced node works over the same pool.
    const fresh = track('up');
    fresh.node.receive({ payload: 'after the node redeploy', remotePath: `${dir.absolute}/after.txt` });
    const [next] = await fresh.wait(1);
    assert.strictEqual(next.error, undefined, next.error?.message);
    const content = await runAsUser(server, `cat '${dir.absolute}/after.txt'`);
    assert.strictEqual(content.stdout.toString(), 'after the node redeploy');
  });
});
