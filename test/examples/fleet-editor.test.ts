/**
 * The fleet example in the real editor: Node-RED as users run it (a child process with this package in its
 * palette) runs the example as loaded from its file, and the joined result of the whole fleet appears in the
 * debug sidebar of the editor in Debian's Chromium. SCREENSHOTS=1 also writes that sidebar message to
 * docs/images/fleet-debug.png (the README's examples section shows it).
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import type { Browser, Page } from 'playwright-core';
import { makeTempDir } from '../harness';
import { clickInject, debugMessage, launchChromium, openEditor, photographDebugSidebar } from '../support/editor-page';
import { startNodeRedProcess, type NodeRedProcess } from '../support/node-red-process';
import { named, prepareFleet, readExample, SHARED_CONNECTION, type FleetRun } from './support';

// The editor's globals exist only in the page; the functions handed to page.evaluate() run there.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const RED: any;

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');
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

    browser = await launchChromium();
    page = await openEditor(browser, red.url, 'scp download', 800);
    await clickInject(page, named(flow, 'devices').id);
    const debugId = named(flow, 'fleet').id;
    const message = await debugMessage(page, debugId).catch((error: Error) => {
      // Node-RED's log names a device job that failed or a node that broke; its absence, a job still running.
      error.message += `\nNode-RED's log:\n${red?.log().slice(-4_000)}`;
      throw error;
    });
    // The array opens on a click of its header; its four lines are then shown one per row. Bounds as wide as
    // clickInject's: Chromium draws slowly on a loaded machine.
    await message.locator('.red-ui-debug-msg-object-handle').first().click({ timeout: 30_000 });
    const rows = message.locator('.red-ui-debug-msg-object-entry .red-ui-debug-msg-type-string');
    await rows.nth(fleet.expectedLines.length - 1).waitFor({ state: 'visible', timeout: 30_000 });
    const shown = (await rows.allInnerTexts()).map((text) => text.replace(/^"|"$/g, ''));
    assert.deepStrictEqual(shown, fleet.expectedLines);
    for (const [file, content] of fleet.expectedFiles) assert.strictEqual(fs.readFileSync(file, 'utf8'), content, file);

    // 300 pixels wider, the sidebar keeps each device on one line.
    if (SCREENSHOT) await photographDebugSidebar(page, debugId, SCREENSHOT, 300);
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
