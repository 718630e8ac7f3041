/**
 * SshPool: one per config node. Connects lazily, shares connections between requests, caps channels per
 * connection (exec and SFTP alike), queues FIFO beyond the cap, opens more connections under load, closes
 * idle ones, reconnects after drops, and refuses to hammer a server that refused us (connect-policy.ts).
 * This class only decides which request goes where and when to connect; the parts it drives each do one
 * job: the queue (request-queue.ts), the back-off (connect-policy.ts), a connection and its slots
 * (pooled-connection.ts), opening a channel (open-channel.ts) and handing it out as a lease (leases.ts).
 */
import { TransferError } from '../../errors';
import { endpointLabel } from '../auth';
import { SshConnection } from '../connection';
import { serverQuirk } from '../server-quirks';
import { remoteSoftwareVersion } from '../ssh2-internals';
import type { ChannelProvider, ExecLease, PoolStats, SftpLease, SftpRequestOptions, SshEndpoint } from '../types';
import { ConnectPolicy, copyError } from './connect-policy';
import { openChannel, type OpenContext } from './open-channel';
import { resolvePoolOptions, type SshPoolOptions } from './options';
import { PooledConnection, type ConnectionOwner } from './pooled-connection';
import { PoolReporter, type PoolHooks } from './reporter';
import { RequestQueue, type ChannelRequest, type RequestKind } from './request-queue';

/** How long `close()` waits at most: end() destroys a connection after 2 s; this only guards against a bug below us. */
const CLOSE_BOUND_MS = 2_500;

export class SshPool implements ChannelProvider {
  readonly label: string;
  private readonly options: SshPoolOptions;
  private readonly where: string;
  private readonly reporter: PoolReporter;
  private readonly policy: ConnectPolicy;
  /** requests for a channel slot of their own */
  private readonly queue: RequestQueue;
  /** requests for a use of a connection's kept SFTP session (kept-sftp.ts): they need no slot of their own */
  private readonly shared: RequestQueue;
  private readonly connections: PooledConnection[] = [];
  /** what the connections and the channel opener need from the pool */
  private readonly context: ConnectionOwner & OpenContext;
  private connecting: AbortController | undefined;
  private maxChannelsSeen = 0;
  /** the debug line about a server bug worked around was written (once per pool, not per connection) */
  private quirkTold = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** idle connections we are closing: close() waits for them too */
  private readonly ending = new Set<Promise<void>>();
  private pumpTimer: NodeJS.Timeout | undefined;
  private pumpTime = 0;

  constructor(
    readonly endpoint: SshEndpoint,
    options: Partial<SshPoolOptions> = {},
    hooks: PoolHooks = {},
  ) {
    this.label = endpointLabel(endpoint);
    this.where = `${endpoint.host}:${endpoint.port}`;
    this.options = resolvePoolOptions(options);
    this.reporter = new PoolReporter(hooks);
    this.policy = new ConnectPolicy(this.options);
    const aborted = (): TransferError => new TransferError('EABORTED', `request to ${this.label} was aborted`, { host: this.where });
    this.queue = new RequestQueue(aborted);
    this.shared = new RequestQueue(aborted);
    this.context = {
      label: this.label,
      where: this.where,
      idleCloseMs: this.options.idleCloseMs,
      maxOpenRetries: this.options.maxOpenRetries,
      maxSharedSftpJobs: this.options.maxSharedSftpJobs,
      isClosed: () => this.closed,
      debug: (message) => this.reporter.debug(message),
      ssh2Shape: (problems) => this.reporter.ssh2Shape(problems),
      requeue: (request) => (request.shared ? this.shared : this.queue).putBack(request),
      changed: () => this.pump(),
      retired: (connection, ended) => {
        this.forget(connection);
        this.ending.add(ended);
        void ended.then(() => this.ending.delete(ended));
      },
    };
  }

  exec(command: string | Buffer, options: { signal?: AbortSignal } = {}): Promise<ExecLease> {
    return this.request('exec', command, options.signal) as Promise<ExecLease>;
  }

