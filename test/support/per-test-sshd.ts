/**
 * Sshds a test starts for itself, to stop, kill or replace them (tofu on a reused port, a dying server): each
 * one is stopped after that test, whatever became of it (stopping a stopped server does nothing).
 */
import { startSshd, type SshdOptions, type SshdServer } from '../harness';

/** Call inside a describe; the returned function starts an sshd that is stopped in `afterEach`. */
export function useSshdPerTest(): (options?: SshdOptions) => Promise<SshdServer> {
  const started: SshdServer[] = [];
  afterEach(async function () {
    for (const server of started.splice(0)) await server.stop();
  });
  return async (options) => {
    const server = await startSshd(options);
    started.push(server);
    return server;
  };
}
