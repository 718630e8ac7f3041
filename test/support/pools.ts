/**
 * A real sshd and a pool logged in to it as one mocha fixture, for describes that only talk through the pool:
 * the pool is made in `before` once the server runs and closed in `after` before the server stops.
 *
 *   const { server, pool } = useSshdWithPool(() => startSshd({ noSftp: true }));   // stopped in `after`
 *   const { server, pool } = useSshdWithPool(sharedSshd, { shared: true });        // left running
 */
import type { SshPool } from '../../src/ssh';
import type { SshdServer } from '../harness';
import { poolProvider } from '../transfer/support';
import { lateBound } from './late';

export interface SshdWithPool {
  server: SshdServer;
  /** poolProvider(server): the harness client key, host key pinned */
  pool: SshPool;
}

export function useSshdWithPool(start: (this: Mocha.Context) => Promise<SshdServer>, options: { shared?: boolean } = {}): SshdWithPool {
  const server = lateBound<SshdServer>('the sshd of this describe');
  const pool = lateBound<SshPool>('the pool of this describe');
  before(async function () {
    const started = await start.call(this);
    server.set(started);
    pool.set(poolProvider(started));
  });
  after(async function () {
    await pool.current()?.close();
    if (!options.shared) await server.current()?.stop();
    pool.set(undefined);
    server.set(undefined);
  });
  return { server: server.value, pool: pool.value };
}
