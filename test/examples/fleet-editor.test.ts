/**
 * The fleet example in the real editor: Node-RED as users run it (a child process with this package in its
 * palette) runs the example as loaded from its file, and the joined result of the whole fleet appears in the
 * debug sidebar of the editor in Debian's Chromium. SCREENSHOTS=1 also writes that sidebar message to
 * docs/images/fleet-debug.png (the README's examples section shows it).
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeTempDir } from '../harness';
import { startNodeRedProcess, type NodeRedProcess } from '../support/node-red-process';
import { named, prepareFleet, readExample, SHARED_CONNECTION, type FleetRun } from './support';

// The editor's globals exist only in the page; the functions handed to page.evaluate() run there.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const RED: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const $: any;

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const SCREENSHOT = process.env.SCREENSHOTS === '1' ? path.join(PACKAGE_ROOT, 'docs', 'images', 'fleet-debug.png') : undefined;

describe('examples: the fleet example in the real editor (Node-RED process, Chromium)', function () {
  this.timeout(180_000);
  let fleet: FleetRun | undefined;
  let red: NodeRedProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;

  after(async function () {
    await browser?.close();
    await red?.stop();
    await fleet?.stop();
  });

  it("shows one line per device, in list order, in the debug sidebar once the inject node's button is clicked", async function () {
    const flow = readExample('Collect a file from a fleet of devices.json');
    fleet = await prepareFleet(flow);
    const connection = flow.find((node) => node.id === SHARED_CONNECTION.id);
    assert.ok(connection);
    connection.credentials = { privateKey: fleet.server.clientKey };
    red = await startNodeRedProcess({ userDir: await makeTempDir('example-fleet-editor'), settings: { nodesDir: [PACKAGE_ROOT] } });
    await red.deploy(flow);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
    await page.goto(red.url);
    await page.waitForFunction(() => typeof RED !== 'undefined' && RED.nodes && RED.nodes.getType('scp download') && $('#red-ui-header-shade').is(':hidden'), undefined, { timeout: 60_000 });
    const inject = named(flow, 'devices').id;
    await page.locator(`[id="${inject}"] .red-ui-flow-node-button`).click({ timeout: 30_000 });
    const debugId = named(flow, 'fleet').id;
    const message = page.locator(`.red-ui-debug-msg-node-${debugId}`).first();
    // The debug tab joins the sidebar a little after the editor is drawn, and the editor's start-up may still
    // bring its info tab back after that: ask for the debug tab until the message is what it shows.
    await page.waitForFunction(
      (id: string) => {
        if (RED.sidebar.containsTab('debug')) RED.sidebar.show('debug');
        return $(`.red-ui-debug-msg-node-${id}`).is(':visible');
      },
      debugId,
      { timeout: 60_000, polling: 250 },
    );
    // The array opens on a click of its header; its four lines are then shown one per row.
    await message.locator('.red-ui-debug-msg-object-handle').first().click({ timeout: 5_000 });
    const rows = message.locator('.red-ui-debug-msg-object-entry .red-ui-debug-msg-type-string');
    await rows.nth(fleet.expectedLines.length - 1).waitFor({ state: 'visible', timeout: 5_000 });
    const shown = (await rows.allInnerTexts()).map((text) => text.replace(/^"|"$/g, ''));
    assert.deepStrictEqual(shown, fleet.expectedLines);
    for (const [file, content] of fleet.expectedFiles) assert.strictEqual(fs.readFileSync(file, 'utf8'), content, file);

    if (SCREENSHOT) {
      // A wider sidebar (dragged, as a user would) keeps each device on one line.
      const separator = await page.locator('#red-ui-sidebar-separator').boundingBox();
      if (separator) {
        await page.mouse.move(separator.x + separator.width / 2, separator.y + separator.height / 2);
        await page.mouse.down();
        await page.mouse.move(separator.x - 300, separator.y + separator.height / 2, { steps: 8 });
        await page.mouse.up();
      }
      // The sidebar from its tab bar down to the message: where a user looks for the result.
      const clip = await page.evaluate((id: string) => {
        const sidebar = $('#red-ui-sidebar')[0].getBoundingClientRect();
        const shown = $(`.red-ui-debug-msg-node-${id}`)[0].getBoundingClientRect();
        return { x: Math.round(sidebar.left), y: Math.round(sidebar.top), width: Math.round(sidebar.width), height: Math.round(shown.bottom - sidebar.top + 12) };
      }, debugId);
      await page.screenshot({ path: SCREENSHOT, clip, animations: 'disabled' });
    }
  });

  it('importing more examples beside it (Import copy, as the editor offers for the existing connection) leaves one connection, used by all', async function () {
    for (const file of ['Route errors by code.json', 'Upload and download a payload.json']) {
      // What the editor's "Import copy" button does with an example whose connection exists already.
      await page.evaluate((nodes: unknown) => RED.view.importNodes(nodes, { generateIds: true, addFlow: false }), readExample(file));
    }
    const seen = await page.evaluate(() => {
      const connections: string[] = [];
      RED.nodes.eachConfig((node: { type: string; id: string }) => {
        if (node.type === 'scp-connection') connections.push(node.id);
      });
      const users: string[] = [];
      RED.nodes.eachNode((node: { type: string; connection?: string }) => {
        if (node.type === 'scp upload' || node.type === 'scp download') users.push(String(node.connection));
      });
      return { connections, users };
    });
    assert.deepStrictEqual(seen.connections, [SHARED_CONNECTION.id]);
    assert.strictEqual(seen.users.length, 4, 'the fleet, error and round-trip examples have four scp nodes');
    assert.ok(seen.users.every((id) => id === SHARED_CONNECTION.id), JSON.stringify(seen.users));
  });
});
