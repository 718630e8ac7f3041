/**
 * SshPool: one per config node. Connects lazily, shares connections between requests, caps channels per
 * connection (exec and SFTP alike), queues FIFO beyond the cap, opens more connections under load,
 * closes idle ones, reconnects after drops, and refuses to hammer a server that refused us.
 *
 * Failure rules (the reason they exist: OpenSSH's MaxStartups and PerSourcePenalties punish storms):
 * - EAUTH / EHOSTKEY: never retried automatically. The pool remembers the error and every request fails
 *   with it at once, without touching the network, for `authRetryMs` (30 s). The first request after that
 *   makes ONE new attempt; if it fails again the cool-down starts over. So at most one login attempt per
 *   30 s per pool, whatever the message rate, and a fixed server is picked up within 30 s (a redeploy,
 *   which builds a new pool, at once).
 * - Network failures (refused, unreachable, timed out, closed before the handshake): after a dropped
 *   connection the next request reconnects at once (a message after an sshd restart succeeds). After N
 *   consecutive failed connects the next attempt waits reconnectBaseMs * 2^(N-1) (50..100 % jitter, capped
 *   at reconnectMaxMs); requests arriving meanwhile wait in the queue (abortable) and share that attempt's
 *   outcome. So a server that is down sees at most one connect per back-off period.
 * - Errors in the local configuration (missing key file, wrong passphrase) are re-checked on every
 *   request: they cost the server nothing.
 */
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import { TransferError } from '../errors';
import { cleanText } from '../text';
import { endpointLabel, isLocalAuthError } from './auth';
import { SshConnection } from './connection';
import { cryptoBindingAvailable } from './crypto-binding';
import { channelShapeProblems, channelState, onChannelState, reportShapeProblems, sftpShapeProblems, ssh2ShapeProblems } from './ssh2-internals';
import type { ChannelProvider, ExecLease, PoolOptions, SftpLease, SshEndpoint, SshWarning, WarnFunction } from './types';

export type PoolState = 'connecting' | 'connected' | 'idle' | 'error' | 'closed';

export interface PoolHooks {
  onState?(state: PoolState, detail?: TransferError): void;
  log?: { warn: WarnFunction; debug?(msg: string): void };
}

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

/** PoolOptions plus the pool's own tuning knobs (all optional for callers). */
export interface SshPoolOptions extends PoolOptions {
  /** after EAUTH/EHOSTKEY, requests fail fast for this long before one new attempt (default 30 s) */
  authRetryMs: number;
  /** how often one request re-queues after the server refused a channel ("open failed") */
  maxOpenRetries: number;
}

/** 8 channels per connection, 2 connections, idle close after 60 s, reconnect back-off 1 s .. 30 s */
export const DEFAULT_POOL_OPTIONS: PoolOptions = Object.freeze({
  maxChannelsPerConnection: 8,
  maxConnections: 2,
  idleCloseMs: 60_000,
  reconnectBaseMs: 1_000,
  reconnectMaxMs: 30_000,
});

const DEFAULT_AUTH_RETRY_MS = 30_000;
const DEFAULT_MAX_OPEN_RETRIES = 20;
const CLOSE_GRACE_MS = 2_000;
/**
 * How long a connection may stay silent after a keepalive before it counts as frozen. Checked when we close
 * a channel the server has not closed (a timeout, an abort) and while a channel open goes unanswered, so
 * the next job does not wait on a frozen server (ssh2's own keepalive gives up only after about a minute).
 */
const ALIVE_CHECK_MS = 3_000;
/** A channel open unanswered this long makes the pool check its connection (again every period). */
const OPEN_CHECK_MS = 3_000;

type RequestKind = 'exec' | 'sftp';

interface Request {
  kind: RequestKind;
  command?: string | Buffer;
  resolve(lease: ExecLease | SftpLease): void;
  reject(error: TransferError): void;
  signal?: AbortSignal;
  onAbort?: () => void;
  done: boolean;
  openRetries: number;
}

interface Slot {
  connection: PooledConnection;
  released: boolean;
  error?: TransferError;
  /** ends the channel (used when the pool closes) */
  close(): void;
}

