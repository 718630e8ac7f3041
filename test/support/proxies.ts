/** Starting the harness's real proxies (test/harness/proxies.ts) from a `before` hook. */
import { skipOrFail, type ProxyServer } from '../harness';

/** The proxy `start` makes; when it cannot start, a skip (locally) or a failure (CI) naming `what` and why. */
export async function startedProxy(ctx: Mocha.Context, what: string, start: () => Promise<ProxyServer>): Promise<ProxyServer> {
  try {
    return await start();
  } catch (error) {
    return skipOrFail(ctx, `${what}: ${(error as Error).message}`);
  }
}
