/**
 * The Node-RED editor in Debian's Chromium, as the example tests drive it: open the editor of a running
 * Node-RED, click an inject node's button, wait for a debug node's message in the sidebar and, for the
 * README's pictures, photograph the sidebar down to that message.
 */
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

// The editor's globals exist only in the page; the functions handed to page.evaluate() run there.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const RED: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const $: any;

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** The ids of the debug nodes whose messages reached each page over the editor's websocket (see debugMessage). */
const debugFramesSeen = new WeakMap<Page, Set<string>>();

/** A new page of `browser` with the editor at `url`, loaded: `nodeType` is in the palette, the start-up shade gone. */
export async function openEditor(browser: Browser, url: string, nodeType: string, height: number): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height } });
  const seen = new Set<string>();
  debugFramesSeen.set(page, seen);
  page.on('websocket', (socket) =>
    socket.on('framereceived', ({ payload }) => {
      for (const match of String(payload).matchAll(/"topic":"debug","data":\{"id":"([^"]+)"/g)) seen.add(match[1] as string);
    }),
  );
  await page.goto(url);
  await page.waitForFunction((type: string) => typeof RED !== 'undefined' && RED.nodes && RED.nodes.getType(type) && $('#red-ui-header-shade').is(':hidden'), nodeType, { timeout: 60_000 });
  return page;
}

/** Clicks the button of the inject node with this id, as a user does. */
export async function clickInject(page: Page, injectId: string): Promise<void> {
  await page.locator(`[id="${injectId}"] .red-ui-flow-node-button`).click({ timeout: 30_000 });
}

/**
 * The first message of the debug node `debugId` in the sidebar, once it shows. When it does not, the error
 * says whether the message reached the page at all (the flow never sent it, or the sidebar did not show it).
 */
export async function debugMessage(page: Page, debugId: string): Promise<Locator> {
  // The debug tab joins the sidebar a little after the editor is drawn, and the editor's start-up may still
  // bring its info tab back after that: ask for the debug tab until the message is what it shows.
  try {
    await page.waitForFunction(
      (id: string) => {
        if (RED.sidebar.containsTab('debug')) RED.sidebar.show('debug');
        return $(`.red-ui-debug-msg-node-${id}`).is(':visible');
      },
      debugId,
      { timeout: 60_000, polling: 250 },
    );
  } catch (error) {
    const seen = debugFramesSeen.get(page);
    const arrived = seen === undefined ? 'unknown (page not opened by openEditor)' : seen.has(debugId) ? 'yes' : 'no';
    (error as Error).message += `\nthe debug node's message reached the page over the editor's websocket: ${arrived}`;
    throw error;
  }
  return page.locator(`.red-ui-debug-msg-node-${debugId}`).first();
}

/**
 * Writes to `file` a picture of the sidebar from its tab bar down to the message of `debugId`: where a user
 * looks for the result. The sidebar is first widened by `widenBy` pixels (dragged, as a user would).
 */
export async function photographDebugSidebar(page: Page, debugId: string, file: string, widenBy: number): Promise<void> {
  const separator = await page.locator('#red-ui-sidebar-separator').boundingBox();
  if (separator) {
    await page.mouse.move(separator.x + separator.width / 2, separator.y + separator.height / 2);
    await page.mouse.down();
    await page.mouse.move(separator.x - widenBy, separator.y + separator.height / 2, { steps: 8 });
    await page.mouse.up();
  }
  const clip = await page.evaluate((id: string) => {
    const sidebar = $('#red-ui-sidebar')[0].getBoundingClientRect();
    const shown = $(`.red-ui-debug-msg-node-${id}`)[0].getBoundingClientRect();
    return { x: Math.round(sidebar.left), y: Math.round(sidebar.top), width: Math.round(sidebar.width), height: Math.round(shown.bottom - sidebar.top + 12) };
  }, debugId);
  await page.screenshot({ path: file, clip, animations: 'disabled' });
}