interface PooledConnection {
  ssh: SshConnection;
  /** channels open or being opened */
  channels: number;
  /** channels the server turned out to allow on this connection (its MaxSessions), once it refused one */
  serverLimit: number;
  /** after a refusal, no new channel on this connection before this time (the server frees sessions a moment after their close) */
  pausedUntil: number;
  slots: Set<Slot>;
  idleTimer?: NodeJS.Timeout;
  /** being closed by us (idle, close()) */
  retiring: boolean;
  /** ssh2 already reported it gone; its 'close' is on the way */
  broken: boolean;
  /**
   * a check is on the way. New channels may still open on it (a check costs nothing then, whatever the
   * release rate); when it proves the server frozen, their unanswered opens are re-queued elsewhere.
   */
  checking: boolean;
}

interface RememberedFailure {
  error: TransferError;
  until: number;
  /** true: requests fail at once until `until` (EAUTH/EHOSTKEY); false: they wait for the next attempt */
  failFast: boolean;
}

export class SshPool implements ChannelProvider {
  readonly label: string;
  private readonly options: SshPoolOptions;
  private readonly where: string;
  private readonly connections: PooledConnection[] = [];
  private readonly queue: Request[] = [];
  private connecting: AbortController | undefined;
  private failure: RememberedFailure | undefined;
  private consecutiveConnectFailures = 0;
  private maxChannelsSeen = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private bindingWarned = false;
  private readonly ending = new Set<Promise<void>>();
  private pumpTimer: NodeJS.Timeout | undefined;
  private pumpTime = 0;

  constructor(
    readonly endpoint: SshEndpoint,
    options: Partial<SshPoolOptions> = {},
    private readonly hooks: PoolHooks = {},
  ) {
    this.label = endpointLabel(endpoint);
    this.where = `${endpoint.host}:${endpoint.port}`;
    const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.options = {
      ...DEFAULT_POOL_OPTIONS,
      authRetryMs: DEFAULT_AUTH_RETRY_MS,
      maxOpenRetries: DEFAULT_MAX_OPEN_RETRIES,
      ...defined,
    };
    this.options.maxChannelsPerConnection = Math.max(1, Math.floor(this.options.maxChannelsPerConnection));
    this.options.maxConnections = Math.max(1, Math.floor(this.options.maxConnections));
  }

  exec(command: string | Buffer, options: { signal?: AbortSignal } = {}): Promise<ExecLease> {
    return this.request('exec', command, options.signal) as Promise<ExecLease>;
  }

  sftp(options: { signal?: AbortSignal } = {}): Promise<SftpLease> {
    return this.request('sftp', undefined, options.signal) as Promise<SftpLease>;
  }

  stats(): PoolStats {
    return {
      connections: this.connections.length,
      channels: this.connections.reduce((sum, connection) => sum + connection.channels, 0),
      queued: this.queue.length,
      maxChannelsSeen: this.maxChannelsSeen,
    };
  }

