// Over 400 lines: one connection's life (socket or jump channel, host key, authentication, close) in one class whose steps share its clean-up.
/**
 * One authenticated SSH connection: TCP socket (ours, so Nagle is off and connect errors map cleanly)
 * or a channel through a jump host, host-key decision before authentication, explicit auth order, one
 * deadline for connect + handshake + authentication, keepalive, and a close that never hangs.
 */
import * as net from 'node:net';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { codeFromSocketError, TransferError } from '../errors';
import { cleanText } from '../text';
import { authFailedError, createAuthSession, endpointLabel, prepareAuth, type AuthSession } from './auth';
import { decideHostKey, type HostKeyDecision } from './host-key';
import { gatherWrites, PacketRecycler } from './packet-recycler';
import { openFirstHop, readyTimeoutOf } from './first-hop';
import { recycleOutgoingPackets, remoteSoftwareVersion, sendKeepalive, warnSsh2Changed } from './ssh2-internals';
import type { SshEndpoint, WarnFunction } from './types';

/** How long `end()` waits for a graceful close before destroying the socket. */
const FORCE_CLOSE_MS = 2_000;
const KEEPALIVE_COUNT_MAX = 3;
/** How often checkAlive looks at the connection's traffic. */
const ALIVE_POLL_MS = 25;

/** What happened while connecting; testConnection turns it into its report. */
export interface ConnectObserver {
  reached?: boolean;
  serverVersion?: string;
  hostKey?: HostKeyDecision;
  authenticated?: boolean;
}

export interface OpenOptions {
  signal?: AbortSignal;
  warn?: WarnFunction;
  debug?: (message: string) => void;
  observer?: ConnectObserver;
  /** false: a tofu policy meeting a new host does not write the store (the editor's test button) */
  storeTofu?: boolean;
}

type CloseListener = (error: TransferError | undefined) => void;

type Ssh2Error = Error & { level?: string; code?: unknown; reason?: unknown };

export class SshConnection {
  private readonly closeListeners: CloseListener[] = [];
  private lastError: TransferError | undefined;
  private ending = false;
  private isClosed = false;
  private readonly closedPromise: Promise<void>;
  private markClosed!: () => void;
  /** when the server last sent anything (any byte on any channel is a sign of life) */
  private lastReceivedAt = Date.now();
  /** the buffers of outgoing packets, reused (see packet-recycler.ts); its stats show it works */
  readonly packets = new PacketRecycler();

