/**
 * When the pool may open its next connection after failed ones. OpenSSH's MaxStartups and
 * PerSourcePenalties punish storms, so:
 * - EAUTH / EHOSTKEY / EPROXYAUTH (a proxy locks accounts too) are never retried automatically: for `authRetryMs` (30 s) every request fails at once
 *   with the remembered error, without touching the network; the first request after that makes ONE new
 *   attempt (a fixed server is picked up within 30 s; a redeploy, which builds a new pool, at once).
 * - Network failures: after N consecutive failed connects the next attempt waits
 *   reconnectBaseMs * 2^(N-1) (50..100 % jitter, capped at reconnectMaxMs); requests arriving meanwhile
 *   wait for it and share its outcome. A dropped connection is no failed connect: the next request
 *   reconnects at once (a message after an sshd restart succeeds).
 * - Errors in the local configuration (key file, passphrase) are re-checked on every request: they cost
 *   the server nothing.
 */
import { TransferError } from '../../errors';
import { isLocalAuthError } from '../auth';
import type { SshPoolOptions } from './options';

/** What the pool may do about its next connection now. */
export type ConnectVerdict =
  | { kind: 'connect' }
  /** back-off after failed connects: requests wait until `until` */
  | { kind: 'wait'; until: number }
  /** EAUTH/EHOSTKEY cool-down: requests without a connection fail with (a copy of) `error` */
  | { kind: 'fail'; error: TransferError; until: number };

interface RememberedFailure {
  error: TransferError;
  until: number;
  /** true: requests fail at once until `until` (EAUTH/EHOSTKEY); false: they wait for the next attempt */
  failFast: boolean;
}

type PolicyOptions = Pick<SshPoolOptions, 'authRetryMs' | 'reconnectBaseMs' | 'reconnectMaxMs'>;

export class ConnectPolicy {
  private failure: RememberedFailure | undefined;
  private consecutiveFailures = 0;

  constructor(private readonly options: PolicyOptions) {}

  verdict(now: number): ConnectVerdict {
    const failure = this.failure;
    if (!failure || now >= failure.until) return { kind: 'connect' };
    return failure.failFast ? { kind: 'fail', error: failure.error, until: failure.until } : { kind: 'wait', until: failure.until };
  }

  succeeded(): void {
    this.failure = undefined;
    this.consecutiveFailures = 0;
  }

  failed(error: TransferError, now = Date.now()): void {
    switch (error.code) {
      case 'EAUTH':
      case 'EHOSTKEY':
      case 'EPROXYAUTH':
        // Key-file and passphrase problems are found before connecting: re-checking them costs the server nothing.
        this.failure = isLocalAuthError(error) ? undefined : { error, until: now + this.options.authRetryMs, failFast: true };
        return;
      case 'ENOENT':
      case 'EINVAL':
      case 'EABORTED':
        this.failure = undefined;
        return;
      default: {
        this.consecutiveFailures += 1;
        const exponent = Math.min(this.consecutiveFailures - 1, 30);
        const ceiling = Math.min(this.options.reconnectMaxMs, this.options.reconnectBaseMs * 2 ** exponent);
        // Jitter (50..100 %) keeps many pools that failed together from retrying together.
        const delay = ceiling * (0.5 + Math.random() * 0.5);
        this.failure = { error, until: now + delay, failFast: false };
      }
    }
  }
}

/** Each waiting request gets its own error object (callers may add context to theirs). */
export function copyError(error: TransferError): TransferError {
  return new TransferError(error.code, error.summary, { host: error.host, path: error.path, detail: error.detail, cause: error });
}
