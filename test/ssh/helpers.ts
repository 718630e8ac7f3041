/** Shared bits of the src/ssh tests: endpoints for harness servers and a recording logger. */
import { createHook } from 'node:async_hooks';
import { SshPool } from '../../src/ssh';
import type { AuthConfig, HostKeyPolicy, SshEndpoint } from '../../src/ssh/types';
import { startFakeServer, type FakeExecRequest, type FakeServer } from '../harness';

export function endpointFor(
  server: { host: string; port: number; username: string; hostKeyFingerprints: string[] },
  auth: AuthConfig,
  hostKey?: HostKeyPolicy,
  extra: Partial<SshEndpoint> = {},
): SshEndpoint {
  return {
    host: server.host,
    port: server.port,
    username: server.username,
    auth,
    hostKey: hostKey ?? { kind: 'fingerprint', fingerprints: server.hostKeyFingerprints },
    readyTimeoutMs: 15_000,
    keepaliveIntervalMs: 0,
    ...extra,
  };
}

export interface RecordingLog {
  warn(message: string): void;
  debug(message: string): void;
  warnings: string[];
  debugs: string[];
}

export function recordingLog(): RecordingLog {
  const warnings: string[] = [];
  const debugs: string[] = [];
  return {
    warnings,
    debugs,
    warn: (message: string) => warnings.push(message),
    debug: (message: string) => debugs.push(message),
  };
}

/** Runs a command through an exec lease and collects its output and exit code. */
export async function collect(lease: { channel: import('ssh2').ClientChannel }): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const { channel } = lease;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let code: number | null = null;
  channel.on('data', (chunk: Buffer) => out.push(chunk));
  channel.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  channel.on('exit', (exitCode: number | null) => {
    code = exitCode;
  });
  // 'exit' may have fired before this function ran (reply and exit status in one socket read): ssh2
  // repeats the status on 'close'.
  await new Promise<void>((resolve) =>
    channel.once('close', (exitCode: unknown) => {
      if (code === null && typeof exitCode === 'number') code = exitCode;
      resolve();
    }),
  );
  return { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code };
}

/** Resolves with the rejection reason of a promise that must reject. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the promise to reject, it resolved');
}

/** A fake server's exec handler: 'hold' keeps its channel open without a byte; anything else prints "ok" and exits. */
export function holdOrOk({ command, channel }: FakeExecRequest): void {
  if (command === 'hold') return;
  channel.write('ok');
  channel.exit(0);
  channel.end();
}

/**
 * Registers, in the calling describe(), a fresh fake server per test (exec as `holdOrOk`; SFTP sessions that
 * answer nothing but their close) and closes the pools made with `poolFor` (one connection each) after it.
 */
export function fakeServerPerTest(): { fake(): FakeServer; poolFor(log?: RecordingLog): SshPool } {
  let fake: FakeServer | undefined;
  const pools: SshPool[] = [];
  beforeEach(async function () {
    fake = await startFakeServer(holdOrOk, { sftp: ({ sftp }) => sftp.on('end', () => sftp.end()) });
  });
  afterEach(async function () {
    for (const pool of pools.splice(0)) await pool.close();
    await fake?.close();
  });
  const current = (): FakeServer => {
    if (!fake) throw new Error('the fake server starts in beforeEach');
    return fake;
  };
  return {
    fake: current,
    poolFor(log = recordingLog()) {
      const server = current();
      const pool = new SshPool(endpointFor({ ...server, username: 'tester' }, { password: server.password }), { maxConnections: 1 }, { log });
      pools.push(pool);
      return pool;
    },
  };
}

/**
 * Records the timers (setTimeout, setInterval, unref'd or not) created from now on that are still alive:
 * not yet fired (a timeout) nor cleared. `stop()` returns the stacks of those left.
 */
export function trackTimers(): { stop(): Promise<string[]> } {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout') live.set(id, new Error('timer created').stack ?? '');
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return {
    async stop() {
      // Destroy hooks run a moment after a timer is cleared.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      hook.disable();
      return [...live.values()];
    },
  };
}
