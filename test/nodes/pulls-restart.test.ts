/**
 * "Only new or changed files" across a restart of a real Node-RED process (red.js, this package from the
 * working tree): the record of earlier pulls lives in the user directory, so an unchanged remote log is
 * still skipped after Node-RED comes back, and a log that grew is fetched again.
 *   GET /pull  scp download (msg.payload, only new) → {fetched, skipped, payload} as the response
 */
import assert from 'assert';
import path from 'path';
import { makeServerDir, makeTempDir, runAsUser, type SshdServer } from '../harness';
import { useSharedSshd } from '../support';
import { startNodeRedProcess, type NodeRedProcess } from '../support/node-red-process';
import { connectionNode } from '../support/red';

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

function pullFlow(server: SshdServer, remoteFile: string): object[] {
  const z = 'a11e000000000001';
  return [
    { id: z, type: 'tab', label: 'only new' },
    connectionNode(server, { id: 'a11e0000000000c0', credentials: { privateKey: server.clientKey } }),
    { id: 'a11e000000000002', type: 'http in', z, url: '/pull', method: 'get', upload: false, wires: [['a11e000000000003']] },
    {
      id: 'a11e000000000003',
      type: 'scp download',
      z,
      connection: 'a11e0000000000c0',
      remotePath: remoteFile,
      remotePathType: 'str',
      target: 'payload',
      onlyNew: true,
      outputs: 1,
      wires: [['a11e000000000004']],
    },
    {
      id: 'a11e000000000004',
      type: 'function',
      z,
      func: 'msg.payload = { fetched: msg.scp.fetched, skipped: msg.scp.skipped, text: msg.payload === null ? null : msg.payload.toString() };\nreturn msg;',
      outputs: 1,
      wires: [['a11e000000000005']],
    },
    { id: 'a11e000000000005', type: 'http response', z, statusCode: '', headers: {}, wires: [] },
    { id: 'a11e000000000006', type: 'catch', z, scope: null, uncaught: false, wires: [['a11e000000000007']] },
    { id: 'a11e000000000007', type: 'function', z, func: 'msg.payload = { error: msg.error.code };\nreturn msg;', outputs: 1, wires: [['a11e000000000005']] },
  ];
}

describe('nodes: only new files survive a restart of Node-RED (real Node-RED process, real sshd)', function () {
  this.timeout(120_000);
  const server = useSharedSshd();
  let red: NodeRedProcess | undefined;

  afterEach(async function () {
    await red?.stop();
    red = undefined;
  });

  it('append → fetched again; unchanged → skipped; restart Node-RED → still skipped', async function () {
    const remote = await makeServerDir(server, 'nodes-restart-pull');
    const log = `${remote.absolute}/app.log`;
    await runAsUser(server, `printf 'first\\n' > '${log}'`);
    const userDir = await makeTempDir('nodes-restart-pull');
    const start = (): Promise<NodeRedProcess> => startNodeRedProcess({ userDir, settings: { nodesDir: [PACKAGE_ROOT] } });
    const pull = async (): Promise<unknown> => {
      const answer = await red!.request('GET', '/pull');
      assert.strictEqual(answer.status, 200, answer.body);
      return answer.json();
    };

    red = await start();
    await red.deploy(pullFlow(server, log));
    assert.deepStrictEqual(await pull(), { fetched: 1, skipped: 0, text: 'first\n' });
    assert.deepStrictEqual(await pull(), { fetched: 0, skipped: 1, text: null });
    await runAsUser(server, `printf 'second\\n' >> '${log}'`);
    assert.deepStrictEqual(await pull(), { fetched: 1, skipped: 0, text: 'first\nsecond\n' });

    await red.stop();
    red = await start();
    assert.deepStrictEqual(await pull(), { fetched: 0, skipped: 1, text: null }, red.log());
  });
});