  /** An SFTP session of its own, or with `shared` a use of the session the connection keeps (kept-sftp.ts). */
  sftp(options: SftpRequestOptions = {}): Promise<SftpLease> {
    return this.request('sftp', undefined, options.signal, options.shared === true) as Promise<SftpLease>;
  }

  stats(): PoolStats {
    return {
      connections: this.connections.length,
      channels: this.connections.reduce((sum, connection) => sum + connection.channels, 0),
      queued: this.queue.length + this.shared.length,
      maxChannelsSeen: this.maxChannelsSeen,
    };
  }

  /** The kept SFTP sessions open now and the jobs using them. */
  sharedSftp(): { sessions: number; jobs: number } {
    const kept = this.connections.flatMap((connection) => (connection.kept ? [connection.kept] : []));
    return { sessions: kept.length, jobs: kept.reduce((sum, session) => sum + session.jobs, 0) };
  }

  /** Closes every connection; queued requests and open channels fail with EABORTED. Resolves when all closed. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    clearTimeout(this.pumpTimer);
    const aborted = (): TransferError => new TransferError('EABORTED', `the connection to ${this.label} was closed`, { host: this.where });
    this.queue.failAll(aborted);
    this.shared.failAll(aborted);
    this.connecting?.abort();
    const ends = [...this.ending, ...this.connections.splice(0).map((connection) => connection.retire(aborted()))];
    const all = Promise.all(ends).then(() => undefined);
    this.closing = Promise.race([all, new Promise<void>((resolve) => setTimeout(resolve, CLOSE_BOUND_MS).unref())]).then(() => {
      this.reporter.state('closed');
    });
    return this.closing;
  }

  private request(kind: RequestKind, command: string | Buffer | undefined, signal: AbortSignal | undefined, shared = false): Promise<ExecLease | SftpLease> {
    if (this.closed) return Promise.reject(new TransferError('EABORTED', `the connection to ${this.label} is closed`, { host: this.where }));
    return (shared ? this.shared : this.queue).add(kind, command, signal, () => this.pump(), shared);
  }

  /** Hands queued requests to connections with a free slot or a kept SFTP session with room; connects when none has one. */
  private pump(): void {
    if (this.closed) return;
    const now = Date.now();
    if (this.place(now) === 0) return;
    const paused = this.connections.filter((connection) => !connection.retiring && connection.pausedUntil > now);
    if (paused.length > 0) this.pumpAt(Math.min(...paused.map((connection) => connection.pausedUntil)));
    if (this.connecting) return;
    const usable = this.connections.filter((connection) => connection.usable);
    if (usable.length >= this.options.maxConnections) return;

    const verdict = this.policy.verdict(now);
    switch (verdict.kind) {
      case 'wait':
        // Back-off after failed connects: requests wait for the next attempt and share its outcome.
        if (!this.pumpTimer || this.pumpTime > verdict.until) {
          this.reporter.debug(`waiting ${Math.round(verdict.until - now)} ms before reconnecting to ${this.label}`);
        }
        this.pumpAt(verdict.until);
        return;
      case 'fail':
        // EAUTH/EHOSTKEY: requests wait for the connections we have; with none, they fail now.
        if (usable.length === 0) this.failAllWaiting(() => copyError(verdict.error));
        return;
      case 'connect':
        this.connect();
    }
  }

  /**
   * Gives the waiting requests what they wait for, each queue in order: shared SFTP requests join a kept
   * session with room (they take no slot); then the requests for a channel of their own take the free slots;
   * then a shared request still waiting opens a kept session in a free slot of a connection that keeps none,
   * unless one is being opened (the jobs wait for that one). Returns how many wait for a connection that may
   * have to be opened.
   */
  private place(now: number): number {
    const cap = this.options.maxChannelsPerConnection;
    let waiting = 0;
    this.joinKeptSessions();
    while (this.queue.length > 0) {
      const connection = this.connections.find((candidate) => candidate.canOpen(now, cap));
      if (!connection) {
        waiting += this.queue.length;
        // A kept session no job uses gives its slot to a request that waits for one.
        for (const full of this.connections) if (full.full(cap)) full.freeKeptSlot();
        break;
      }
      this.open(connection, this.queue.take() as ChannelRequest);
    }
    if (this.shared.length > 0 && !this.connections.some((connection) => connection.usable && connection.keptOpening)) {
      const connection = this.connections.find((candidate) => !candidate.kept && candidate.canOpen(now, cap));
      if (connection) {
        connection.keptOpening = true;
        this.open(connection, this.shared.take() as ChannelRequest);
      } else {
        waiting += this.shared.length;
      }
    }
    return waiting;
  }

