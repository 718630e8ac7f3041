/**
 * A redeploy (full setFlows) and a Node-RED stop (stopFlows, what helper.unload and RED.stop run) while a
 * 50 MiB upload and a 50 MiB download are in flight: both messages end with EABORTED through done(err),
 * the config node's pool ends with no connection and no channel, sshd sees the sessions go, nothing sits
 * at the upload's final path, and Node-RED never has to give up on a node's close (its 15 s limit).
 */
import assert from 'assert';
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import {
  connectionDef,
  downloadDef,
  freezeSessions,
  helper,
  loadFlow,
  inFlight,
  sinks,
  track,
  uploadDef,
  useNodeRed,
  startSilentScpSink,
  watchCloseTimeouts,
  type DoneTracker,
  type Msg,
} from './support';
import { eventually, useOwnSshd } from '../support';
import { poolStatsOf, type PoolStatsView } from '../support/red';

const SIZE = 50 * 1024 * 1024;

describe('faults: redeploy and stop during transfers', function () {
  this.timeout(90_000);
  useNodeRed();
  const server = useOwnSshd({ throwawayUser: true });
  let dir: { relative: string; absolute: string };
  const source = (): string => `${dir.absolute}/source.bin`;

  before(async function () {
    dir = await makeServerDir(server, 'faults-redeploy');
    const made = await runAsUser(server, `head -c ${SIZE} /dev/urandom > '${source()}'`);
    assert.strictEqual(made.code, 0, made.stderr);
  });

  function nodes(mode = '0644'): Msg[] {
    return [connectionDef(server, { username: server.username }), uploadDef({ mode }), downloadDef({ target: 'file' })];
  }
  const credentials = (): Record<string, Record<string, string>> => ({ conn: { password: server.password } });

  /**
   * Starts the two big transfers and freezes the server's sessions once both are in flight, so they are
   * certainly mid-stream when the flow is stopped; the caller thaws them once the nodes have closed.
   */
  async function startTransfers(
    uploadName: string,
  ): Promise<{ up: DoneTracker; down: DoneTracker; uploadPath: string; localDir: string; sessionPids: number[]; thaw(): void }> {
    const localDir = await makeTempDir('faults-redeploy-local');
    const up = track('up');
    const down = track('down');
    const uploadPath = `${dir.absolute}/${uploadName}`;
    const moving = Promise.all([inFlight(up, uploadPath, SIZE), inFlight(down, source(), SIZE)]);
    up.node.receive({ payload: crypto.randomBytes(SIZE), remotePath: uploadPath });
    down.node.receive({ remotePath: source(), localPath: path.join(localDir, 'download.bin') });
    await moving;
    const frozen = freezeSessions(server.port);
    assert.ok(frozen.count > 0, 'found the session processes');
    assert.deepStrictEqual([up.completions.length, down.completions.length], [0, 0], 'a transfer finished before the server froze');
    return { up, down, uploadPath, localDir, sessionPids: frozen.pids, thaw: frozen.thaw };
  }

  async function assertAborted(
    { up, down, uploadPath, localDir, sessionPids }: { up: DoneTracker; down: DoneTracker; uploadPath: string; localDir: string; sessionPids: number[] },
    stats: () => PoolStatsView | undefined,
  ): Promise<void> {
    const [[upDone], [downDone]] = await Promise.all([up.wait(1), down.wait(1)]);
    assert.strictEqual(upDone.error?.code, 'EABORTED', `upload: ${upDone.error?.message ?? 'succeeded'}`);
    assert.strictEqual(downDone.error?.code, 'EABORTED', `download: ${downDone.error?.message ?? 'succeeded'}`);
    assert.strictEqual(up.completions.length + down.completions.length, 2, 'each message is answered exactly once');
    const after = stats();
    assert.ok(after, 'the pool was used');
    assert.deepStrictEqual({ connections: after.connections, channels: after.channels, queued: after.queued }, { connections: 0, channels: 0, queued: 0 });
    // sshd's own session processes end. (Not its log: how it words the end depends on whether our
    // DISCONNECT got through before the socket closed, or a reset did, when the machine is busy.)
    await eventually('the sshd session processes to end', () => sessionPids.every((pid) => !fs.existsSync(`/proc/${pid}`)), { limitMs: 20_000 });
    // Our own session processes on the server are gone: no scp of ours still runs for this user.
    await eventually('the remote scp processes to end', async () => {
      const ps = await runAsUser(server, `ps -o args= -u "$(id -u)" | grep -c '^scp ' || true`);
      return ps.stdout.toString().trim() === '0';
    });
    const listing = await runAsUser(server, `ls -A '${dir.absolute}'`);
    const names = listing.stdout.toString().split('\n').filter(Boolean);
    assert.ok(!names.includes(uploadPath.split('/').pop() as string), `a partial upload sits at the final path: ${names.join(', ')}`);
    assert.deepStrictEqual(fs.readdirSync(localDir), [], 'no partial download and no temp file in the local target dir');
  }

  it('a full redeploy aborts both with EABORTED, closes the pool quickly, and the new flow works', async function () {
    await loadFlow(nodes(), credentials());
    const connection = { poolStats: poolStatsOf() };
    const transfers = await startTransfers('redeploy.bin');
    const closeTimeouts = watchCloseTimeouts('conn', 'up', 'down');

    await helper.setFlows([...nodes('0600'), ...sinks()], 'full', credentials());
    transfers.thaw();
    assert.deepStrictEqual(closeTimeouts(), [], 'Node-RED gave up waiting for a node to close');
    await assertAborted(transfers, () => connection.poolStats());

    // The redeployed nodes work on a fresh pool.
    const fresh = track('up');
    fresh.node.receive({ payload: 'after redeploy', remotePath: `${dir.absolute}/after-redeploy.txt` });
    const [done] = await fresh.wait(1);
    assert.strictEqual(done.error, undefined, done.error?.message);
    const stat = await runAsUser(server, `stat -c '%a' '${dir.absolute}/after-redeploy.txt' && cat '${dir.absolute}/after-redeploy.txt'`);
    assert.strictEqual(stat.stdout.toString(), '600\nafter redeploy', 'the new flow uses the new settings');
  });

  it('stopping the flows (Node-RED stop) aborts both with EABORTED and closes the pool quickly', async function () {
    await loadFlow(nodes(), credentials());
    const connection = { poolStats: poolStatsOf() };
    const transfers = await startTransfers('stop.bin');
    const closeTimeouts = watchCloseTimeouts('conn', 'up', 'down');

    await helper.unload();
    transfers.thaw();
    assert.deepStrictEqual(closeTimeouts(), [], 'Node-RED gave up waiting for a node to close');
    await assertAborted(transfers, () => connection.poolStats());
  });

  it('a redeploy with messages queued behind a busy channel answers every one exactly once with EABORTED', async function () {
    // A fake server whose scp sink acknowledges once and then holds the channel: the one channel stays
    // busy for as long as the test wants, so the other messages are certain to be queued in the pool.
    const queuedCount = 20;
    const root = await makeTempDir('faults-queued');
    const { fake, scpStarted } = await startSilentScpSink();
    try {
      await loadFlow(
        [connectionDef(fake, { maxChannels: 1, maxConnections: 1, idleTimeout: 300 }), uploadDef()],
        { conn: { password: fake.password } },
      );
      const connection = { poolStats: poolStatsOf() };
      const up = track('up');
      up.node.receive({ payload: Buffer.alloc(1024 * 1024, 1), remotePath: path.join(root, 'held.bin') });
      await eventually('the first upload to hold the channel', () => scpStarted() === 1);
      for (let i = 0; i < queuedCount; i += 1) up.node.receive({ payload: `queued ${i}`, remotePath: path.join(root, `queued-${i}.txt`) });
      await eventually('every other upload to queue', () => connection.poolStats()?.queued === queuedCount);
      const closeTimeouts = watchCloseTimeouts('conn', 'up');

      await helper.setFlows([connectionDef(fake, { name: 'changed' }), uploadDef(), ...sinks()], 'full', { conn: { password: fake.password } });
      assert.deepStrictEqual(closeTimeouts(), [], 'Node-RED gave up waiting for a node to close');

      const completions = await up.wait(1 + queuedCount);
      // The old pool closed with nothing queued: no job is left that could answer a message a second time.
      await eventually('the old pool to close', () => {
        const closed = connection.poolStats();
        return closed !== undefined && closed.connections + closed.channels + closed.queued === 0;
      });
      assert.strictEqual(up.completions.length, 1 + queuedCount, 'each message answered exactly once');
      assert.deepStrictEqual(
        completions.map((completion) => completion.error?.code ?? 'ok'),
        Array(1 + queuedCount).fill('EABORTED'),
      );
      const stats = connection.poolStats();
      assert.deepStrictEqual(stats && [stats.connections, stats.channels, stats.queued], [0, 0, 0]);
      assert.strictEqual(scpStarted(), 1, 'no queued upload reached the server');
      assert.deepStrictEqual(fs.readdirSync(root), [], 'nothing was written');
      assert.deepStrictEqual(fake.handlerErrors, []);
    } finally {
      await fake.close();
    }
  });
});
