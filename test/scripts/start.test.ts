/**
 * `npm start` (scripts/start.js) gives a new user a clean editor: no telemetry consent prompt (with its
 * update check) and no fetch of the online palette catalogue, on a first start and also with a
 * .node-red-data/settings.js written by an earlier version of the script. The script runs from a copy in a
 * temp folder (it keeps its user directory beside itself), with this repo's node_modules linked.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { makeTempDir } from '../harness';
import { freePort, launchNodeRed, type NodeRedProcess } from '../support/node-red-process';

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

interface EditorSettings {
  telemetryEnabled?: boolean;
  editorTheme?: { tours?: boolean; palette?: { catalogues?: unknown } };
}

async function startScriptCopy(prepare: (userDir: string, port: number) => void): Promise<{ red: NodeRedProcess; settingsFile: string }> {
  const root = await makeTempDir('npm-start');
  fs.mkdirSync(path.join(root, 'scripts'));
  fs.copyFileSync(path.join(PACKAGE_ROOT, 'scripts', 'start.js'), path.join(root, 'scripts', 'start.js'));
  fs.symlinkSync(path.join(PACKAGE_ROOT, 'node_modules'), path.join(root, 'node_modules'));
  const userDir = path.join(root, '.node-red-data');
  const port = await freePort();
  prepare(userDir, port);
  const red = await launchNodeRed({ args: [path.join(root, 'scripts', 'start.js')], cwd: root, env: { PORT: String(port), HOST: '127.0.0.1' }, port, userDir });
  return { red, settingsFile: path.join(userDir, 'settings.js') };
}

/** What the editor is told at load: the consent prompt shows when telemetryEnabled is undefined. */
async function editorSettings(red: NodeRedProcess): Promise<EditorSettings> {
  const answer = await red.request('GET', '/settings', undefined, { Accept: 'application/json' });
  assert.strictEqual(answer.status, 200, answer.body);
  return answer.json<EditorSettings>();
}

function assertQuietEditor(settings: EditorSettings): void {
  assert.deepStrictEqual(
    { telemetryEnabled: settings.telemetryEnabled, tours: settings.editorTheme?.tours, catalogues: settings.editorTheme?.palette?.catalogues },
    { telemetryEnabled: false, tours: false, catalogues: [] },
  );
}

describe('npm start: a clean editor for a new user', function () {
  this.timeout(60_000);
  let red: NodeRedProcess | undefined;

  afterEach(async function () {
    if (red) await red.stop();
    red = undefined;
  });

  it('a first start writes settings with no consent prompt, no update check and no catalogue fetch', async function () {
    const started = await startScriptCopy(() => undefined);
    red = started.red;
    assertQuietEditor(await editorSettings(red));
    const written = fs.readFileSync(started.settingsFile, 'utf8');
    assert.match(written, /telemetry: \{ enabled: false, updateNotification: false \}/, 'the settings file says so, for the developer to change');
    assert.match(written, /catalogues: \[\]/);
  });

  it('settings.js from an earlier `npm start` gets the same quiet defaults, and is left as it was', async function () {
    let before = '';
    const started = await startScriptCopy((userDir, port) => {
      fs.mkdirSync(userDir);
      before = `module.exports = {
    uiHost: '127.0.0.1',
    uiPort: ${port},
    flowFile: 'flows.json',
    editorTheme: { tours: false },
    logging: { console: { level: 'info', metrics: false, audit: false } },
};
`;
      fs.writeFileSync(path.join(userDir, 'settings.js'), before);
    });
    red = started.red;
    assertQuietEditor(await editorSettings(red));
    assert.strictEqual(fs.readFileSync(started.settingsFile, 'utf8'), before);
  });

  it('what the developer set in settings.js wins', async function () {
    const started = await startScriptCopy((userDir, port) => {
      fs.mkdirSync(userDir);
      fs.writeFileSync(
        path.join(userDir, 'settings.js'),
        `module.exports = { uiHost: '127.0.0.1', uiPort: ${port}, flowFile: 'flows.json', editorTheme: { tours: false, palette: { catalogues: ['http://127.0.0.1:9/catalogue.json'] } } };\n`,
      );
    });
    red = started.red;
    const settings = await editorSettings(red);
    assert.deepStrictEqual(settings.editorTheme?.palette?.catalogues, ['http://127.0.0.1:9/catalogue.json']);
    assert.strictEqual(settings.telemetryEnabled, false);
  });
});
