/**
 * Issue 16, claims: two real Node-RED processes (red.js, this package from the working tree, each with its
 * own user directory and so its own instance id) pull one remote folder of 500 files with delete at the same
 * time, over SCP and over SFTP. Each file must be fetched exactly once (by one of them, never both), none
 * lost, none left claimed on the server.
 *   GET /pull  scp download (glob, claim, delete, into a local folder) → {fetched, error} as the response
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { makeServerDir, makeTempDir, runAsUser, sharedSshd, type SshdServer } from '../harness';
import { startNodeRedProcess, type NodeRedProcess } from '../support/node-red-process';
import { httpPullFlow } from '../support/http-pull-flow';

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');
const FILES = 500;
/** Rounds of both instances pulling at once before the test gives up (each round takes what the other left). */
const MAX_ROUNDS = 40;

function pullFlow(server: SshdServer, transport: string, pattern: string, localDir: string): object[] {
  return httpPullFlow(server, {
    idPrefix: 'c1a10000000000',
    label: 'claims',
    connection: { transport },
    download: { remotePath: pattern, remotePathType: 'str', target: 'directory', localPath: localDir, localPathType: 'str', glob: true, afterAction: 'delete', claim: true, claimTimeout: 600 },
    reply: 'msg.payload = { fetched: msg.scp.fetched };\nreturn msg;',
  });
}

describe('nodes: claims, two Node-RED processes pulling one folder with delete (real Node-RED processes, real sshd)', function () {
  this.timeout(600_000);
  let server: SshdServer;
  const reds: NodeRedProcess[] = [];

  before(async function () {
    server = await sharedSshd();
  });
  afterEach(async function () {
    await Promise.all(reds.splice(0).map((red) => red.stop()));
  });

  for (const transport of ['scp', 'sftp'] as const) {
    it(`${transport}: 500 files, each fetched exactly once, none lost, none left claimed`, async function () {
      const remote = await makeServerDir(server, `nodes-claims-${transport}`);
      await runAsUser(server, `cd '${remote.absolute}' && i=0; while [ $i -lt ${FILES} ]; do n=$(printf 'f%03d.dat' $i); printf 'content of %s\\n' $n > $n; i=$((i+1)); done`);
      const instances = await Promise.all(
        ['one', 'two'].map(async (label) => {
          const userDir = await makeTempDir(`nodes-claims-${transport}-${label}`);
          const local = path.join(userDir, 'pulled');
          fs.mkdirSync(local);
          const red = await startNodeRedProcess({ userDir, settings: { nodesDir: [PACKAGE_ROOT] } });
          reds.push(red);
          await red.deploy(pullFlow(server, transport, `${remote.absolute}/*.dat`, local));
          return { red, local };
        }),
      );
      const answers: unknown[] = [];
      for (let round = 0; round < MAX_ROUNDS; round += 1) {
        const left = await runAsUser(server, `cd '${remote.absolute}' && ls | grep -c '\\.dat$' || true`);
        if (Number(left.stdout.toString().trim()) === 0) break;
        const replies = await Promise.all(instances.map(({ red }) => red.request('GET', '/pull')));
        for (const reply of replies) {
          assert.strictEqual(reply.status, 200, reply.body);
          const body = reply.json<{ fetched?: number; error?: string; message?: string }>();
          // Another instance may have taken every file between the first look and the claims, or all of them.
          if (body.error !== undefined) assert.strictEqual(body.error, 'ENOENT', body.message);
          answers.push(body);
        }
      }
      const [one, two] = instances.map(({ local }) => fs.readdirSync(local).sort());
      const both = one.filter((name) => two.includes(name));
      assert.deepStrictEqual(both, [], 'no file fetched by both instances');
      const all = [...one, ...two].sort();
      const expected = Array.from({ length: FILES }, (_, i) => `f${String(i).padStart(3, '0')}.dat`);
      assert.deepStrictEqual(all, expected, 'every file fetched, none lost');
      for (const { local } of instances) {
        for (const name of fs.readdirSync(local)) assert.strictEqual(fs.readFileSync(path.join(local, name), 'utf8'), `content of ${name}\n`);
      }
      const leftOnServer = await runAsUser(server, `cd '${remote.absolute}' && find . -type f | sort`);
      assert.strictEqual(leftOnServer.stdout.toString(), '', 'nothing left on the server, nothing left claimed');
      process.stdout.write(`      (${transport}: instance one fetched ${one.length}, two ${two.length}; replies ${JSON.stringify(answers)})\n`);
    });
  }
});
