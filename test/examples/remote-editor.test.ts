/**
 * The clean-up example in the real editor: Node-RED as users run it (a child process with this package in
 * its palette) lists the old logs of a real sshd, and the listing appears in the debug sidebar of the editor
 * in Debian's Chromium, one entry { name, path, type, size, mode, mtime } per file. SCREENSHOTS=1 also
 * writes that sidebar message to docs/images/remote-list-debug.png.
 */
import assert from 'assert';
import path from 'path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeServerDir, makeTempDir, runAsUser, sharedSshd } from '../harness';
import { startNodeRedProcess, type NodeRedProcess } from '../support/node-red-process';
import { named, pointAt, readExample, rewrite, SHARED_CONNECTION } from './support';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const RED: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const $: any;

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const SCREENSHOT = process.env.SCREENSHOTS === '1' ? path.join(PACKAGE_ROOT, 'docs', 'images', 'remote-list-debug.png') : undefined;
const DAY = 86_400;

describe('examples: a remote listing in the debug sidebar (Node-RED process, Chromium)', function () {
  this.timeout(180_000);
  let red: NodeRedProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;

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

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(red.url);
    await page.waitForFunction(() => typeof RED !== 'undefined' && RED.nodes && RED.nodes.getType('scp remote') && $('#red-ui-header-shade').is(':hidden'), undefined, { timeout: 60_000 });
    await page.locator(`[id="${named(flow, 'every day').id}"] .red-ui-flow-node-button`).click({ timeout: 30_000 });
    const debugId = named(flow, 'old logs').id;
    const message = page.locator(`.red-ui-debug-msg-node-${debugId}`).first();
    await page.waitForFunction(
      (id: string) => {
        if (RED.sidebar.containsTab('debug')) RED.sidebar.show('debug');
        return $(`.red-ui-debug-msg-node-${id}`).is(':visible');
      },
      debugId,
      { timeout: 60_000, polling: 250 },
    );
    // The array opens on a click of its header, then its first entry, as a user looks into it.
    await message.locator('.red-ui-debug-msg-object-handle').first().click({ timeout: 5_000 });
    const entries = message.locator('.red-ui-debug-msg-object-entry .red-ui-debug-msg-object-handle');
    // The second entry first: its own handles then come after it, and the first entry stays the first handle.
    await entries.nth(1).click({ timeout: 5_000 });
    await entries.nth(0).click({ timeout: 5_000 });
    const text = await message.innerText();
    for (const expected of ['array[2]', 'pump-01.log', 'valve-07.log', '"file"', '48213', '1532', '420', String(now - 12 * DAY), String(now - 9 * DAY)]) {
      assert.ok(text.includes(expected), `the sidebar shows ${expected}:\n${text}`);
    }
    assert.ok(!text.includes('pump-02.log'), 'the log of today is not a week old');

    if (SCREENSHOT) {
      const separator = await page.locator('#red-ui-sidebar-separator').boundingBox();
      if (separator) {
        await page.mouse.move(separator.x + separator.width / 2, separator.y + separator.height / 2);
        await page.mouse.down();
        await page.mouse.move(separator.x - 250, separator.y + separator.height / 2, { steps: 8 });
        await page.mouse.up();
      }
      const clip = await page.evaluate((id: string) => {
        const sidebar = $('#red-ui-sidebar')[0].getBoundingClientRect();
        const shown = $(`.red-ui-debug-msg-node-${id}`)[0].getBoundingClientRect();
        return { x: Math.round(sidebar.left), y: Math.round(sidebar.top), width: Math.round(sidebar.width), height: Math.round(shown.bottom - sidebar.top + 12) };
      }, debugId);
      await page.screenshot({ path: SCREENSHOT, clip, animations: 'disabled' });
    }
  });
});
