/**
 * The editor's "Test connection" button: one connection that tries everything and reports what it
 * found, instead of failing at the first problem.
 */
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import { TransferError, type TransferErrorCode } from '../errors';
import { SshConnection, type ConnectObserver } from './connection';
import { proxyLabel } from './proxy';
import type { SshEndpoint } from './types';

export interface ConnectionReport {
  /** the TCP connection (or the jump host's forward) reached an SSH server */
  reached: boolean;
  authenticated: boolean;
  serverVersion?: string;
  hostKeyFingerprint?: string;
  hostKeyType?: string;
  hostKeyTrusted?: boolean;
  /**
   * Trust on first use has never seen this host: the test went on with the key (it is the first use's
   * key) but did not store it, so it is not trusted yet; the first real connection stores it.
   */
  hostKeyFirstUse?: boolean;
  /** null: not probed (no authenticated connection) */
  scp: boolean | null;
  sftp: boolean | null;
  /** the proxy the connection went through ("SOCKS5 proxy 10.0.0.1:1080"), when one is set */
  proxy?: string;
  error?: { code: TransferErrorCode; message: string };
}

export interface TestConnectionOptions {
  /**
   * Report an untrusted host key's type and fingerprint (so the user can pin it) instead of only the
   * refusal. Never authenticates to an untrusted server. Also: a tofu policy meeting a new host does
   * not write its store (the test is not the first use).
   */
  inspectHostKey?: boolean;
}

/** `scp -t .` answers \0 at once and writes nothing when its stdin closes without a record. */
const SCP_PROBE_COMMAND = 'scp -t .';

export async function testConnection(endpoint: SshEndpoint, options: TestConnectionOptions = {}): Promise<ConnectionReport> {
  const observer: ConnectObserver = {};
  const report: ConnectionReport = { reached: false, authenticated: false, scp: null, sftp: null };
  // With a jump host the proxy carries the first hop: the jump host's own proxy, else this one's.
  const firstHop = endpoint.jumpHost ?? endpoint;
  const proxy = firstHop.proxy ?? endpoint.proxy;
  if (proxy) report.proxy = proxyLabel(proxy);
  const fill = (): void => {
    report.reached = observer.reached === true;
    report.authenticated = observer.authenticated === true;
    if (observer.serverVersion) report.serverVersion = observer.serverVersion;
    const key = observer.hostKey;
    if (key && (key.trusted || options.inspectHostKey)) {
      report.hostKeyFingerprint = key.fingerprint;
      report.hostKeyType = key.type;
    }
    if (key) report.hostKeyTrusted = key.trusted;
    if (key?.unseen) report.hostKeyFirstUse = true;
  };

  let connection: SshConnection;
  try {
    connection = await SshConnection.open(endpoint, {
      observer,
      storeTofu: !options.inspectHostKey,
      warn: () => undefined,
    });
  } catch (error) {
    fill();
    report.error = describe(error);
    return report;
  }
  fill();
  const probeMs = Math.max(1_000, endpoint.readyTimeoutMs || 10_000);
  try {
    report.sftp = await probeSftp(connection, probeMs);
    report.scp = await probeScp(connection, probeMs);
  } catch (error) {
    report.error = describe(error);
  } finally {
    await connection.end();
  }
  return report;
}

/** The dialog names the host already (and the summary too): the message leaves out the "(host ...)". */
function describe(error: unknown): { code: TransferErrorCode; message: string } {
  if (error instanceof TransferError) {
    const path = error.path !== undefined && !error.summary.includes(error.path) ? ` (path ${error.path})` : '';
    return { code: error.code, message: `${error.summary}${path}${error.detail ? `: ${error.detail}` : ''}` };
  }
  return { code: 'EPROTO', message: 'unexpected failure while testing the connection' };
}

function probeSftp(connection: SshConnection, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (value: boolean, sftp?: SFTPWrapper): void => {
      if (sftp) {
        sftp.on('error', () => undefined);
        try {
          sftp.end();
        } catch {
          // already closed
        }
      }
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    try {
      connection.client.sftp((error, sftp) => (error ? finish(false) : finish(true, sftp)));
    } catch {
      finish(false);
    }
  });
}

/** True when the server runs an scp that speaks the protocol: its first byte as a sink is \0. */
function probeScp(connection: SshConnection, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    let channel: ClientChannel | undefined;
    const finish = (value: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (channel) {
        try {
          // Closing stdin without sending a record makes scp exit without writing anything.
          channel.end();
          channel.close();
        } catch {
          // already closed
        }
      }
      resolve(value);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    try {
      connection.client.exec(SCP_PROBE_COMMAND, (error, opened) => {
        if (error) return finish(false);
        channel = opened;
        opened.on('error', () => finish(false));
        opened.stderr.on('error', () => undefined);
        opened.stderr.resume();
        opened.once('data', (chunk: Buffer) => finish(chunk.length > 0 && chunk[0] === 0));
        opened.once('close', () => finish(false));
        // scp answers before it reads; an sftp-server (ForceCommand internal-sftp) just exits on EOF.
        opened.end();
      });
    } catch {
      finish(false);
    }
  });
}
