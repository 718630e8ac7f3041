/**
 * The clean-up example in the real editor: Node-RED as users run it (a child process with this package in
 * its palette) lists the old logs of a real sshd, and the listing appears in the debug sidebar of the editor
 * in Debian's Chromium, one entry { name, path, type, size, mode, mtime } per file. SCREENSHOTS=1 also
 * writes that sidebar message to docs/images/remote-list-debug.png.
 */
import assert from 'assert';
import path from 'path';
import type { Browser } from 'playwright-core';
import { makeServerDir, makeTempDir, runAsUser, sharedSshd } from '../harness';
import { clickInject, debugMessage, launchChromium, openEditor, photographDebugSidebar } from '../support/editor-page';
import { startNodeRedProcess, type NodeRedProcess } from '../support/node-red-process';
import { named, pointAt, readExample, rewrite, SHARED_CONNECTION } from './support';

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');
const SCREENSHOT = process.env.SCREENSHOTS === '1' ? path.join(PACKAGE_ROOT, 'docs', 'images', 'remote-list-debug.png') : undefined;
const DAY = 86_400;

describe('examples: a remote listing in the debug sidebar (Node-RED process, Chromium)', function () {
  this.timeout(180_000);
  let red: NodeRedProcess | undefined;
  let browser: Browser | undefined;

  after(async function () {
    await browser?.close();
    await red?.stop();
  });

  it('shows the old logs the scp remote node listed, each entry with name, path, type, size, mode and mtime', async function () {
    const server = await sharedSshd();
    const dir = await makeServerDir(server, 'example-remote-editor');
    const now = Math.floor(Date.now() / 1000);
    const made = await runAsUser(
      server,
      `cd '${dir.relative}' && head -c 48213 /dev/zero > pump-01.log && head -c 1532 /dev/zero > valve-07.log && printf today > pump-02.log && ` +
        `touch -d @${now - 12 * DAY} pump-01.log && touch -d @${now - 9 * DAY} valve-07.log`,
    );
    assert.strictEqual(made.code, 0, made.stderr.toString());
    const flow = readExample('Clean up old files on a device.json');
    pointAt(flow, server);
    rewrite(flow, 'every day', 'remotePath', dir.absolute);
    // Only the listing: the delete stays unwired here, so the picture's files are still there afterwards.
    named(flow, 'any?').wires = [[]];
    const connection = flow.find((node) => node.id === SHARED_CONNECTION.id);
    assert.ok(connection);
    connection.credentials = { privateKey: server.clientKey };
    red = await startNodeRedProcess({ userDir: await makeTempDir('example-remote-editor'), settings: { nodesDir: [PACKAGE_ROOT] } });
    await red.deploy(flow);

    browser = await launchChromium();
    const page = await openEditor(browser, red.url, 'scp remote', 900);
    await clickInject(page, named(flow, 'every day').id);
    const debugId = named(flow, 'old logs').id;
    const message = await debugMessage(page, debugId);
    // The array opens on a click of its header, then its first entry, as a user looks into it.
    await message.locator('.red-ui-debug-msg-object-handle').first().click({ timeout: 30_000 });
    const entries = message.locator('.red-ui-debug-msg-object-entry .red-ui-debug-msg-object-handle');
    // The second entry first: its own handles then come after it, and the first entry stays the first handle.
    await entries.nth(1).click({ timeout: 30_000 });
    await entries.nth(0).click({ timeout: 30_000 });
    const text = await message.innerText();
    for (const expected of ['array[2]', 'pump-01.log', 'valve-07.log', '"file"', '48213', '1532', '420', String(now - 12 * DAY), String(now - 9 * DAY)]) {
      assert.ok(text.includes(expected), `the sidebar shows ${expected}:\n${text}`);
    }
    assert.ok(!text.includes('pump-02.log'), 'the log of today is not a week old');

    if (SCREENSHOT) await photographDebugSidebar(page, debugId, SCREENSHOT, 250);
  });
});
