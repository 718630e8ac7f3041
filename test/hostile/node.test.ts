/**
 * The hostile server through the Node-RED `scp download` node (loaded from dist/, as Node-RED loads it):
 * for representative rows of the table, a Catch node gets msg.error.code, done(err) is called once, the
 * status turns red, nothing lands outside the target; afterwards a download from the real sshd through a
 * second connection still works, so the runtime lived through it all.
 */
import assert from 'assert';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { makeServerDir, runAsUser, sharedSshd, type SshdServer } from '../harness';
import { errorCode, helper, loadFlow, resultOf, send, useNodeRed } from '../nodes/support';
import { callsOf } from '../support/red';
import { REMOTE_PATHS, hostileCase, type HostileCase } from './cases';
import { OK_CONTENT, OK_PATH, assertArena, hasRawControls, makeArena, startHostileServer, type HostileServer } from './support';

/** Rows of the engine table, one per kind of fault. */
const NODE_ROWS = [
  'traversal name ../x',
  'unrequested file (CVE-2019-6111)',
  'size over the configured cap',
  'short data then EOF',
  'flood: 200 MiB of stderr escapes while data flows, then a bad trailer',
  'stall before the first record',
].map(hostileCase);


describe('hostile SCP server through the scp download node', function () {
  this.timeout(30_000);
  useNodeRed();
  let server: HostileServer;
  let sshd: SshdServer;

  before(async () => {
    server = await startHostileServer();
    sshd = await sharedSshd();
  });

  after(async () => {
    await server?.fake.close();
  });

  function flow(): Record<string, unknown>[] {
    return [
      {
        id: 'conn',
        type: 'scp-connection',
        host: server.fake.host,
        port: server.fake.port,
        username: 'victim',
        hostKeyPolicy: 'fingerprint',
        hostFingerprints: server.fake.hostKeyFingerprints.join('\n'),
        transport: 'scp',
        // seconds, the smallest the node takes: the stall row ends after it, the others long before
        idleTimeout: 1,
      },
      {
        id: 'real',
        type: 'scp-connection',
        host: sshd.host,
        port: sshd.port,
        username: sshd.username,
        hostKeyPolicy: 'fingerprint',
        hostFingerprints: sshd.hostKeyFingerprints.join('\n'),
        transport: 'scp',
      },
      downloadNode('down', 'conn', 'directory'),
      downloadNode('down-real', 'real', 'payload'),
    ];
  }

  function downloadNode(id: string, connection: string, target: 'directory' | 'payload'): Record<string, unknown> {
    return {
      id,
      type: 'scp download',
      z: 'tab',
      connection,
      remotePath: 'remotePath',
      remotePathType: 'msg',
      target,
      localPath: 'localPath',
      localPathType: 'msg',
      recursive: false,
      glob: false,
      preserve: false,
      overwrite: 'overwrite',
      maxSize: 256,
      maxFiles: 1000,
      progress: false,
      wires: [['out'], ['progress']],
    };
  }

  async function runRow(row: HostileCase): Promise<void> {
    const arena = await makeArena();
    server.script = row.script;
    const down = helper.getNode('down');
    const errorsBefore = callsOf(down, 'error').length;
    const outcome = await send('down', { remotePath: REMOTE_PATHS[row.request], localPath: arena.target });
    assert.strictEqual(errorCode(outcome), row.code, JSON.stringify(outcome.error?.error));
    const error = outcome.error?.error as { message?: unknown };
    assert.strictEqual(typeof error.message, 'string');
    assert.ok(!hasRawControls(error.message as string), `raw controls in ${JSON.stringify(error.message)}`);
    if (process.env.HOSTILE_VERBOSE) console.log(`    ${row.name}: ${String(error.message)}`);
    assert.strictEqual(outcome.results.length, 0);
    // done(err) once: Node-RED turns it into exactly one node.error(err, msg) carrying the code
    await new Promise((resolve) => setTimeout(resolve, 50));
    const errors = callsOf(down, 'error').slice(errorsBefore);
    assert.strictEqual(errors.length, 1, `node.error was called ${errors.length} times`);
    assert.strictEqual((errors[0][0] as { code?: unknown }).code, row.code);
    const statuses = callsOf(down, 'status').map((args) => args[0] as { fill?: string; shape?: string });
    const last = statuses[statuses.length - 1];
    assert.strictEqual(last?.fill, 'red', JSON.stringify(last));
    await assertArena(arena, row.leaves);
  }

  it('every representative row fails with its code; then the runtime still downloads from a real sshd', async () => {
    await loadFlow(flow(), { conn: { password: server.fake.password }, real: { privateKey: sshd.clientKey } });

    // the hostile connection works for a well-behaved reply first
    const okArena = await makeArena();
    const ok = await send('down', { remotePath: OK_PATH, localPath: okArena.target });
    resultOf(ok);
    assert.deepStrictEqual(await fs.readFile(join(okArena.target, 'ok.txt')), OK_CONTENT);

    for (const row of NODE_ROWS) {
      try {
        await runRow(row);
      } catch (error) {
        throw new Error(`row "${row.name}": ${(error as Error).message}`, { cause: error });
      }
    }

    const dir = await makeServerDir(sshd, 'hostile-node');
    await runAsUser(sshd, `printf 'alive after hostility' > '${dir.absolute}/alive.txt'`);
    const alive = await send('down-real', { remotePath: `${dir.absolute}/alive.txt` });
    assert.strictEqual((resultOf(alive).payload as Buffer).toString(), 'alive after hostility');
    assert.deepStrictEqual(server.fake.handlerErrors, []);
  });
});