  /** Shared SFTP requests, in order, onto kept sessions with room. */
  private joinKeptSessions(): void {
    while (this.shared.length > 0) {
      const keeper = this.connections.find((connection) => connection.keptHasRoom);
      if (!keeper) return;
      (this.shared.take() as ChannelRequest).grant(keeper.lendKept());
    }
  }

  private open(connection: PooledConnection, request: ChannelRequest): void {
    const slot = connection.claim();
    this.maxChannelsSeen = Math.max(this.maxChannelsSeen, connection.channels);
    openChannel(this.context, connection, slot, request);
  }

  /** Fails every waiting request, each with its own copy of the error. */
  private failAllWaiting(error: () => TransferError): void {
    this.queue.failAll(error);
    this.shared.failAll(error);
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

  private connect(): void {
    const controller = new AbortController();
    this.connecting = controller;
    this.reporter.checkInstallOnce();
    this.reporter.state('connecting');
    this.reporter.debug(`connecting to ${this.label}`);
    SshConnection.open(this.endpoint, {
      signal: controller.signal,
      warn: (message, warning) => this.reporter.warn(message, warning),
      debug: undefined,
    }).then(
      (ssh) => this.connected(ssh),
      (error: unknown) => this.connectFailed(error),
    );
  }

  private connected(ssh: SshConnection): void {
    this.connecting = undefined;
    if (this.closed) {
      void ssh.end();
      return;
    }
    this.policy.succeeded();
    const connection = new PooledConnection(ssh, this.context);
    this.workAround(connection);
    this.connections.push(connection);
    ssh.onClose((error) => this.onConnectionClosed(connection, error));
    this.reporter.state('connected');
    this.reporter.debug(`connected to ${this.label} (${this.connections.length} connection(s))`);
    this.pump();
    // A connection no request took closes when idle, like one whose channels all ended.
    connection.armIdleClose();
  }

  /** A server with a known bug (server-quirks.ts) gets fewer channels at once; the debug log says why, once. */
  private workAround(connection: PooledConnection): void {
    const quirk = serverQuirk(remoteSoftwareVersion(connection.ssh.client));
    if (!quirk) return;
    connection.serverLimit = Math.min(connection.serverLimit, quirk.maxChannels);
    if (this.quirkTold) return;
    this.quirkTold = true;
    this.reporter.debug(`${this.label}: ${quirk.reason}`);
  }

  private connectFailed(error: unknown): void {
    this.connecting = undefined;
    if (this.closed) return;
    const failure =
      error instanceof TransferError ? error : new TransferError('ECONNRESET', `connection to ${this.label} failed`, { host: this.where, cause: error });
    this.policy.failed(failure);
    this.reporter.state('error', failure);
    if (this.connections.every((connection) => !connection.usable)) {
      this.failAllWaiting(() => copyError(failure));
    } else {
      this.reporter.warn(`an extra connection to ${this.label} failed: ${failure.message}`, {
        code: 'extraConnectionFailed',
        values: { host: this.label, detail: failure.message },
      });
    }
    this.pump();
  }

  /** ssh2 closed a connection; `error` is set when we did not ask for that. Its channels learn it at once. */
  private onConnectionClosed(connection: PooledConnection, error: TransferError | undefined): void {
    this.forget(connection);
    const hadWork = connection.closed(error);
    if (this.closed) return;
    if (error && !connection.retiring) {
      this.reporter.debug(`connection to ${this.label} dropped: ${error.message}`);
      if (hadWork) this.reporter.state('error', error);
    }
    if (this.connections.length === 0 && !this.connecting && !(error && hadWork)) this.reporter.state('idle');
    this.pump();
  }

  private forget(connection: PooledConnection): void {
    const index = this.connections.indexOf(connection);
    if (index >= 0) this.connections.splice(index, 1);
  }
}
