/** The one sshd most tests share, started on first use and stopped by the mocha root hook. */
import { startSshd } from './sshd';
import type { SshdServer } from './types';

let shared: Promise<SshdServer> | undefined;
let sharedServer: SshdServer | undefined;

/**
 * One sshd per test run (default configuration). Do not stop or kill it: start your own with startSshd() for
 * that. If a test did stop it anyway, the next call brings it back on the same port.
 */
export async function sharedSshd(): Promise<SshdServer> {
  shared ??= startSshd().then((server) => {
    sharedServer = server;
    return server;
  });
  const server = await shared;
  if (!server.isRunning()) await server.restart();
  return server;
}

/** For the root hook: stop the shared server if one was started. */
export async function stopSharedSshd(): Promise<void> {
  const server = sharedServer;
  shared = undefined;
  sharedServer = undefined;
  if (server) await server.stop();
}
