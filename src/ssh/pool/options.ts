/** The pool's tuning: the `PoolOptions` contract plus the pool's own knobs, and their defaults. */
import type { PoolOptions } from '../types';

/** PoolOptions plus the pool's own tuning knobs (all optional for callers). */
export interface SshPoolOptions extends PoolOptions {
  /** after EAUTH/EHOSTKEY, requests fail fast for this long before one new attempt (default 30 s) */
  authRetryMs: number;
  /** how often one request re-queues after the server refused a channel ("open failed") */
  maxOpenRetries: number;
  /** how many jobs may use a connection's kept SFTP session at once (kept-sftp.ts); the others wait */
  maxSharedSftpJobs: number;
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
/**
 * The server answers one session's requests one after another: beyond a few jobs at once, more only wait
 * there instead of in our queue, and a file's requests wait behind more of the others'.
 */
const DEFAULT_MAX_SHARED_SFTP_JOBS = 16;

/** The caller's options over the defaults (an option given as undefined keeps its default); counts at least 1. */
export function resolvePoolOptions(options: Partial<SshPoolOptions>): SshPoolOptions {
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const resolved: SshPoolOptions = {
    ...DEFAULT_POOL_OPTIONS,
    authRetryMs: DEFAULT_AUTH_RETRY_MS,
    maxOpenRetries: DEFAULT_MAX_OPEN_RETRIES,
    maxSharedSftpJobs: DEFAULT_MAX_SHARED_SFTP_JOBS,
    ...defined,
  };
  resolved.maxSharedSftpJobs = Math.max(1, Math.floor(resolved.maxSharedSftpJobs));
  resolved.maxChannelsPerConnection = Math.max(1, Math.floor(resolved.maxChannelsPerConnection));
  resolved.maxConnections = Math.max(1, Math.floor(resolved.maxConnections));
  return resolved;
}
