/**
 * One authenticated connection of the pool and the life of its channel slots: how many are taken, the
 * limit the server turned out to have, the idle close, and the checks that find a frozen server.
 *
 * A frozen server is found fast: when we close a channel the server has not closed (a timeout, an abort,
 * an SFTP release) or a channel open stays unanswered, the connection sends a keepalive and waits for
 * anything from the server (traffic on other channels counts). Silence retires it: its channels fail with
 * ETIMEDOUT and requests whose channel never opened are re-queued by the opener, so the next job does not
 * wait for ssh2's own keepalive to give up (about a minute).
 */
import { TransferError } from '../../errors';
import type { SshConnection } from '../connection';
import type { SFTPWrapper } from 'ssh2';
import { channelState, onChannelState } from '../ssh2-internals';
import type { SftpLease } from '../types';
import { ChannelSlot } from './channel-slot';
import { KeptSftp } from './kept-sftp';

/** How long a connection may stay silent after a keepalive before it counts as frozen. */
const ALIVE_CHECK_MS = 3_000;
/** A channel open unanswered this long makes the connection check itself (again every period). */
const OPEN_CHECK_MS = 3_000;

/** What a connection needs from the pool that owns it. */
export interface ConnectionOwner {
  /** "user@host:port" and "host:port", for messages */
  readonly label: string;
  readonly where: string;
  readonly idleCloseMs: number;
  /** the pool was closed: no idle close is armed any more */
  isClosed(): boolean;
  debug(message: string): void;
  /** We closed this idle connection: the pool forgets it; `ended` resolves once it is gone. */
  retired(connection: PooledConnection, ended: Promise<void>): void;
  /** A slot freed or a check ended: waiting requests may go on. */
  changed(): void;
}

export class PooledConnection {
  /** channels open or being opened */
  channels = 0;
  /**
   * channels the server allows on this connection: its MaxSessions once it refused one, or fewer from the
   * start for a server with a known bug (server-quirks.ts)
   */
  serverLimit = Number.POSITIVE_INFINITY;
  /** after a refusal, no new channel on this connection before this time (the server frees sessions a moment after their close) */
  pausedUntil = 0;
  /** being closed by us (idle, the pool's close) */
  retiring = false;
  /** ssh2 reported it gone, or a check found it frozen: its 'close' is on the way */
  broken = false;
  /** the SFTP session it keeps for small jobs (kept-sftp.ts), while open */
  kept: KeptSftp | undefined;
  /** that session is being opened: requests for it wait instead of opening another */
  keptOpening = false;
  private readonly slots = new Set<ChannelSlot>();
  private idleTimer: NodeJS.Timeout | undefined;
  /**
   * A check is on the way. New channels may still open meanwhile (a check costs nothing then, whatever the
   * release rate); when it proves the server frozen, their unanswered opens are re-queued elsewhere.
   */
  private checking = false;

  constructor(
    readonly ssh: SshConnection,
    private readonly owner: ConnectionOwner,
  ) {}

  /** Neither closing nor gone: may carry channels. */
  get usable(): boolean {
    return !this.retiring && !this.broken;
  }

  /** Nothing runs on it: no channel, or only the kept SFTP session and no job is using it. */
  get idle(): boolean {
    return this.channels === 0 || (this.channels === 1 && this.kept?.unused === true);
  }

  /** A job may use its kept SFTP session now. */
  get keptHasRoom(): boolean {
    return this.usable && this.kept?.hasRoom === true;
  }

  /**
   * Makes `sftp`, just opened in `slot`, the session this connection keeps for small jobs. Call before the
   * slot's own close listener is added: when the channel closes, the session is gone before the pool looks
   * for a place for waiting requests, and the jobs using it hear of it (ECONNRESET) on their leases.
   */
  keep(sftp: SFTPWrapper, slot: ChannelSlot, maxJobs: number): KeptSftp {
    const kept = new KeptSftp(sftp, slot, maxJobs, { used: (session) => this.keptUsed(session) });
    this.kept = kept;
    this.keptOpening = false;
    sftp.once('close', () => {
      kept.end();
      if (this.kept === kept) this.kept = undefined;
      slot.lose(new TransferError('ECONNRESET', `the SFTP session with ${this.owner.label} closed`, { host: this.owner.where }));
    });
    return kept;
  }

  /** A lease on the kept session for one more job (check keptHasRoom first). */
  lendKept(): SftpLease {
    clearTimeout(this.idleTimer);
    return (this.kept as KeptSftp).lend();
  }

