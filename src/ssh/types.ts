/**
 * The contract between src/ssh (connections) and the layers above it. Nothing here knows Node-RED:
 * the config node turns its form and credentials into an `SshEndpoint` and owns one `ChannelProvider`.
 */
import type { Algorithms, ClientChannel, SFTPWrapper } from 'ssh2';
import type { TransferError } from '../errors';

/** How the server's host key is checked. A mismatch fails with EHOSTKEY before any credential is sent. */
export type HostKeyPolicy =
  /** one or more `SHA256:<base64>` fingerprints, as `ssh-keygen -lf` prints them */
  | { kind: 'fingerprint'; fingerprints: string[] }
  /** an OpenSSH known_hosts file (hashed names, [host]:port, @revoked; @cert-authority lines refused) */
  | { kind: 'known_hosts'; file: string }
  /** trust on first use: the first key seen is written to `storeFile` and enforced from then on */
  | { kind: 'tofu'; storeFile: string }
  /** accept any key (the node keeps a warning on its status) */
  | { kind: 'any' };

export type AuthMethodName = 'agent' | 'publickey' | 'password' | 'keyboard-interactive';

export interface AuthConfig {
  password?: string;
  /** PEM/OpenSSH/PuTTY key text (line endings already normalised) */
  privateKey?: string;
  /** a key file on the Node-RED machine, read when connecting */
  privateKeyPath?: string;
  passphrase?: string;
  /** ssh-agent socket: a path, or 'env' for $SSH_AUTH_SOCK; absent = no agent */
  agent?: string;
  /** answer keyboard-interactive prompts with the password */
  keyboardInteractive?: boolean;
  /** order in which configured methods are tried; default agent, publickey, password, keyboard-interactive */
  order?: AuthMethodName[];
}

export interface SshEndpoint {
  host: string;
  port: number;
  username: string;
  auth: AuthConfig;
  hostKey: HostKeyPolicy;
  /** TCP connect + handshake + authentication */
  readyTimeoutMs: number;
  /** SSH keepalive interval, 0 = off */
  keepaliveIntervalMs: number;
  /** cipher/kex/hostkey/mac overrides for legacy devices */
  algorithms?: Algorithms;
  /** another endpoint whose connection forwards to this one */
  jumpHost?: SshEndpoint;
  /**
   * the proxy the TCP connection goes through; with a jump host, the jump host's connection uses it
   * (unless the jump host has a proxy of its own) and this one goes through the jump host
   */
  proxy?: ProxyConfig;
}

/** A SOCKS5 or HTTP CONNECT proxy between Node-RED and the device. */
export interface ProxyConfig {
  kind: 'socks5' | 'http';
  host: string;
  port: number;
  /** absent: no proxy authentication */
  username?: string;
  password?: string;
}

/**
 * A warning the connection layer raises: `message` is English for logs of library users; `code` and
 * `values` let an application (the Node-RED nodes) show it in the user's language.
 */
export interface SshWarning {
  code: 'cryptoBindingMissing' | 'cryptoBindingUnsupported' | 'hostKeyUnchecked' | 'extraConnectionFailed' | 'agentUnavailable' | 'ssh2Changed';
  values: Record<string, string>;
}

/** Where the connection layer sends warnings. */
export type WarnFunction = (message: string, warning: SshWarning) => void;

export interface PoolOptions {
  /** channels open at once on one connection (OpenSSH MaxSessions is 10) */
  maxChannelsPerConnection: number;
  /** connections opened to the host when channel requests queue */
  maxConnections: number;
  /** close a connection that carried no channel for this long */
  idleCloseMs: number;
  /** first reconnect delay after a dropped connection; doubles with jitter up to reconnectMaxMs */
  reconnectBaseMs: number;
  reconnectMaxMs: number;
}

/** What the pool is doing, as the nodes show it in their status. */
export type PoolState = 'connecting' | 'connected' | 'idle' | 'error' | 'closed';

/** The pool's counters (the config node shows them; the tests check them). */
export interface PoolStats {
  /** connections open (authenticated) now */
  connections: number;
  /** channels open or opening now, over all connections */
  channels: number;
  /** requests waiting for a channel slot */
  queued: number;
  /** the most channels ever open at once on one connection */
  maxChannelsSeen: number;
}

/** Told once, with the error `connectionError()` returns, when the connection under a lease is lost. */
export type LossListener = (error: TransferError) => void;

/** How a lease learns that the connection under its channel failed. */
export interface LeaseConnection {
  /**
   * Why the channel ended early, when it was the connection under it that failed (ECONNRESET, ETIMEDOUT when
   * the server stopped answering) or the pool was closed (EABORTED); undefined while the connection is fine.
   */
  connectionError(): TransferError | undefined;
  /**
   * Calls `listener` once with that error when the connection is lost (synchronously, at once, when it already
   * is) and returns a function that removes it. A session waits on this instead of asking connectionError()
   * over and over. SshPool's leases always have it; a provider built for a test may leave it out, and then a
   * loss is known only from connectionError().
   */
  onLost?(listener: LossListener): () => void;
}

/** An exec channel that holds one of the pool's channel slots until it closes. */
export interface ExecLease extends LeaseConnection {
  /** stdout is the readable side, stdin the writable side, stderr on `channel.stderr`; no PTY */
  readonly channel: ClientChannel;
}

/**
 * An SFTP session that holds one channel slot until `release()` (idempotent) ends it; or, when `shared`, a
 * job's use of the session its connection keeps for small jobs, which `release()` ends without closing it.
 */
export interface SftpLease extends LeaseConnection {
  readonly sftp: SFTPWrapper;
  /** the connection's kept session, used by other jobs too: close only the handles this job opened */
  readonly shared?: boolean;
  release(): void;
  /**
   * Like release(), and the session is closed for everyone (its jobs fail, the next job opens a new one):
   * for a session that left a request unanswered. Leases that are not shared may leave it out.
   */
  discard?(): void;
}

export interface SftpRequestOptions {
  signal?: AbortSignal;
  /**
   * Use the SFTP session the connection keeps open for small jobs (opened by the first such job, counted as
   * one channel slot) instead of a session of the job's own. A provider may ignore it.
   */
  shared?: boolean;
}

/** What the transfer layer needs from connections. `SshPool` (src/ssh/pool/) implements it. */
export interface ChannelProvider {
  /** "host:port" (or "user@host:port") for error messages; never contains a secret */
  readonly label: string;
  /** Opens `command` in an exec channel (a Buffer keeps raw bytes); waits in the queue when every slot is taken. */
  exec(command: string | Buffer, options?: { signal?: AbortSignal }): Promise<ExecLease>;
  sftp(options?: SftpRequestOptions): Promise<SftpLease>;
}
