/**
 * The package as the palette manager installs it, on Node-RED 4.1 and this Node.js (20): `npm pack` on a
 * tree without dist/ (a fresh clone) must build what it ships; the tarball holds what Node-RED loads and
 * no source maps, declarations or sources; `npm install <tarball>` into a new user directory builds ssh2's
 * native binding; Node-RED started on that directory registers the four node types from the installed
 * module, and a deployed flow round-trips a payload through the real sshd.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { runAsUser, skipOrFail } from '../harness';
import { startNodeRedProcess, type NodeRedProcess } from '../support/node-red-process';
import { MISSING_URL, packageTestFlow } from './flows';
import { installedPackage, PACKAGE_JSON, packedPackage, sshBindingLoads, type Packed } from './support';
import { assertRoundTrip, assertNodeTypesLoaded, repoHasSshBinding } from './checks';
import { useServerDir, useSharedSshd } from '../support';

describe('package: npm pack, npm install <tarball>, Node-RED 4.1 on Node.js 20 (real sshd)', function () {
  this.timeout(180_000);
  let packed: Packed;
  let userDir: string;
  let installOutput: string;
  let red: NodeRedProcess | undefined;
  const server = useSharedSshd();
  const remote = useServerDir(server, 'pack-install');

  after(async function () {
    if (red) await red.stop();
  });

  it('`npm pack` on a tree without dist/ builds it and ships exactly what Node-RED loads', async function () {
    packed = await packedPackage();
    const { files } = packed;
    for (const file of Object.values(PACKAGE_JSON['node-red'].nodes)) {
      assert.ok(files.includes(file), `${file} (package.json node-red.nodes) is in the tarball`);
      assert.ok(files.includes(file.replace(/\.js$/, '.html')), `the editor file of ${file} is in the tarball`);
    }
    for (const type of ['scp-connection', 'scp-upload', 'scp-download', 'scp-remote']) {
      for (const suffix of ['json', 'html']) assert.ok(files.includes(`dist/nodes/locales/en-US/${type}.${suffix}`), `en-US ${type}.${suffix}`);
      assert.ok(files.includes(`dist/nodes/icons/${type}.svg`), `icon ${type}.svg`);
    }
    assert.ok(files.some((file) => /^examples\/.+\.json$/.test(file)), 'the example flows');
    for (const file of ['package.json', 'README.md', 'LICENSE']) assert.ok(files.includes(file), file);
    const unwanted = files.filter((file) => /\.(map|d\.ts|ts)$/.test(file) || /^(src|test|scripts|nodes|bench|\.ci)\//.test(file) || /^tsconfig/.test(file));
    assert.deepStrictEqual(unwanted, [], 'no sources, source maps, declarations, tests or build scripts');
  });

  it('installs into a new Node-RED user directory as the palette manager does, building ssh2\'s native binding', async function () {
    assert.ok(packed, 'needs the tarball of the step before');
    ({ userDir, output: installOutput } = await installedPackage('machine'));
    const installed = path.join(userDir, 'node_modules', ...PACKAGE_JSON.name.split('/'));
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')).version, PACKAGE_JSON.version);
    const dependencies = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8')).dependencies as Record<string, string>;
    assert.deepStrictEqual(Object.keys(dependencies), [PACKAGE_JSON.name], "the user directory's package.json records the package");
    const binding = await sshBindingLoads(path.join(userDir, 'node_modules'));
    if (!binding && !repoHasSshBinding()) {
      skipOrFail(this, `a C++ toolchain for ssh2's native crypto binding (python3, make, g++): neither this repo's ssh2 nor the installed one has it. npm said:\n${installOutput}`);
    }
    assert.strictEqual(binding, true, `ssh2's native binding was built on install. npm said:\n${installOutput}`);
  });

  it('Node-RED 4.1 registers scp-connection, scp upload and scp download from the installed module', async function () {
    assert.ok(userDir, 'needs the installation of the step before');
    // No nodesDir: the user directory's node_modules is the only place these nodes can come from.
    red = await startNodeRedProcess({ userDir });
    await assertNodeTypesLoaded(red);
  });

  it('a deployed flow round-trips a payload through scp upload and scp download, and a missing file reaches Catch', async function () {
    assert.ok(red, 'needs the Node-RED of the step before');
    const remoteFile = `${remote.absolute}/roundtrip.txt`;
    await red.deploy(packageTestFlow({ server, remoteFile, missingFile: `${remote.absolute}/not-there.txt` }));
    await assertRoundTrip(red, server, remoteFile, `installed from ${path.basename(packed.tarball)} on Node ${process.version}\n`);
    const missing = await red.request('GET', MISSING_URL);
    assert.strictEqual(missing.body, 'ENOENT', `the Catch node got msg.error.code (${missing.status})`);
    const onServer = await runAsUser(server, `ls -A ${remote.absolute}`);
    assert.strictEqual(onServer.stdout.toString().trim(), 'roundtrip.txt', 'no temporary file left behind');
  });
});
