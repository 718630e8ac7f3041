/**
 * Mocha fixtures for the servers a describe block needs, in the style of `useNodeRed`: call one inside a
 * describe, get the object back at once, and the before/after hooks that start and stop it come for free.
 *
 *   const server = useOwnSshd({ config: ['RekeyLimit 64K'] });   // an sshd of this describe's own
 *   const { server, pool } = useScriptedScpServer();            // server.script = async (side) => ...
 *   const { server, pool } = useScriptedSftpServer();           // server.tree = listedTree({...})
 */
import { SshPool } from '../../src/ssh';
import { makeServerDir, needThrowawayUser, sharedSshd, startFakeServer, startSshd, type FakeExecRequest, type FakeServer, type SshdOptions, type SshdServer } from '../harness';
import { directProvider, type TestProvider } from '../transfer/support';
import { poolForFake, startHostileServer, type HostileServer } from '../hostile/support';
import { startScriptedSftp, type ScriptedSftp } from '../hostile/sftp-server';
import { lateBound } from './late';

export interface OwnSshdOptions extends SshdOptions {
  /** skip (locally) or fail (CI) unless the throwaway user exists: password or permission tests */
  throwawayUser?: boolean;
  /** restart the server after each test that left it killed or stopped (kill/restart tests) */
  restartAfterEach?: boolean;
}

/** An OpenSSH sshd for this describe only (stopped in `after`): for tests that stop, kill or reconfigure it. */
export function useOwnSshd(options: OwnSshdOptions = {}): SshdServer {
  const { throwawayUser, restartAfterEach, ...sshdOptions } = options;
  const server = lateBound<SshdServer>('the own sshd');
  before(async function () {
    if (throwawayUser) needThrowawayUser(this);
    server.set(await startSshd(sshdOptions));
  });
  if (restartAfterEach) {
    afterEach(async function () {
      // A failed test may leave the server killed: the next one needs it running.
      const current = server.current();
      if (current && !current.isRunning()) await current.restart();
    });
  }
  after(async function () {
    await server.current()?.stop();
    server.set(undefined);
  });
  return server.value;
}

/** The run's shared sshd (never stopped or killed by a test), with the throwaway-user check when asked. */
export function useSharedSshd(options: { throwawayUser?: boolean } = {}): SshdServer {
  const server = lateBound<SshdServer>('the shared sshd');
  before(async function () {
    if (options.throwawayUser) needThrowawayUser(this);
    server.set(await sharedSshd());
  });
  return server.value;
}

export interface Scripted<Server> {
  server: Server;
  /** a pool logged in to the fake as its one user, host key pinned, no keepalives; closed in `after` */
  pool: SshPool;
}

function useScripted<Server extends { fake: { close(): Promise<void> } }>(what: string, start: () => Promise<Server>): Scripted<Server> {
  const server = lateBound<Server>(what);
  const pool = lateBound<SshPool>(`the pool of ${what}`);
  before(async function () {
    const started = await start();
    server.set(started);
    pool.set(poolForFake((started as unknown as { fake: Parameters<typeof poolForFake>[0] }).fake));
  });
  after(async function () {
    await pool.current()?.close();
    await server.current()?.fake.close();
    pool.set(undefined);
    server.set(undefined);
  });
  return { server: server.value, pool: pool.value };
}

/** A fake ssh2 server whose `scp -f` exec channels run `server.script` (downloads of OK_PATH succeed). */
export function useScriptedScpServer(): Scripted<HostileServer> {
  return useScripted('the scripted SCP server', startHostileServer);
}

/** A fake ssh2 server whose sftp subsystem answers from `server.tree` (exec answers "scp: not found"). */
export function useScriptedSftpServer(): Scripted<ScriptedSftp> {
  return useScripted('the scripted SFTP server', () => startScriptedSftp());
}

/** A fresh directory in the server user's home for this describe (made in `before`): `{ relative, absolute }`. */
export function useServerDir(server: SshdServer, prefix: string): { relative: string; absolute: string } {
  const dir = lateBound<{ relative: string; absolute: string }>(`the server directory "${prefix}"`);
  before(async function () {
    dir.set(await makeServerDir(server, prefix));
  });
  return dir.value;
}

export interface ScriptedExec {
  /** what the fake does with each exec request; tests set it before they act */
  behaviour: (request: FakeExecRequest) => void;
}

/**
 * A fake ssh2 server whose exec requests go to `script.behaviour`, and one direct connection to it
 * (`channels`, closed in `after`): for transfer tests against a server that misbehaves on purpose.
 */
export function useFakeExecServer(): { fake: FakeServer; channels: TestProvider; script: ScriptedExec } {
  const fake = lateBound<FakeServer>('the fake exec server');
  const channels = lateBound<TestProvider>('the connection to the fake exec server');
  const script: ScriptedExec = { behaviour: () => undefined };
  before(async function () {
    const started = await startFakeServer((request) => script.behaviour(request));
    fake.set(started);
    channels.set(await directProvider(started));
  });
  after(async function () {
    await channels.current()?.close();
    await fake.current()?.close();
    channels.set(undefined);
    fake.set(undefined);
  });
  return { fake: fake.value, channels: channels.value, script };
}
