/**
 * The two scheduled-pull examples, loaded from examples/ and run end to end against the real sshd: only
 * the shared connection is pointed at the test server and the inject node's paths rewritten; the inject
 * node itself starts each pull. (When test/examples/ lands, these two belong in its RUNS table.)
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { makeServerDir, makeTempDir, runAsUser, sharedSshd, type SshdServer } from '../harness';
import { allNodes, helper, useNodeRed, type Msg } from './support';

const EXAMPLES = path.resolve(__dirname, '../../../examples');
const SHARED_CONNECTION = { id: 'a5c0c0ec70000001', name: 'SCP server' };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const core = (file: string): unknown => require(`@node-red/nodes/core/${file}`) as unknown;

type FlowNode = Record<string, unknown> & { id: string; type: string };

function readExample(file: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.join(EXAMPLES, file), 'utf8')) as FlowNode[];
}

function ofType(flow: FlowNode[], type: string, name?: string): FlowNode {
  const node = flow.find((candidate) => candidate.type === type && (name === undefined || candidate.name === name));
  if (!node) throw new Error(`the example has no ${type} ${name ?? ''}`);
  return node;
}

describe('nodes: the scheduled-pull examples run end to end (real sshd)', function () {
  this.timeout(60_000);
  useNodeRed();
  let server: SshdServer;

  before(async function () {
    server = await sharedSshd();
  });

  /** Loads the example with its connection pointed at the server and its inject node's paths replaced; returns a trigger. */
  async function run(file: string, remotePattern: string, localDir: string): Promise<{ pull(): Promise<Msg>; flow: FlowNode[] }> {
    const flow = readExample(file);
    const connection = flow.find((node) => node.id === SHARED_CONNECTION.id);
    assert.ok(connection, 'the shared connection');
    assert.strictEqual(connection.name, SHARED_CONNECTION.name);
    Object.assign(connection, { host: server.host, port: server.port, username: server.username, hostKeyPolicy: 'fingerprint', hostFingerprints: server.hostKeyFingerprints.join('\n') });
    const inject = ofType(flow, 'inject');
    inject.props = [
      { p: 'remotePath', v: remotePattern, vt: 'str' },
      { p: 'localPath', v: localDir, vt: 'str' },
    ];
    inject.repeat = '';
    const modules = [...allNodes, core('common/20-inject.js'), core('common/21-debug.js'), core('common/90-comment.js')];
    await helper.load(modules, flow, { [SHARED_CONNECTION.id]: { password: server.password } });
    const debug = helper.getNode((ofType(flow, 'scp download').wires as string[][])[0][0]);
    const errors = helper.getNode(ofType(flow, 'debug', 'error').id);
    return {
      flow,
      pull: () =>
        new Promise<Msg>((resolve, reject) => {
          debug.once('input', (msg: Msg) => resolve(msg));
          errors.once('input', (msg: Msg) => reject(new Error(`the example reported an error: ${JSON.stringify(msg.error)}`)));
          helper.getNode(inject.id).receive({});
        }),
    };
  }

  it('"Scheduled pull that deletes what it fetched": the files arrive here and are gone there', async function () {
    const remote = await makeServerDir(server, 'example-pull-delete');
    await runAsUser(server, `cd '${remote.absolute}' && printf 'a,1\\n' > a.csv && printf 'b,2\\n' > b.csv && printf open > partial.tmp`);
    const local = path.join(await makeTempDir('example-pull-delete'), 'new-folder');
    const example = await run('Scheduled pull that deletes what it fetched.json', `${remote.absolute}/*.csv`, local);
    const result = await example.pull();
    const files = (result.scp as { files: Array<{ remotePath: string; removed?: boolean }> }).files;
    assert.deepStrictEqual(
      files.map((file) => [file.remotePath, file.removed]),
      [
        [`${remote.absolute}/a.csv`, true],
        [`${remote.absolute}/b.csv`, true],
      ],
    );
    assert.deepStrictEqual(fs.readdirSync(local).sort(), ['a.csv', 'b.csv']);
    assert.strictEqual(fs.readFileSync(path.join(local, 'b.csv'), 'utf8'), 'b,2\n');
    assert.strictEqual((await runAsUser(server, `ls -A '${remote.absolute}'`)).stdout.toString(), 'partial.tmp\n');
  });

  it('"Only new files into a folder": unchanged logs are skipped, a log that grew is fetched again', async function () {
    const remote = await makeServerDir(server, 'example-only-new');
    await runAsUser(server, `cd '${remote.absolute}' && printf 'one\\n' > app.log && printf 'x\\n' > other.log`);
    const local = path.join(await makeTempDir('example-only-new'), 'logs');
    const example = await run('Only new files into a folder.json', `${remote.absolute}/*.log`, local);
    const counts = (msg: Msg): unknown => {
      const scp = msg.scp as { fetched: number; skipped: number };
      return [scp.fetched, scp.skipped];
    };
    assert.deepStrictEqual(counts(await example.pull()), [2, 0]);
    assert.deepStrictEqual(counts(await example.pull()), [0, 2]);
    await runAsUser(server, `printf 'two\\n' >> '${remote.absolute}/app.log'`);
    assert.deepStrictEqual(counts(await example.pull()), [1, 1]);
    assert.strictEqual(fs.readFileSync(path.join(local, 'app.log'), 'utf8'), 'one\ntwo\n');
    // The folder emptied by a later node: the record still knows both logs.
    fs.rmSync(local, { recursive: true });
    assert.deepStrictEqual(counts(await example.pull()), [0, 2]);
  });
});
