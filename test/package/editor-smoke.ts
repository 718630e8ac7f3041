/**
 * The editor dialogs of the deployed package flow, in Chromium: the package matrix's check that each Node-RED
 * on each Node.js line serves the installed module's editor files and catalogs. (test/editor goes through every
 * dialog in depth on the working tree; this is the smoke test of what was installed from the tarball.)
 */
import assert from 'assert';
import fs from 'fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CONNECTION_ID, DOWNLOAD_ID, UPLOAD_ID } from './flows';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

// The editor's globals exist only in the page; the functions handed to page.evaluate() run there.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const RED: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const $: any;

export function chromiumPresent(): boolean {
  return fs.existsSync(CHROMIUM);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** The open tray's visible text and its placeholders and titles: catalog keys there are texts not translated. */
function catalogKeysInTray(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const tray = $('.red-ui-tray').last();
    const texts: string[] = [tray.text()];
    tray.find('[placeholder],[title]').each((_index: number, element: { getAttribute(name: string): string | null }) => {
      texts.push(element.getAttribute('placeholder') ?? '', element.getAttribute('title') ?? '');
    });
    return texts.flatMap((text) => text.match(/\bscp-(?:connection|upload|download)\.[\w.]+/g) ?? []);
  });
}

/**
 * Opens the editor of the Node-RED at `url` (the package flow deployed) in a new page of `browser` and opens
 * the scp upload, scp download and scp-connection dialogs: each shows its fields, no untranslated text, and
 * the page logs no error.
 */
export async function assertDialogsOpen(browser: Browser, url: string): Promise<void> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 950 } });
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  try {
    await page.goto(url);
    // Loaded: the deployed connection is known and the start-up shade is gone.
    await page.waitForFunction((id) => typeof RED !== 'undefined' && RED.nodes?.node?.(id) && $('#red-ui-header-shade').is(':hidden'), CONNECTION_ID, { timeout: 30_000 });
    for (const id of [UPLOAD_ID, DOWNLOAD_ID]) {
      await page.evaluate((nodeId) => RED.editor.edit(RED.nodes.node(nodeId)), id);
      // The path's typed input is built by the dialog's oneditprepare (the original input stays hidden).
      await page.locator('.red-ui-tray .red-ui-typedInput-container').first().waitFor({ state: 'visible' });
      assert.strictEqual(await page.inputValue('#node-input-remotePath'), await page.evaluate((nodeId) => String(RED.nodes.node(nodeId).remotePath), id), 'the dialog shows the deployed path');
      assert.deepStrictEqual(await catalogKeysInTray(page), [], `dialog of node ${id}: untranslated texts`);
      await page.click('#node-dialog-cancel');
      await page.locator('#node-input-remotePath').waitFor({ state: 'detached' });
    }
    await page.evaluate((nodeId) => RED.editor.editConfig('', 'scp-connection', nodeId), CONNECTION_ID);
    await page.locator('#node-config-input-host').waitFor({ state: 'visible' });
    assert.strictEqual(await page.inputValue('#node-config-input-host'), '127.0.0.1', 'the connection dialog shows the deployed host');
    assert.deepStrictEqual(await catalogKeysInTray(page), [], 'scp-connection dialog: untranslated texts');
    await page.click('#node-config-dialog-cancel');
    await page.locator('#node-config-input-host').waitFor({ state: 'detached' });
    assert.deepStrictEqual(errors, [], 'no errors in the editor');
  } finally {
    await page.close();
  }
}
