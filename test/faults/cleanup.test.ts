/**
 * "Never leave a mess": 20 uploads in flight through the upload node (single files and two-file uploads
 * that use a staging folder) when the flow is redeployed, the nodes are removed, or Node-RED stops. Once
 * that has finished (the nodes and their connection closed), no temporary `.part` file and no
 * `.scp-*.part` staging folder may remain on the server, over either transport. Then the same for the
 * transfer time limit, on the engine with the real pool (the deadline of one job).
 */
import assert from 'assert';
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { upload, type TransferContext, type UploadRequest } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser, type SshdServer } from '../harness';
import { connectionDef, helper, loadFlow, sinks, track, uploadDef, useNodeRed, type Credentials, type DoneTracker, type Msg, watchCloseTimeouts } from './support';
import { useOwnSshd } from '../support';
import { poolProvider } from '../transfer/support';

const COUNT = 20;
const SIZE = 6 * 1024 * 1024;

/** Every temporary name of ours under `dir` on the server (files and staging folders), found with `find`. */
async function temporariesUnder(server: SshdServer, dir: string): Promise<string[]> {
  const found = await runAsUser(server, `find '${dir}' -name '*.scp-*.part'`);
  assert.strictEqual(found.code, 0, found.stderr);
  return found.stdout.toString().split('\n').filter(Boolean);
}

/** Resolves once `count` different remote paths reported moved bytes on the progress output. */
function manyInFlight(count: number, up: DoneTracker): Promise<void> {
  const moving = new Set<string>();
  return new Promise((resolve, reject) => {
    helper.getNode('progress').on('input', ((msg: Msg) => {
      if ((msg.payload as { bytes?: number }).bytes! > 0) moving.add(String(msg.remotePath));
      if (moving.size >= count) resolve();
    }) as (...args: never[]) => void);
    void up.wait(COUNT).then(() => reject(new Error(`every upload ended before ${count} were seen in flight`)));
  });
}

describe('faults: no temporary files left behind', function () {
  this.timeout(120_000);
  useNodeRed();
  const server = useOwnSshd({ throwawayUser: true });
  let localDir: string;

  before(async function () {
    localDir = await makeTempDir('faults-cleanup-local');
    fs.writeFileSync(path.join(localDir, 'a.bin'), crypto.randomBytes(SIZE / 2));
    fs.writeFileSync(path.join(localDir, 'b.bin'), crypto.randomBytes(SIZE / 2));
  });

  const credentials = (): Credentials => ({ conn: { password: server.password } });

  /**
   * Sends COUNT uploads into a fresh server directory: even ones a 6 MiB buffer to `<n>.bin`, odd ones the
   * two local files into the folder `<n>/` (several files: a staging folder). Resolves once several move.
   */
  async function startUploads(transport: 'scp' | 'sftp'): Promise<{ dir: string; up: DoneTracker; nodes: Msg[] }> {
    const dir = (await makeServerDir(server, `faults-cleanup-${transport}`)).absolute;
    const folders = Array.from({ length: COUNT / 2 }, (_, i) => `'${dir}/${2 * i + 1}'`).join(' ');
    const made = await runAsUser(server, `mkdir ${folders}`);
    assert.strictEqual(made.code, 0, made.stderr);
    const nodes = [connectionDef(server, { username: server.username, transport }), uploadDef()];
    await loadFlow(nodes, credentials());
    const up = track('up');
    const moving = manyInFlight(4, up);
    for (let i = 0; i < COUNT; i += 1) {
      if (i % 2 === 0) up.node.receive({ payload: crypto.randomBytes(SIZE), remotePath: `${dir}/${i}.bin` });
      else up.node.receive({ localPath: [path.join(localDir, 'a.bin'), path.join(localDir, 'b.bin')], remotePath: `${dir}/${i}` });
    }
    await moving;
    return { dir, up, nodes };
  }

  /** Every message answered once, aborted or done; the aborted ones left nothing, and no temporary remains. */
  async function assertClean(dir: string, up: DoneTracker): Promise<void> {
    const completions = await up.wait(COUNT);
    const codes = completions.map((completion) => completion.error?.code ?? 'ok');
    assert.ok(
      codes.every((code) => code === 'ok' || code === 'EABORTED'),
      `unexpected outcomes: ${codes.join(', ')}`,
    );
    assert.ok(codes.includes('EABORTED'), 'no upload was still in flight: the test proved nothing');
    assert.deepStrictEqual(await temporariesUnder(server, dir), [], 'temporary files or staging folders were left on the server');
  }

  const ways: { name: string; act(nodes: Msg[]): Promise<unknown> }[] = [
    { name: 'a full redeploy', act: (nodes) => helper.setFlows([...nodes, ...sinks()], 'full', credentials()) },
    // The nodes disappear from the flow: Node-RED closes them with removed=true.
    { name: 'removing the nodes', act: () => helper.setFlows(sinks(), 'nodes', {}) },
    { name: 'stopping Node-RED', act: () => helper.unload() },
  ];

  for (const transport of ['scp', 'sftp'] as const) {
    for (const way of ways) {
      it(`${transport}: ${way.name} with ${COUNT} uploads in flight removes every temporary file before the close ends`, async function () {
        const { dir, up, nodes } = await startUploads(transport);
        // Node-RED gives up on a close after 15 s: the clean-up must end by itself, not be cut off by that.
        const closeTimeouts = watchCloseTimeouts('conn', 'up');
        await way.act(nodes);
        assert.deepStrictEqual(closeTimeouts(), [], 'Node-RED gave up waiting for a node to close');
        await assertClean(dir, up);
      });
    }

    it(`${transport}: uploads stopped by the transfer time limit remove their temporary files before they fail`, async function () {
      const dir = (await makeServerDir(server, `faults-deadline-${transport}`)).absolute;
      const pool = poolProvider(server);
      try {
        const ctx: TransferContext = { channels: pool, transport, idleTimeoutMs: 30_000, deadlineMs: 400 };
        const request = (i: number): UploadRequest => ({
          sources: [{ kind: 'buffer', data: crypto.randomBytes(SIZE) }],
          remotePath: `${dir}/${i}.bin`,
          preserve: false,
          atomic: true,
          overwrite: 'overwrite',
        });
        const outcomes = await Promise.all(
          Array.from({ length: COUNT }, (_, i) => upload(ctx, request(i)).then(
            () => 'ok',
            (error: { code?: string }) => error.code,
          )),
        );
        assert.ok(outcomes.every((code) => code === 'ok' || code === 'ETIMEDOUT'), `unexpected outcomes: ${outcomes.join(', ')}`);
        assert.ok(outcomes.includes('ETIMEDOUT'), 'no upload reached its time limit: the test proved nothing');
        // Each job removed its temporary file before it failed: nothing to wait for.
        assert.deepStrictEqual(await temporariesUnder(server, dir), [], 'temporary files were left on the server');
      } finally {
        await pool.close();
      }
    });
  }
});
