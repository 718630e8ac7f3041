/**
 * What a job's link options (types.ts LinkOptions) need while it runs: the bandwidth bucket, whether to
 * verify, the sha256 of each file as its bytes passed, and where a resumed file started. Absent (undefined
 * on the Job) when no option is on, so an ordinary transfer takes no detour at all.
 */
import { TransferError } from '../../errors';
import type { LinkOptions } from '../types';
import { bucketFor, type TokenBucket } from './throttle';

/** The largest limit accepted: 1 TiB/s in KiB/s, far above any link (and still an exact integer of bytes). */
const MAX_LIMIT_KIBPS = 1024 ** 3;
/** A kept part older than this is dropped rather than continued, unless the request says otherwise. */
export const DEFAULT_RESUME_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export interface Checksum {
  /** the file's remote path as bytes (the text key may be an escaped form) */
  remote: Buffer;
  sha256: string;
  size: number;
}

export class LinkState {
  readonly bucket: TokenBucket | undefined;
  readonly verify: boolean;
  /** with resume: how old a kept part may be */
  readonly resumeMaxAgeMs: number | undefined;
  /** sha256 of each file's bytes as they passed through this job, by remote path as the results show it */
  readonly checksums = new Map<string, Checksum>();
  /** with resume: where the (single) resumed file started */
  resumedFrom: number | undefined;

  constructor(options: LinkOptions) {
    this.bucket = bucketFor(options.limitKiBps);
    this.verify = options.verify === true;
    this.resumeMaxAgeMs = options.resume ? (options.resume.maxAgeMs ?? DEFAULT_RESUME_MAX_AGE_MS) : undefined;
  }

  /** The bytes of a file pass through the job (throttled or hashed) rather than straight to the wire. */
  get shapesData(): boolean {
    return this.bucket !== undefined || this.verify;
  }

  checksumOf(remotePath: string): string | undefined {
    return this.checksums.get(remotePath)?.sha256;
  }
}

/** The job's link state, or undefined when no option is on; a limit that is not a number ≥ 0 is EINVAL. */
export function linkStateFor(options: LinkOptions | undefined, host: string): LinkState | undefined {
  if (!options) return undefined;
  const limit = options.limitKiBps;
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0 || limit > MAX_LIMIT_KIBPS)) {
    throw new TransferError('EINVAL', 'the bandwidth limit must be a number of KiB/s, 0 or more', { host, detail: String(limit) });
  }
  const maxAge = options.resume?.maxAgeMs;
  if (maxAge !== undefined && (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge < 0)) {
    throw new TransferError('EINVAL', 'the age limit of a resumed part must be a number of milliseconds, 0 or more', { host, detail: String(maxAge) });
  }
  const state = new LinkState(options);
  return state.shapesData || state.resumeMaxAgeMs !== undefined ? state : undefined;
}
