#!/usr/bin/env node
// `npm start`: Node-RED on 127.0.0.1:1880 with this package's nodes in the palette and its examples
// importable (Import > Examples). The user directory .node-red-data/ is created on first run and kept
// out of git; flows and credentials made while trying the nodes stay there between runs.
// A new user lands in a clean editor: no welcome tour, no telemetry/update-check consent prompt and no
// fetch of the palette manager's online catalogue.
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
    // No fetch of the online palette catalogue (the palette manager's Install tab lists nothing):
    // delete 'palette' here to browse it.
    editorTheme: { tours: false, palette: { catalogues: [] } },
    // No consent prompt: telemetry and the update check stay off (the user settings dialog can turn them on).
    telemetry: { enabled: false, updateNotification: false },
    logging: { console: { level: 'info', metrics: false, audit: false } },
};
`);
}

// A settings.js written by an earlier version of this script lacks what keeps the editor quiet: supply
// what it leaves unset (what it sets, the developer chose).
const quietDefaults = [
  ['editorTheme.palette.catalogues', []],
  ['telemetry.enabled', false],
  ['telemetry.updateNotification', false],
];
const settings = require(settingsFile);
const unset = (key) => key.split('.').reduce((value, part) => (value == null ? undefined : value[part]), settings) === undefined;
const defines = quietDefaults.filter(([key]) => unset(key)).flatMap(([key, value]) => ['--define', `${key}=${JSON.stringify(value)}`]);

const red = require.resolve('node-red/red.js');
const child = spawn(process.execPath, [red, '--userDir', userDir, '--settings', settingsFile, ...defines, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 0));
