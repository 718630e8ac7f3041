#!/usr/bin/env node
// Removes build output folders given as arguments, so that a file deleted from src/ or test/ does not
// live on as a stale compiled copy (tsc never deletes what it emitted before).
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
for (const folder of process.argv.slice(2)) {
  const target = path.resolve(root, folder);
  if (path.dirname(target) !== root) throw new Error(`refusing to clean ${folder}: not a top-level folder`);
  fs.rmSync(target, { recursive: true, force: true });
}