  /** Closes every connection; queued requests and open channels fail with EABORTED. Resolves when all closed. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    clearTimeout(this.pumpTimer);
    const aborted = (): TransferError => new TransferError('EABORTED', `the connection to ${this.label} was closed`, { host: this.where });
    for (const request of this.queue.splice(0)) this.settleRejected(request, aborted());
    this.connecting?.abort();
    const ends: Promise<void>[] = [...this.ending];
    for (const connection of this.connections.splice(0)) {
      clearTimeout(connection.idleTimer);
      for (const slot of connection.slots) slot.error ??= aborted();
      connection.retiring = true;
      ends.push(connection.ssh.end());
    }
    const all = Promise.all(ends).then(() => undefined);
    // end() already destroys after 2 s; this outer bound only guards against a bug below us.
    this.closing = Promise.race([all, new Promise<void>((resolve) => setTimeout(resolve, CLOSE_GRACE_MS + 500).unref())]).then(() => {
      this.emitState('closed');
    });
    return this.closing;
  }

  // ------------------------------------------------------------------------------------------ requests

  private request(kind: RequestKind, command: string | Buffer | undefined, signal: AbortSignal | undefined): Promise<ExecLease | SftpLease> {
    return new Promise((resolve, reject) => {
      const request: Request = { kind, command, resolve, reject, signal, done: false, openRetries: 0 };
      if (this.closed) {
        this.settleRejected(request, new TransferError('EABORTED', `the connection to ${this.label} is closed`, { host: this.where }));
        return;
      }
      if (signal?.aborted) {
        this.settleRejected(request, this.abortedError());
        return;
      }
      if (signal) {
        request.onAbort = () => this.abortRequest(request);
        signal.addEventListener('abort', request.onAbort, { once: true });
      }
      this.queue.push(request);
      this.pump();
    });
  }

  private abortedError(): TransferError {
    return new TransferError('EABORTED', `request to ${this.label} was aborted`, { host: this.where });
  }

  private abortRequest(request: Request): void {
    if (request.done) return;
    const index = this.queue.indexOf(request);
    if (index >= 0) this.queue.splice(index, 1);
    // A request whose channel is already opening gets that channel closed when it arrives (adoptExec/adoptSftp).
    this.settleRejected(request, this.abortedError());
  }

  private settleRejected(request: Request, error: TransferError): void {
    if (request.done) return;
    request.done = true;
    if (request.onAbort) request.signal?.removeEventListener('abort', request.onAbort);
    request.reject(error);
  }

  private settleResolved(request: Request, lease: ExecLease | SftpLease): void {
    request.done = true;
    if (request.onAbort) request.signal?.removeEventListener('abort', request.onAbort);
    request.resolve(lease);
  }

  /** Hands queued requests to connections with a free slot; connects when none has one. */
  private pump(): void {
    if (this.closed) return;
    const now = Date.now();
    while (this.queue.length > 0) {
      const connection = this.connections.find(
        (candidate) =>
          !candidate.retiring &&
          !candidate.broken &&
          candidate.pausedUntil <= now &&
          candidate.channels < Math.min(this.options.maxChannelsPerConnection, candidate.serverLimit),
      );
      if (!connection) break;
      const request = this.queue.shift() as Request;
      this.openChannel(connection, request);
    }
    if (this.queue.length === 0) return;
    const paused = this.connections.filter((connection) => !connection.retiring && connection.pausedUntil > now);
    if (paused.length > 0) this.pumpAt(Math.min(...paused.map((connection) => connection.pausedUntil)));
    if (this.connecting) return;
    const usable = this.connections.filter((connection) => !connection.retiring && !connection.broken);
    if (usable.length >= this.options.maxConnections) return;

    if (this.failure && now < this.failure.until) {
      if (!this.failure.failFast) {
        // Back-off after failed connects: requests wait for the next attempt and share its outcome.
        if (!this.pumpTimer || this.pumpTime > this.failure.until) {
          this.debug(`waiting ${Math.round(this.failure.until - now)} ms before reconnecting to ${this.label}`);
        }
        this.pumpAt(this.failure.until);
        return;
      }
      // EAUTH/EHOSTKEY: requests wait for the connections we have; with none, they fail now.
      if (usable.length === 0) {
        const { error } = this.failure;
        for (const request of this.queue.splice(0)) this.settleRejected(request, copyError(error));
      }
      return;
    }
    this.connect();
  }