  private constructor(
    readonly client: Client,
    readonly where: string,
    private readonly socket: net.Socket | ClientChannel,
    private readonly jump: SshConnection | undefined,
  ) {
    this.closedPromise = new Promise((resolve) => {
      this.markClosed = resolve;
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Called once when the connection ends; `error` is set when we did not ask for the end. */
  onClose(listener: CloseListener): void {
    if (this.isClosed) listener(this.ending ? undefined : this.dropError());
    else this.closeListeners.push(listener);
  }

  /** Graceful disconnect; destroys the socket if the server has not closed within 2 s. Never rejects. */
  end(): Promise<void> {
    if (this.isClosed) return this.closedPromise;
    if (!this.ending) {
      this.ending = true;
      try {
        this.client.end();
      } catch {
        // already half-closed: the force path below finishes the job
      }
      const force = setTimeout(() => this.destroy(), FORCE_CLOSE_MS);
      force.unref();
      void this.closedPromise.then(() => clearTimeout(force));
    }
    return this.closedPromise;
  }

  /**
   * Whether the server still answers: true as soon as anything arrives after the call (a keepalive is sent
   * to ask for it), false after `timeoutMs` of silence. A server busy sending data on other channels counts
   * as alive even when its reply queues behind that data.
   */
  checkAlive(timeoutMs: number): Promise<boolean> {
    if (this.isClosed) return Promise.resolve(false);
    const since = Date.now();
    // On a slow uplink our keepalive waits behind queued channel data and the server may send nothing for
    // seconds: the kernel taking queued bytes off the socket (the peer acknowledging them) proves life too.
    const queuedAtStart = this.socket.writableLength > 0;
    const acceptedAtStart = acceptedBytes(this.socket);
    const draining = (): boolean => queuedAtStart && acceptedAtStart !== undefined && (acceptedBytes(this.socket) ?? 0) > acceptedAtStart;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (alive: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(poll);
        resolve(alive);
      };
      const poll = setInterval(() => {
        if (this.lastReceivedAt > since || draining()) settle(true);
        else if (this.isClosed) settle(false);
      }, ALIVE_POLL_MS);
      // Decided after the I/O phase: a busy event loop must not read data still waiting in the socket as silence.
      const timer = setTimeout(() => setImmediate(() => settle(this.lastReceivedAt > since || draining())), timeoutMs);
      timer.unref();
      poll.unref();
      // With another ssh2 shape no keepalive goes out: then only traffic can prove the connection alive.
      sendKeepalive(this.client, () => settle(true));
    });
  }

  /** Tears the connection down as failed (a frozen server): close listeners receive `error`. */
  abandon(error: TransferError): void {
    if (this.isClosed) return;
    this.lastError = error;
    for (const part of [this.client, this.socket]) {
      try {
        part.destroy();
      } catch {
        // already gone
      }
    }
    this.finish();
  }

  /** Immediate teardown (close() after its grace period, aborted connects). */
  destroy(): void {
    this.ending = true;
    try {
      this.client.destroy();
      this.socket.destroy();
    } catch {
      // nothing left to destroy
    }
    // 'close' normally follows; do not let a stuck socket keep anyone waiting.
    this.finish();
  }

  private dropError(): TransferError {
    return this.lastError ?? new TransferError('ECONNRESET', `connection to ${this.where} was lost`, { host: this.where });
  }

  private finish(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const error = this.ending ? undefined : this.dropError();
    for (const listener of this.closeListeners.splice(0)) {
      try {
        listener(error);
      } catch {
        // a listener's bug must not stop the others
      }
    }
    this.markClosed();
    if (this.jump) void this.jump.end();
  }

  /**
   * Connects and authenticates. Rejects with a TransferError: EAUTH/ENOENT (credentials), EHOSTKEY,
   * ECONNREFUSED/ENOTFOUND/EHOSTUNREACH/ETIMEDOUT/ECONNRESET (network, the proxy's too), EPROXY/EPROXYAUTH
   * (the proxy refused the device or our proxy credentials), EPROTO, EABORTED.
   */
  static async open(endpoint: SshEndpoint, options: OpenOptions = {}): Promise<SshConnection> {
    const where = `${endpoint.host}:${endpoint.port}`;
    const aborted = (): TransferError => new TransferError('EABORTED', `connecting to ${endpointLabel(endpoint)} was aborted`, { host: where });
    if (options.signal?.aborted) throw aborted();
    const prepared = await prepareAuth(endpoint, options.warn);
    if (options.signal?.aborted) throw aborted();

    const startedAt = Date.now();
    const { socket, jump } = await openFirstHop(endpoint, options, (jumpEndpoint) => SshConnection.open(jumpEndpoint, { ...options, observer: undefined }));
    // ssh2 listens too, but ours is attached before anything can fail.
    socket.on('error', () => undefined);

    return new Promise<SshConnection>((resolve, reject) => {
      const client = new Client();
      const connection = new SshConnection(client, where, socket, jump);
      const auth: AuthSession = createAuthSession(prepared, endpoint.username);
      let settled = false;
      let phase: 'connect' | 'handshake' | 'authentication' = 'connect';
      let hostKeyFailure: TransferError | undefined;
      let decidedKey: Buffer | undefined;
      const notes: string[] = [];

      let failed = false;
      const fail = (error: TransferError): void => {
        if (settled) return;
        settled = true;
        failed = true;
        clearTimeout(deadline);
        options.signal?.removeEventListener('abort', onAbort);
        connection.destroy();
        reject(error);
      };
      const onAbort = (): void => fail(aborted());
      options.signal?.addEventListener('abort', onAbort, { once: true });

      const deadline = setTimeout(() => {
        fail(
          new TransferError('ETIMEDOUT', `connecting to ${endpointLabel(endpoint)} timed out after ${endpoint.readyTimeoutMs} ms`, {
            host: where,
            detail: `no answer during ${phase}`,
          }),
        );
      }, Math.max(1, readyTimeoutOf(endpoint) - (endpoint.proxy && !endpoint.jumpHost ? Date.now() - startedAt : 0)));

      const mapError = (error: Ssh2Error): TransferError | null => {
        if (hostKeyFailure) return hostKeyFailure;
        const text = cleanText(error.message ?? String(error), 200);
        switch (error.level) {
          case 'client-socket': {
            const code = codeFromSocketError(error);
            const summary: Record<string, string> = {
              ECONNREFUSED: `connection refused by ${where}`,
              ENOTFOUND: `host name ${endpoint.host} does not resolve`,
              EHOSTUNREACH: `no route to ${where}`,
              ETIMEDOUT: `connecting to ${where} timed out`,
            };
            return new TransferError(code, summary[code] ?? `connection to ${where} failed`, { host: where, detail: text });
          }
          case 'client-timeout':
            return new TransferError('ETIMEDOUT', `${where} stopped answering`, { host: where, detail: text });
          case 'client-authentication':
            // A key that cannot sign is followed by the next method; only the end of the list is final.
            if (!auth.exhausted()) {
              notes.push(text);
              return null;
            }
            return authFailedError(endpoint, auth, notes.join('; ') || undefined);
          case 'agent':
            notes.push(`ssh-agent: ${text}`);
            return null;
          case 'handshake':
            return new TransferError('EPROTO', `SSH handshake with ${where} failed`, { host: where, detail: text });
          case 'protocol':
            if (/before handshake/i.test(text)) {
              return new TransferError('ECONNRESET', `${where} closed the connection before the SSH handshake`, {
                host: where,
                detail: 'the server may be refusing connections (MaxStartups, PerSourcePenalties)',
              });
            }
            return new TransferError('EPROTO', `${where} broke the SSH protocol`, { host: where, detail: text });
          default:
            if (typeof error.code === 'number') {
              // The server sent DISCONNECT.
              if (phase === 'authentication' && !settled) {
                return authFailedError(endpoint, auth, `server disconnected: ${text}`);
              }
              return new TransferError('ECONNRESET', `${where} closed the connection`, { host: where, detail: text });
            }
            return new TransferError('ECONNRESET', `connection to ${where} failed`, { host: where, detail: text });
        }
      };

      client.on('error', (error: Ssh2Error) => {
        const mapped = mapError(error);
        if (!mapped) return;
        if (!settled) fail(mapped);
        // On a working connection a reset socket says only that the connection was lost (dropError): whether
        // the kernel reports "read ECONNRESET", "write ECONNRESET" or "write EPIPE" first is a race.
        else if (!(error.level === 'client-socket' && mapped.code === 'ECONNRESET')) connection.lastError ??= mapped;
      });
      client.on('close', () => {
        if (!settled) {
          fail(
            hostKeyFailure ??
              (auth.exhausted()
                ? authFailedError(endpoint, auth, notes.join('; ') || undefined)
                : new TransferError('ECONNRESET', `${where} closed the connection during ${phase}`, { host: where })),
          );
        }
        connection.finish();
      });
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        // Attached now, after ssh2's own reader: an earlier 'data' listener would start the flow before it.
        socket.on('data', () => {
          connection.lastReceivedAt = Date.now();
        });
        // Upload packets reuse their buffers (a jump host's channel copies what it is given anyway).
        if (socket instanceof net.Socket) {
          warnSsh2Changed(recycleOutgoingPackets(client, socket, connection.packets), options.warn ?? (() => undefined));
          gatherWrites(socket);
        }
        clearTimeout(deadline);
        options.signal?.removeEventListener('abort', onAbort);
        if (options.observer) options.observer.authenticated = true;
        resolve(connection);
      });
      client.on('handshake', () => {
        phase = 'authentication';
      });

      const hostVerifier = (key: Buffer, verify: (valid: boolean) => void): void => {
        phase = 'handshake';
        if (options.observer) {
          options.observer.reached = true;
          const version = remoteSoftwareVersion(client);
          if (version !== undefined) options.observer.serverVersion = cleanText(version, 120);
        }
        const answer = (trusted: boolean): void => {
          // The deadline may have torn the connection down while we were deciding.
          if (failed) return;
          try {
            verify(trusted);
          } catch {
            // the connection is already gone
          }
        };
        // Re-keying shows the key again: the same key stays trusted, another one never is.
        if (decidedKey) {
          answer(decidedKey.equals(key));
          return;
        }
        decideHostKey(endpoint.hostKey, key, {
          host: endpoint.host,
          port: endpoint.port,
          warn: options.warn,
          storeTofu: options.storeTofu,
        }).then(
          (decision) => {
            if (options.observer) options.observer.hostKey = decision;
            if (decision.trusted) decidedKey = Buffer.from(key);
            else hostKeyFailure = decision.error;
            answer(decision.trusted);
          },
          (error: unknown) => {
            hostKeyFailure = new TransferError('EHOSTKEY', `host key of ${where} could not be checked`, { host: where, cause: error });
            answer(false);
          },
        );
      };

      const config: ConnectConfig = {
        sock: socket as unknown as ConnectConfig['sock'],
        host: endpoint.host,
        port: endpoint.port,
        username: endpoint.username,
        // Our own deadline covers connect + handshake + authentication with a clear error.
        readyTimeout: 0,
        keepaliveInterval: endpoint.keepaliveIntervalMs > 0 ? endpoint.keepaliveIntervalMs : 0,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
        authHandler: auth.handler,
        hostVerifier,
        ...(endpoint.algorithms ? { algorithms: endpoint.algorithms } : {}),
        ...(options.debug ? { debug: options.debug } : {}),
      };
      try {
        client.connect(config);
      } catch (error) {
        fail(
          new TransferError('EINVAL', `SSH settings for ${where} are not usable`, {
            host: where,
            detail: cleanText((error as Error).message ?? String(error), 200),
          }),
        );
      }
    }).catch(async (error: unknown) => {
      if (jump) await jump.end();
      throw error;
    });
  }
}

/** Bytes of ours the kernel has taken off a TCP socket so far (unknown through a jump host's channel). */
function acceptedBytes(socket: net.Socket | ClientChannel): number | undefined {
  if (!(socket instanceof net.Socket)) return undefined;
  return socket.bytesWritten - socket.writableLength;
}
