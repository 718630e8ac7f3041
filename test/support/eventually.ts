/**
 * The one poller of the tests: for a state that no event announces (a file appearing on the server, a pool
 * count going back to zero, a process gone). Where an event exists, wait on the event instead.
 */

export interface EventuallyOptions {
  /** the bound: past it the wait fails, naming what never became true (default 30 s, well under mocha's 60 s) */
  limitMs?: number;
  /** how often to look (default 20 ms) */
  everyMs?: number;
  /** what to add to the failure, e.g. the last state seen or a server's log */
  context?: () => string;
}

const DEFAULT_LIMIT_MS = 30_000;
const DEFAULT_EVERY_MS = 20;

/**
 * Resolves with the first truthy value `check` returns; after the bound, fails with
 * "<what> never became true within <n> ms". The bound is a guard against a hang, never an assertion on speed.
 */
export async function eventually<T>(what: string, check: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<NonNullable<T>> {
  const limitMs = options.limitMs ?? DEFAULT_LIMIT_MS;
  const end = Date.now() + limitMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > end) {
      const context = options.context ? `; ${options.context()}` : '';
      throw new Error(`${what} never became true within ${limitMs} ms${context}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? DEFAULT_EVERY_MS));
  }
}