  /** Runs pump() again at `time` (the earliest of all such requests wins). Only armed while requests wait. */
  private pumpAt(time: number): void {
    if (this.pumpTimer && this.pumpTime <= time) return;
    clearTimeout(this.pumpTimer);
    this.pumpTime = time;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      this.pump();
    }, Math.max(0, time - Date.now()));
  }

  // ------------------------------------------------------------------------------------- connections

  private connect(): void {
    const controller = new AbortController();
    this.connecting = controller;
    if (!this.bindingWarned) {
      this.bindingWarned = true;
      this.reportShape(ssh2ShapeProblems());
      if (!cryptoBindingAvailable()) {
        this.warn("ssh2's native crypto binding is not installed: transfers will be much slower (reinstall ssh2 with build tools available)", {
          code: 'cryptoBindingMissing',
          values: {},
        });
      }
    }
    this.emitState('connecting');
    this.debug(`connecting to ${this.label}`);
    SshConnection.open(this.endpoint, {
      signal: controller.signal,
      warn: (message, warning) => this.warn(message, warning),
      debug: undefined,
    }).then(
      (ssh) => {
        this.connecting = undefined;
        if (this.closed) {
          void ssh.end();
          return;
        }
        this.failure = undefined;
        this.consecutiveConnectFailures = 0;
        const connection: PooledConnection = {
          ssh,
          channels: 0,
          serverLimit: Number.POSITIVE_INFINITY,
          pausedUntil: 0,
          slots: new Set(),
          retiring: false,
          broken: false,
          checking: false,
        };
        this.connections.push(connection);
        ssh.onClose((error) => this.onConnectionClosed(connection, error));
        this.emitState('connected');
        this.debug(`connected to ${this.label} (${this.connections.length} connection(s))`);
        this.pump();
        if (connection.channels === 0) this.armIdleTimer(connection);
      },
      (error: unknown) => {
        this.connecting = undefined;
        if (this.closed) return;
        const failure =
          error instanceof TransferError
            ? error
            : new TransferError('ECONNRESET', `connection to ${this.label} failed`, { host: this.where, cause: error });
        this.rememberFailure(failure);
        this.emitState('error', failure);
        if (this.connections.every((connection) => connection.retiring || connection.broken)) {
          for (const request of this.queue.splice(0)) this.settleRejected(request, copyError(failure));
        } else {
          this.warn(`an extra connection to ${this.label} failed: ${failure.message}`, {
            code: 'extraConnectionFailed',
            values: { host: this.label, detail: failure.message },
          });
        }
        this.pump();
      },
    );
  }

  private rememberFailure(error: TransferError): void {
    const now = Date.now();
    switch (error.code) {
      case 'EAUTH':
      case 'EHOSTKEY':
        // Key-file and passphrase problems are found before connecting: re-checking them costs the server nothing.
        if (isLocalAuthError(error)) {
          this.failure = undefined;
          return;
        }
        this.failure = { error, until: now + this.options.authRetryMs, failFast: true };
        return;
      case 'ENOENT':
      case 'EINVAL':
      case 'EABORTED':
        this.failure = undefined;
        return;
      default: {
        this.consecutiveConnectFailures += 1;
        const exponent = Math.min(this.consecutiveConnectFailures - 1, 30);
        const ceiling = Math.min(this.options.reconnectMaxMs, this.options.reconnectBaseMs * 2 ** exponent);
        // Jitter (50..100 %) keeps many pools that failed together from retrying together.
        const delay = ceiling * (0.5 + Math.random() * 0.5);
        this.failure = { error, until: now + delay, failFast: false };
      }
    }
  }

  private onConnectionClosed(connection: PooledConnection, error: TransferError | undefined): void {
    clearTimeout(connection.idleTimer);
    const index = this.connections.indexOf(connection);
    if (index >= 0) this.connections.splice(index, 1);
    const hadWork = connection.slots.size > 0;
    const dropError = error ?? new TransferError('ECONNRESET', `connection to ${this.label} was lost`, { host: this.where });
    for (const slot of connection.slots) slot.error ??= dropError;
    if (this.closed) return;
    if (error && !connection.retiring) {
      this.debug(`connection to ${this.label} dropped: ${error.message}`);
      if (hadWork) this.emitState('error', error);
    }
    if (this.connections.length === 0 && !this.connecting && !(error && hadWork)) this.emitState('idle');
    this.pump();
  }

  private armIdleTimer(connection: PooledConnection): void {
    clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(() => {
      if (connection.channels > 0 || connection.retiring) return;
      connection.retiring = true;
      this.debug(`closing idle connection to ${this.label}`);
      const index = this.connections.indexOf(connection);
      if (index >= 0) this.connections.splice(index, 1);
      const ended = connection.ssh.end();
      this.ending.add(ended);
      void ended.then(() => this.ending.delete(ended));
    }, this.options.idleCloseMs);
    connection.idleTimer.unref();
  }

  // ---------------------------------------------------------------------------------------- channels

  private openChannel(connection: PooledConnection, request: Request): void {
    connection.channels += 1;
    clearTimeout(connection.idleTimer);
    this.maxChannelsSeen = Math.max(this.maxChannelsSeen, connection.channels);

    const slot: Slot = { connection, released: false, close: () => undefined };
    connection.slots.add(slot);
    // A frozen server never answers the open: check the connection while it is pending.
    const openCheck = setInterval(() => this.checkConnection(connection, 'a channel open went unanswered'), OPEN_CHECK_MS);
    openCheck.unref();
    const releaseSlot = (): void => {
      clearInterval(openCheck);
      if (slot.released) return;
      slot.released = true;
      connection.slots.delete(slot);
      connection.channels -= 1;
      if (connection.channels === 0 && !connection.retiring && !this.closed) this.armIdleTimer(connection);
      this.pump();
    };

    const onOpenFailure = (error: Error & { reason?: unknown }): void => {
      clearInterval(openCheck);
      if (request.done || this.closed) {
        releaseSlot();
        if (!request.done) {
          this.settleRejected(request, new TransferError('EABORTED', `the connection to ${this.label} was closed`, { host: this.where }));
        }
        return;
      }
      const detail = cleanText(error.message ?? String(error), 200);
      // ssh2 says "Not connected" / "No response from server" when the connection went away under the request.
      const dead = connection.ssh.closed || connection.retiring || /not connected|no response from server/i.test(error.message ?? '');
      const othersOpen = connection.channels - 1;
      const serverFull = !dead && isOpenFailed(error) && othersOpen > 0;
      // Adjust the connection before the slot frees, so the pump that follows already sees it.
      if (dead) connection.broken = true;
      if (serverFull) {
        // What is open now is what the server allows; and a session it just closed may still count for a
        // moment, so pause a little (longer on each retry) before asking again.
        connection.serverLimit = Math.max(1, Math.min(connection.serverLimit, othersOpen));
        connection.pausedUntil = Math.max(connection.pausedUntil, Date.now() + Math.min(1_000, 25 * (request.openRetries + 1)));
      }
      // A refused SFTP subsystem can be a server that failed to start its sftp-server for a moment (seen with
      // Dropbear under load): one more try; a server without SFTP refuses again and the error stands.
      const sftpRefusedOnce = !dead && request.kind === 'sftp' && request.openRetries === 0 && /unable to start subsystem/i.test(error.message ?? '');
      if ((dead || serverFull || sftpRefusedOnce) && request.openRetries < this.options.maxOpenRetries) {
        // The channel never opened, so nothing ran: trying again is safe.
        request.openRetries += 1;
        const why = dead ? 'connection lost' : serverFull ? 'server refused a channel (MaxSessions)' : 'server refused the SFTP subsystem';
        this.debug(`${why} on ${this.label}: request re-queued (retry ${request.openRetries})`);
        this.queue.unshift(request);
        releaseSlot();
        return;
      }
      releaseSlot();
      const code = dead ? 'ECONNRESET' : 'EPROTO';
      const what = request.kind === 'sftp' ? 'an SFTP session' : 'a command channel';
      this.settleRejected(request, new TransferError(code, `${this.label} refused to open ${what}`, { host: this.where, detail }));
    };

    try {
      if (request.kind === 'exec') {
        // ssh2 sends a Buffer command as raw bytes; its types only say string.
        connection.ssh.client.exec(request.command as string, (error, channel) => {
          if (error) return onOpenFailure(error);
          clearInterval(openCheck);
          this.adoptExec(request, slot, channel, releaseSlot);
        });
      } else {
        connection.ssh.client.sftp((error, sftp) => {
          if (error) return onOpenFailure(error);
          clearInterval(openCheck);
          this.adoptSftp(request, slot, sftp, releaseSlot);
        });
      }
    } catch (error) {
      onOpenFailure(error as Error);
    }
  }

  private adoptExec(request: Request, slot: Slot, channel: ClientChannel, releaseSlot: () => void): void {
    channel.on('error', (error: Error) => {
      slot.error ??= new TransferError('ECONNRESET', `command channel to ${this.label} failed`, {
        host: this.where,
        detail: cleanText(error.message ?? String(error), 200),
      });
    });
    channel.stderr.on('error', () => undefined);
    channel.once('close', releaseSlot);
    // ssh2 emits 'close' only after stdout was read to the end; the server frees the session (MaxSessions)
    // at the SSH-level close, so the slot follows that state too.
    onChannelState(channel, 'incoming', 'closed', releaseSlot);
    this.watchEarlyClose(slot.connection, channel);
    this.reportShape(channelShapeProblems(channel));
    slot.close = () => channel.close();
    if (request.done || this.closed) {
      // Aborted (or the pool closed) while the channel was opening.
      channel.close();
      return;
    }
    const lease: ExecLease = { channel, connectionError: () => slot.error };
    this.settleResolved(request, lease);
  }

  private adoptSftp(request: Request, slot: Slot, sftp: SFTPWrapper, releaseSlot: () => void): void {
    sftp.on('error', (error: Error) => {
      slot.error ??= new TransferError('ECONNRESET', `SFTP session with ${this.label} failed`, {
        host: this.where,
        detail: cleanText(error.message ?? String(error), 200),
      });
    });
    sftp.once('close', releaseSlot);
    this.watchEarlyClose(slot.connection, sftp);
    this.reportShape(sftpShapeProblems(sftp));
    const end = (): void => {
      try {
        sftp.end();
      } catch {
        // already closed
      }
    };
    slot.close = end;
    if (request.done || this.closed) {
      end();
      return;
    }
    const lease: SftpLease = { sftp, connectionError: () => slot.error, release: end };
    this.settleResolved(request, lease);
  }

  /** A channel we close before the server did (a timeout, an abort, an SFTP release) gets its connection checked. */
  private watchEarlyClose(connection: PooledConnection, channel: unknown): void {
    onChannelState(channel, 'outgoing', 'closing', () => {
      if (channelState(channel, 'incoming') !== 'closed') this.checkConnection(connection, 'a channel was closed before the server closed it');
    });
  }

  /**
   * Asks the server for a sign of life (anything it sends after a keepalive); after ALIVE_CHECK_MS of
   * silence the connection is torn down as frozen: its channels fail with ETIMEDOUT, and requests whose
   * channel it never opened are re-queued onto a new connection.
   */
  private checkConnection(connection: PooledConnection, why: string): void {
    if (connection.checking || connection.retiring || connection.broken || this.closed) return;
    connection.checking = true;
    void connection.ssh.checkAlive(ALIVE_CHECK_MS).then((alive) => {
      connection.checking = false;
      if (!alive && !connection.retiring && !connection.broken && !this.closed) {
        connection.broken = true;
        this.debug(`${this.label} gave no sign of life for ${ALIVE_CHECK_MS} ms after ${why}: closing that connection`);
        connection.ssh.abandon(
          new TransferError('ETIMEDOUT', `${this.label} stopped answering`, {
            host: this.where,
            detail: `no sign of life for ${ALIVE_CHECK_MS} ms after ${why}`,
          }),
        );
      }
      this.pump();
    });
  }

  private reportShape(problems: string[]): void {
    if (problems.length === 0) return;
    reportShapeProblems(problems, (detail) =>
      this.warn(`the installed ssh2 differs from the tested one (${detail}): some safeguards are off`, { code: 'ssh2Changed', values: { detail } }),
    );
  }

  // ------------------------------------------------------------------------------------------- hooks

  private emitState(state: PoolState, detail?: TransferError): void {
    try {
      this.hooks.onState?.(state, detail);
    } catch {
      // a hook's bug must not break the pool
    }
  }

  private warn(message: string, warning: SshWarning): void {
    try {
      this.hooks.log?.warn(message, warning);
    } catch {
      // ignore
    }
  }

  private debug(message: string): void {
    try {
      this.hooks.log?.debug?.(message);
    } catch {
      // ignore
    }
  }
}


/** OpenSSH answers a session beyond MaxSessions with reason 2 "open failed". */
function isOpenFailed(error: Error & { reason?: unknown }): boolean {
  return error.reason === 2 || /open failed/i.test(error.message ?? '');
}

function copyError(error: TransferError): TransferError {
  return new TransferError(error.code, error.summary, { host: error.host, path: error.path, detail: error.detail, cause: error });
}
