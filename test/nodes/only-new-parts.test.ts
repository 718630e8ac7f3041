/**
 * Issue 16, defect 1: "only new or changed files" with a glob into msg.payload. The second pull, with some
 * files unchanged, failed with ENOENT naming a file in the private temporary folder the node reads the
 * fetched files back from (an unchanged file was never written there). Over both transports.
 */
import assert from 'assert';
import { makeServerDir, runAsUser } from '../harness';
import { useSharedSshd } from '../support/servers';
import { connectionDef, downloadDef, helper, allNodes, resultOf, send, sinks, useNodeRed, type Msg } from './support';

describe('nodes: only new files, several into msg.payload (real sshd)', function () {
  this.timeout(60_000);
  useNodeRed();
  const server = useSharedSshd();

  for (const transport of ['scp', 'sftp'] as const) {
    it(`${transport}: the second pull sends only the changed file as a part; the unchanged one is listed as skipped`, async function () {
      const remote = await makeServerDir(server, `nodes-only-new-parts-${transport}`);
      await runAsUser(server, `cd '${remote.absolute}' && printf same > a.log && printf grows > b.log && touch -d @1600000000 a.log b.log`);
      await helper.load(allNodes, [connectionDef(server, { transport }), downloadDef({ glob: true, onlyNew: true, partsAsObject: true }), ...sinks()], {
        conn: { password: server.password },
      });
      const first = await send('down', { remotePath: `${remote.absolute}/*.log` }, 2);
      assert.deepStrictEqual(
        first.results.map((msg) => [(msg.parts as { key: string }).key, (msg.payload as Buffer).toString()]),
        [
          ['a.log', 'same'],
          ['b.log', 'grows'],
        ],
      );
      await runAsUser(server, `cd '${remote.absolute}' && printf ' more' >> b.log && touch -d @1600000100 b.log`);
      const second = resultOf(await send('down', { remotePath: `${remote.absolute}/*.log` }));
      assert.strictEqual((second.payload as Buffer).toString(), 'grows more');
      assert.deepStrictEqual((second.parts as { count: number; key: string }).count, 1);
      const scp = second.scp as { fetched: number; skipped: number; files: Msg[] };
      assert.deepStrictEqual([scp.fetched, scp.skipped], [1, 1]);
      assert.deepStrictEqual(
        scp.files.map((file) => [String(file.remotePath).split('/').pop(), file.transferred, file.unchanged === true]),
        [
          ['a.log', false, true],
          ['b.log', true, false],
        ],
      );
      const third = resultOf(await send('down', { remotePath: `${remote.absolute}/*.log` }));
      assert.deepStrictEqual(third.payload, []);
      assert.deepStrictEqual([(third.scp as { fetched: number }).fetched, (third.scp as { skipped: number }).skipped], [0, 2]);
    });
  }
});