  /**
   * Closes the kept session when no job uses it, so that its slot can carry the channel another request
   * waits for; true when it did.
   */
  freeKeptSlot(): boolean {
    if (!this.usable || this.kept?.unused !== true) return false;
    this.kept.close();
    return true;
  }

  private keptUsed(session: KeptSftp): void {
    if (session.unused) this.armIdleClose();
    this.owner.changed();
  }

  /** May open one more channel now, under the pool's cap and what the server showed it allows. */
  canOpen(now: number, cap: number): boolean {
    return this.usable && this.pausedUntil <= now && this.channels < Math.min(cap, this.serverLimit);
  }

  /** Every slot it may use is taken (under the pool's cap and the server's limit). */
  full(cap: number): boolean {
    return this.channels >= Math.min(cap, this.serverLimit);
  }

  /** Takes a slot for a channel about to be opened. */
  claim(): ChannelSlot {
    this.channels += 1;
    clearTimeout(this.idleTimer);
    const slot = new ChannelSlot();
    this.slots.add(slot);
    return slot;
  }

  /** Frees the slot (once): its channel closed or never opened. The last one arms the idle close. */
  release(slot: ChannelSlot): void {
    if (slot.released) return;
    slot.released = true;
    this.slots.delete(slot);
    this.channels -= 1;
    this.armIdleClose();
    this.owner.changed();
  }

  /** Every channel on it learns that the connection is lost, and why. */
  loseAll(error: TransferError): void {
    for (const slot of [...this.slots]) slot.lose(error);
  }

  /** ssh2 closed it (`error` unset when we asked for that); returns whether channels were in use. */
  closed(error: TransferError | undefined): boolean {
    clearTimeout(this.idleTimer);
    this.broken = true;
    // An unused kept SFTP session is no work that was lost.
    const hadWork = !this.idle;
    this.kept?.end();
    this.loseAll(error ?? new TransferError('ECONNRESET', `connection to ${this.owner.label} was lost`, { host: this.owner.where }));
    return hadWork;
  }

  /** Closes it for the pool's close(); its channels fail with `error`. Never rejects. */
  retire(error: TransferError): Promise<void> {
    clearTimeout(this.idleTimer);
    this.retiring = true;
    this.kept?.end();
    this.loseAll(error);
    return this.ssh.end();
  }

  /**
   * A fresh connection without a request closes when idle, like one whose channels all ended (an unused
   * kept SFTP session does not keep it open: it closes with it).
   */
  armIdleClose(): void {
    clearTimeout(this.idleTimer);
    if (!this.idle || !this.usable || this.owner.isClosed()) return;
    this.idleTimer = setTimeout(() => {
      if (!this.idle || this.retiring) return;
      this.retiring = true;
      this.kept?.end();
      this.owner.debug(`closing idle connection to ${this.owner.label}`);
      this.owner.retired(this, this.ssh.end());
    }, this.owner.idleCloseMs);
    this.idleTimer.unref();
  }

  /** While a channel open is unanswered, checks the connection every OPEN_CHECK_MS; returns the stop. */
  watchOpen(): () => void {
    // A frozen server never answers the open.
    const timer = setInterval(() => this.check('a channel open went unanswered'), OPEN_CHECK_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** A channel we close before the server did (a timeout, an abort, an SFTP release) gets the connection checked. */
  watchEarlyClose(channel: unknown): void {
    onChannelState(channel, 'outgoing', 'closing', () => {
      if (channelState(channel, 'incoming') !== 'closed') this.check('a channel was closed before the server closed it');
    });
  }

  /**
   * Asks the server for a sign of life (anything it sends after a keepalive); after ALIVE_CHECK_MS of
   * silence the connection is torn down as frozen and its channels fail with ETIMEDOUT.
   */
  private check(why: string): void {
    if (this.checking || !this.usable || this.owner.isClosed()) return;
    this.checking = true;
    void this.ssh.checkAlive(ALIVE_CHECK_MS).then((alive) => {
      this.checking = false;
      if (!alive && this.usable && !this.owner.isClosed()) {
        this.broken = true;
        this.owner.debug(`${this.owner.label} gave no sign of life for ${ALIVE_CHECK_MS} ms after ${why}: closing that connection`);
        this.ssh.abandon(
          new TransferError('ETIMEDOUT', `${this.owner.label} stopped answering`, {
            host: this.owner.where,
            detail: `no sign of life for ${ALIVE_CHECK_MS} ms after ${why}`,
          }),
        );
      }
      this.owner.changed();
    });
  }
}
