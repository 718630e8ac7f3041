#!/usr/bin/env node
// `npm start`: Node-RED on 127.0.0.1:1880 with this package's nodes in the palette and its examples
// importable (Import > Examples). The user directory .node-red-data/ is created on first run and kept
// out of git; flows and credentials made while trying the nodes stay there between runs.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const root = path.resolve(__dirname, '..');
const userDir = path.join(root, '.node-red-data');
const settingsFile = path.join(userDir, 'settings.js');
fs.mkdirSync(userDir, { recursive: true });
if (!fs.existsSync(settingsFile)) {
  fs.writeFileSync(settingsFile, `// Written by scripts/start.js for local development; edit freely.
module.exports = {
    uiHost: process.env.HOST || '127.0.0.1',
    uiPort: Number(process.env.PORT) || 1880,
    flowFile: 'flows.json',
    // The package root is scanned as a Node-RED module: nodes from package.json, examples/ for Import.
    nodesDir: [${JSON.stringify(root)}],
    editorTheme: { tours: false },
    logging: { console: { level: 'info', metrics: false, audit: false } },
};
`);
}

const red = require.resolve('node-red/red.js');
const child = spawn(process.execPath, [red, '--userDir', userDir, '--settings', settingsFile, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 0));
