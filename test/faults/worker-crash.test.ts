/**
 * The engine's worker thread dies (the test hook throws an exception nothing catches inside it) with 20
 * jobs in flight through the nodes in a real Node-RED runtime: 5 uploads and 5 downloads over SCP and as
 * many over SFTP, each slowed by a bandwidth limit so that it is certainly moving. Every message fails
 * exactly once with EWORKER, the Catch node sees each, nothing lands at a final path, both connection nodes
 * say in the log what happened, and the next messages run in a new worker, byte-exact, without a redeploy.
 */
import assert from 'assert';
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { eventually, useOwnSshd } from '../support';
import { callsOf, nodesEngine } from '../support/red';
import { collectCaught, connectionDef, downloadDef, helper, loadFlow, track, uploadDef, useNodeRed, type Msg } from './support';

const PER_KIND = 5;
const SIZE = 2 * 1024 * 1024;
/** slow enough that no job ends before the crash, fast enough that the first bytes show at once */
const LIMIT_KIBPS = 64;
const TRANSPORTS = ['scp', 'sftp'] as const;

describe('faults: the engine worker dies with 20 jobs in flight', function () {
  this.timeout(120_000);
  useNodeRed();
  const server = useOwnSshd({ throwawayUser: true });

  it('fails each message once with EWORKER, keeps final paths clean, and the next messages run in a new worker', async function () {
    const dir = await makeServerDir(server, 'faults-worker');
    const localDir = await makeTempDir('faults-worker-local');
    const source = crypto.randomBytes(SIZE);
    const made = await runAsUser(server, `head -c ${SIZE} /dev/urandom > '${dir.absolute}/source.bin'`);
    assert.strictEqual(made.code, 0, made.stderr);

    const nodes: Msg[] = [];
    for (const transport of TRANSPORTS) {
      nodes.push(connectionDef(server, { id: `conn-${transport}`, username: server.username, transport, maxChannels: 10 }));
      nodes.push(uploadDef({ id: `up-${transport}`, connection: `conn-${transport}`, limitKiBps: LIMIT_KIBPS }));
      nodes.push(downloadDef({ id: `down-${transport}`, connection: `conn-${transport}`, target: 'file', limitKiBps: LIMIT_KIBPS }));
    }
    await loadFlow(nodes, Object.fromEntries(TRANSPORTS.map((transport) => [`conn-${transport}`, { password: server.password }])));
    const caught = collectCaught();
    const moving = new Set<string>();
    helper.getNode('progress').on('input', ((msg: Msg) => {
      if (((msg.payload as { bytes?: number }).bytes ?? 0) > 0) moving.add(String(msg.remotePath));
    }) as (...args: never[]) => void);

    const trackers = TRANSPORTS.flatMap((transport) => [track(`up-${transport}`), track(`down-${transport}`)]);
    const uploads: string[] = [];
    const downloads: string[] = [];
    for (const transport of TRANSPORTS) {
      for (let index = 0; index < PER_KIND; index += 1) {
        const remotePath = `${dir.absolute}/up-${transport}-${index}.bin`;
        uploads.push(remotePath);
        helper.getNode(`up-${transport}`).receive({ payload: source, remotePath });
        const localPath = path.join(localDir, `down-${transport}-${index}.bin`);
        downloads.push(localPath);
        // each download names the source its own way, so progress tells the 10 downloads apart
        const remoteSource = `${dir.absolute}/${'./'.repeat(index + (transport === 'sftp' ? PER_KIND : 0))}source.bin`;
        helper.getNode(`down-${transport}`).receive({ remotePath: remoteSource, localPath });
      }
    }
    await eventually('all 20 transfers moving bytes', () => moving.size === 4 * PER_KIND || undefined, {
      limitMs: 60_000,
      context: () => `moving: ${[...moving].join(', ')}`,
    });
    const engine = nodesEngine.workerEngineForTests();
    assert.ok(engine, 'the engine runs in a worker (NODE_RED_SCP_ENGINE is not inline)');
    const firstThread = engine.threadId;
    assert.ok(firstThread !== undefined);

    engine.crash();
    const completions = (await Promise.all(trackers.map((tracker) => tracker.wait(PER_KIND)))).flat();
    assert.strictEqual(completions.length, 4 * PER_KIND);
    assert.deepStrictEqual(
      completions.map((completion) => completion.error?.code),
      Array.from({ length: 4 * PER_KIND }, () => 'EWORKER'),
      completions.map((completion) => completion.error?.message ?? 'ok').join('\n'),
    );
    await eventually('the Catch node to see all 20', () => caught.length >= 4 * PER_KIND || undefined);
    assert.deepStrictEqual(caught.map((msg) => (msg.error as { code?: unknown }).code), Array.from({ length: 4 * PER_KIND }, () => 'EWORKER'));
    for (const remotePath of uploads) assert.ok(!fs.existsSync(remotePath), `nothing at the final path ${remotePath}`);
    for (const localPath of downloads) assert.ok(!fs.existsSync(localPath), `nothing at the final path ${localPath}`);
    for (const transport of TRANSPORTS) {
      const warnings = callsOf(helper.getNode(`conn-${transport}`) as unknown as Record<string, unknown>, 'warn').map((args) => String(args[0]));
      // inside the test helper RED._ returns the catalog key
      assert.ok(warnings.includes('scp-connection.warnings.engineStopped'), warnings.join('\n'));
    }

    // The same flow, without a redeploy: a new worker, byte-exact results.
    for (const transport of TRANSPORTS) {
      const remotePath = `${dir.absolute}/after-${transport}.bin`;
      const up = track(`up-${transport}`);
      const before = up.completions.length;
      helper.getNode(`up-${transport}`).receive({ payload: source.subarray(0, 64 * 1024), remotePath, scp: { limitKiBps: 0 } });
      const [upDone] = (await up.wait(before + 1)).slice(before);
      assert.strictEqual(upDone.error, undefined, upDone.error?.message);
      assert.ok(fs.readFileSync(remotePath).equals(source.subarray(0, 64 * 1024)));
      const localPath = path.join(localDir, `after-${transport}.bin`);
      const down = track(`down-${transport}`);
      const downBefore = down.completions.length;
      helper.getNode(`down-${transport}`).receive({ remotePath, localPath, scp: { limitKiBps: 0 } });
      const [downDone] = (await down.wait(downBefore + 1)).slice(downBefore);
      assert.strictEqual(downDone.error, undefined, downDone.error?.message);
      assert.ok(fs.readFileSync(localPath).equals(source.subarray(0, 64 * 1024)));
    }
    assert.ok(engine.threadId !== undefined && engine.threadId !== firstThread, 'a new worker thread serves the next messages');
    // Each message was answered once: no second done() arrived after the answers counted above.
    for (const tracker of trackers) assert.strictEqual(tracker.errors().length, PER_KIND);
  });
});
