/**
 * Test support for the transfer engine: a ChannelProvider for the harness's sshd, and helpers to look at
 * the server's filesystem. The provider is the real SshPool when it works; until then (and as a
 * fallback while the ssh layer is being written) a minimal provider over one ssh2 Client.
 */
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { Client, type Algorithms, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { TransferError } from '../../src/errors';
import { SshPool, type SshPoolOptions } from '../../src/ssh';
import type { ChannelProvider, ExecLease, SftpLease, SftpRequestOptions } from '../../src/ssh/types';
import type { DownloadRequest, ProgressEvent, TransferContext } from '../../src/transfer/types';
import { type SshdServer, sharedSshd } from '../harness';
import { lateBound } from '../support/late';

export interface TestProvider extends ChannelProvider {
  close(): Promise<void>;
}

/** The real pool (src/ssh) to the harness's server, key auth, host key pinned by fingerprint. */
export function poolProvider(server: { host: string; port: number; username: string; clientKey: string; hostKeyFingerprints: string[] }, algorithms?: Algorithms, options: Partial<SshPoolOptions> = {}): SshPool {
  return new SshPool(
    {
      host: server.host,
      port: server.port,
      username: server.username,
      auth: { privateKey: server.clientKey },
      hostKey: { kind: 'fingerprint', fingerprints: server.hostKeyFingerprints },
      readyTimeoutMs: 20_000,
      keepaliveIntervalMs: 0,
      ...(algorithms ? { algorithms } : {}),
    },
    options,
  );
}

/** One ssh2 connection, channels opened directly (no queue): enough for sequential tests. */
export async function directProvider(
  server: Pick<SshdServer, 'host' | 'port' | 'clientKey'> & { username?: string },
  algorithms?: Record<string, string[]>,
): Promise<TestProvider> {
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({
      host: server.host,
      port: server.port,
      username: server.username ?? 'tester',
      privateKey: server.clientKey,
      readyTimeout: 20_000,
      hostVerifier: () => true,
      ...(algorithms ? { algorithms } : {}),
    });
  });
  client.on('error', () => undefined);
  // Without this the SCP ack pattern waits on Nagle's algorithm (see the protocol notes).
  (client as unknown as { _sock?: { setNoDelay?: (on: boolean) => void } })._sock?.setNoDelay?.(true);
  const label = `${server.username ?? 'tester'}@${server.host}:${server.port}`;
  return {
    label,
    exec: (command: string | Buffer) =>
      new Promise<ExecLease>((resolve, reject) => {
        client.exec(command as string, (error: Error | undefined, channel: ClientChannel) => {
          if (error) return reject(new TransferError('ECONNRESET', 'exec failed', { host: label, detail: error.message }));
          resolve({ channel, connectionError: () => undefined });
        });
      }),
    sftp: () =>
      new Promise<SftpLease>((resolve, reject) => {
        client.sftp((error: Error | undefined, sftp: SFTPWrapper) => {
          if (error) return reject(new TransferError('EPROTO', 'sftp failed', { host: label, detail: error.message }));
          sftp.on('error', () => undefined);
          let released = false;
          resolve({
            sftp,
            connectionError: () => undefined,
            release: () => {
              if (released) return;
              released = true;
              sftp.end();
            },
          });
        });
      }),
    close: async () => {
      client.end();
    },
  };
}

export function context(channels: ChannelProvider, overrides: Partial<TransferContext> = {}): TransferContext {
  return { channels, transport: 'scp', idleTimeoutMs: 20_000, ...overrides };
}

export function randomData(size: number): Buffer {
  return crypto.randomBytes(size);
}

export function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** Shell single-quoting for the test's own server-side checks (independent of the code under test). */
export function sq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export const DEFAULT_LIMITS = {
  maxFileBytes: Number.MAX_SAFE_INTEGER,
  maxTotalBytes: Number.MAX_SAFE_INTEGER,
  maxFiles: 100_000,
  maxDepth: 64,
};

/** A plain single-file download of `remotePath` into a buffer of at most `maxBytes` (no glob, no preserve, overwrite). */
export function bufferDownload(remotePath: string, maxBytes: number): DownloadRequest {
  return { ...directoryDownload(remotePath, '', { overwrite: 'overwrite' }), target: { kind: 'buffer', maxBytes } };
}

/**
 * A download of `remotePath` into the local directory `path`: one file, no glob, no preserve, overwrite
 * 'fail', DEFAULT_LIMITS, unless `options` says otherwise.
 */
export function directoryDownload(remotePath: string, path: string, options: Partial<Omit<DownloadRequest, 'remotePath' | 'target'>> = {}): DownloadRequest {
  return {
    remotePath,
    target: { kind: 'directory', path },
    recursive: false,
    glob: false,
    preserve: false,
    overwrite: 'fail',
    limits: DEFAULT_LIMITS,
    ...options,
  };
}

/** Awaits a transfer that must fail and returns its TransferError (anything else fails the test). */
export async function transferFailure(promise: Promise<unknown>): Promise<TransferError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TransferError, `expected a TransferError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the transfer to fail');
}

/** A progress listener that kills `server` (SIGKILL, sessions too) once a file has moved `bytes`. */
export function killAt(server: Pick<SshdServer, 'kill'>, bytes: number): (event: ProgressEvent) => void {
  let killed = false;
  return (event) => {
    if (!killed && event.type === 'bytes' && event.fileBytes >= bytes) {
      killed = true;
      void server.kill();
    }
  };
}

/** What useSharedPool hands a describe block: filled in by its before hook, so read it inside tests only. */
export interface SharedPool {
  server: SshdServer;
  channels: SshPool;
}

/** A real pool to `server` (a fixture's stand-in is fine) for the enclosing describe: made in `before`, closed in `after`. */
export function usePoolTo(server: SshdServer): SshPool {
  const pool = lateBound<SshPool>('the pool');
  before(function () {
    pool.set(poolProvider(server));
  });
  after(async function () {
    await pool.current()?.close();
    pool.set(undefined);
  });
  return pool.value;
}

/** A provider that forwards to `inner` and counts what it is asked for (exec channels, SFTP sessions), to prove where jobs go. */
export function countingProvider(inner: ChannelProvider): ChannelProvider & { execs: number; sftps: number } {
  const wrapper = {
    label: inner.label,
    execs: 0,
    sftps: 0,
    exec: (command: string | Buffer, options?: { signal?: AbortSignal }) => {
      wrapper.execs += 1;
      return inner.exec(command, options);
    },
    sftp: (options?: SftpRequestOptions) => {
      wrapper.sftps += 1;
      return inner.sftp(options);
    },
  };
  return wrapper;
}

/**
 * Registers before/after hooks on the enclosing describe: the run's shared sshd and a real pool to it,
 * closed when the block ends.
 */
export function useSharedPool(): SharedPool {
  const shared = {} as SharedPool;
  before(async function () {
    shared.server = await sharedSshd();
    shared.channels = poolProvider(shared.server);
  });
  after(async () => shared.channels?.close());
  return shared;
}
