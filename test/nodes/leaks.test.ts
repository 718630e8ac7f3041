/**
 * Nothing per message stays behind (issue 10: no growth over 10,000 messages). After a warm-up, a few
 * hundred messages through scp upload and scp download (results and failures) leave the nodes'
 * listeners, the process's active handles and timers, the pool (no channel held but the SFTP session the
 * connection keeps, nothing queued) and the leftover journal (no file) as they were, and every one of those
 * messages can be garbage collected once answered: a job, a listener, a timer or a map entry kept per
 * message would hold its message.
 */
import assert from 'assert';
import crypto from 'crypto';
import fs from 'fs';
import { Session } from 'inspector';
import path from 'path';
import { makeServerDir, sharedSshd, type SshdServer } from '../harness';
import { connectionDef, downloadDef, errorCode, helper, loadFlow, nodeRedUserDir, resultOf, send, uploadDef, useNodeRed, type Msg } from './support';

const WARM_UP = 40;
const MESSAGES = 200;

function post(session: Session, method: string): Promise<void> {
  return new Promise((resolve, reject) => session.post(method, (error) => (error ? reject(error) : resolve())));
}

/** The events each node listens to, with how many listeners. */
function listenerCounts(ids: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const id of ids) {
    const node = helper.getNode(id) as unknown as NodeJS.EventEmitter;
    for (const event of node.eventNames()) counts[`${id}.${String(event)}`] = node.listenerCount(event);
  }
  return counts;
}

/** Active handles and requests by kind (sockets, timers, file requests ...). */
function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

describe('nodes: nothing kept per message (real sshd)', function () {
  useNodeRed();
  let server: SshdServer;
  let dir: string;
  const session = new Session();

  before(async function () {
    server = await sharedSshd();
    dir = (await makeServerDir(server, 'nodes-leaks')).absolute;
    session.connect();
  });

  after(function () {
    session.disconnect();
  });

  async function collectGarbage(): Promise<void> {
    // The test helper's spies (sinon) record every call of the nodes' methods, messages included.
    (helper as unknown as { _sandbox: { resetHistory(): void } })._sandbox.resetHistory();
    await post(session, 'HeapProfiler.collectGarbage');
    await new Promise((resolve) => setImmediate(resolve));
    await post(session, 'HeapProfiler.collectGarbage');
  }

  it(`${MESSAGES} messages (uploads, downloads, failures) leave listeners, handles, pool and journal as they were, and are all collectable`, async function () {
    this.timeout(180_000);
    await loadFlow([connectionDef(server), uploadDef(), downloadDef()], { conn: { password: server.password } });
    const payload = crypto.randomBytes(4096);
    const sent: WeakRef<Msg>[] = [];
    const one = async (i: number): Promise<void> => {
      const remotePath = `${dir}/m${i % 10}.bin`;
      const kind = i % 4;
      const msg: Msg =
        kind < 2 ? { payload, remotePath } : kind === 2 ? { remotePath: `${dir}/m${(i - 2) % 10}.bin` } : { remotePath: `${dir}/missing-${i}.bin` };
      if (i >= WARM_UP) sent.push(new WeakRef(msg));
      const outcome = await send(kind < 2 ? 'up' : 'down', msg);
      if (kind < 2) assert.strictEqual(resultOf(outcome).bytes, payload.length);
      else if (kind === 2) assert.ok((resultOf(outcome).payload as Buffer).equals(payload), `message ${i}: downloaded bytes differ`);
      else assert.strictEqual(errorCode(outcome), 'ENOENT');
    };
    for (let i = 0; i < WARM_UP; i += 1) await one(i);
    const conn = helper.getNode('conn') as unknown as { poolStats(): { channels: number; queued: number } };
    const ids = ['conn', 'up', 'down'];
    const listeners = listenerCounts(ids);
    const resources = activeResources();
    // After the warm-up the connection keeps its SFTP session (transport 'auto' sends the small jobs over it): one channel, its own, not a message's.
    const warm = conn.poolStats();

    for (let i = WARM_UP; i < WARM_UP + MESSAGES; i += 1) await one(i);
    await collectGarbage();

    assert.deepStrictEqual(listenerCounts(ids), listeners, 'listeners on the nodes');
    assert.deepStrictEqual(activeResources(), resources, 'active handles and requests of the process');
    const stats = conn.poolStats();
    assert.ok(warm.channels <= 1, `after the warm-up the pool holds ${warm.channels} channels`);
    assert.deepStrictEqual({ channels: stats.channels, queued: stats.queued }, { channels: warm.channels, queued: 0 }, 'the pool holds nothing more than after the warm-up');
    const journals = path.join(nodeRedUserDir(), 'scp-leftovers');
    assert.deepStrictEqual(fs.existsSync(journals) ? fs.readdirSync(journals) : [], [], 'the leftover journal holds no name');
    const kept = sent.filter((ref) => ref.deref() !== undefined).length;
    assert.strictEqual(kept, 0, `${kept} of ${MESSAGES} answered messages are still referenced`);
  });
});
