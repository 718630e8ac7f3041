#!/usr/bin/env node
// Puts the editor files beside the compiled nodes, where Node-RED looks for them:
// dist/nodes/X.js needs dist/nodes/X.html, dist/nodes/icons/ and dist/nodes/locales/<lang>/X.{json,html}.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const target = path.join(root, 'dist', 'nodes');

function copyTree(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const destination = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(source, destination);
    else if (entry.isFile()) fs.copyFileSync(source, destination);
  }
}

fs.mkdirSync(target, { recursive: true });
for (const file of fs.readdirSync(path.join(root, 'nodes'))) {
  if (file.endsWith('.html')) fs.copyFileSync(path.join(root, 'nodes', file), path.join(target, file));
}
copyTree(path.join(root, 'icons'), path.join(target, 'icons'));
copyTree(path.join(root, 'locales'), path.join(target, 'locales'));
