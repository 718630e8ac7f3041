/** The shape of one conformance row and the place it runs in. */
import * as assert from 'node:assert/strict';
import type { ChannelProvider } from '../../src/ssh/types';
import type { DownloadRequest, TransferContext, TransferResult, TransportChoice, TransportUsed, UploadRequest } from '../../src/transfer';
import { type SshdServer, runAsUser } from '../harness';
import { context, sq, directoryDownload } from '../transfer/support';
import type { Outcome } from './outcome';

export interface RowEnv {
  transport: TransportChoice;
  server: SshdServer;
  channels: ChannelProvider;
  /** the row's own remote directory (fresh per transport), relative to the user's home and absolute */
  remote: { relative: string; absolute: string };
  /** the row's own local directory (download targets; compared) */
  local: string;
  /** a local directory for upload sources (not compared) */
  source: string;
  /** ctx with this transport */
  ctx(overrides?: Partial<TransferContext>): TransferContext;
  /** a shell command as the server's user inside the remote directory; fails the row when it fails */
  sh(command: string): Promise<void>;
  /** what the row's `setup` wants to hand to its `act` */
  memo: Record<string, unknown>;
}

export interface Row {
  name: string;
  /** times are compared (rows that preserve them); otherwise the clock would differ */
  times?: boolean;
  /** the row needs root on this machine (mounts a tmpfs): skipped locally, fails under CI without it */
  needsRoot?: boolean;
  setup?(env: RowEnv): Promise<void>;
  act(env: RowEnv): Promise<TransferResult>;
  /** undoes what would stop the files being looked at (chmod 000), before the outcome is read */
  restore?(env: RowEnv): Promise<void>;
  /** runs after the outcome was read (unmounts) */
  cleanup?(env: RowEnv): Promise<void>;
  /** drops what legitimately varies from run to run (how far the data got before a kill) */
  vary?(outcome: Outcome): Outcome;
  /** what both transports must give (a row must be able to fail even when both agree) */
  expect(outcome: Outcome): void;
  /**
   * Only where the protocols truly differ: why, and what each side gives instead of equality. The help
   * documents it.
   */
  protocolDifference?: { why: string; check(scp: Outcome, sftp: Outcome): void };
  /**
   * Also run with transport 'auto' (which carries small jobs over the kept SFTP session once the server
   * proved SFTP sees the shell's paths): its outcome must be `like`'s, and a job that succeeds ran `via`
   * that transport.
   */
  auto?: AutoRun;
  /**
   * The row states the right outcome but the code does not give it yet, for the reason named here: the
   * test then proves the row still fails (and fails itself once the row passes: remove the mark then).
   */
  awaits?: string;
}

export interface AutoRun {
  like: TransportUsed;
  via: TransportUsed;
}

/** A small job: 'auto' carries it over SFTP and must give what SCP gives. */
export const AUTO_OVER_SFTP: AutoRun = { like: 'scp', via: 'sftp' };
/** A job 'auto' leaves on SCP (big, a tree, a pattern, a name SFTP cannot carry). */
export const AUTO_OVER_SCP: AutoRun = { like: 'scp', via: 'scp' };

export function envFor(base: Omit<RowEnv, 'ctx' | 'sh' | 'memo'>): RowEnv {
  return {
    ...base,
    memo: {},
    ctx: (overrides = {}) => context(base.channels, { transport: base.transport, ...overrides }),
    sh: async (command) => {
      const out = await runAsUser(base.server, `cd ${sq(base.remote.relative)} && ${command}`);
      assert.equal(out.code, 0, `${command}: ${out.stderr}`);
    },
  };
}

/** An upload request with the defaults a row changes one at a time. */
export function uploadRequest(remotePath: string, sources: UploadRequest['sources'], overrides: Partial<UploadRequest> = {}): UploadRequest {
  return { sources, remotePath, preserve: false, atomic: true, overwrite: 'overwrite', ...overrides };
}

/** A download request into the row's local directory, with the defaults a row changes one at a time. */
export function downloadRequest(env: RowEnv, remotePath: string, overrides: Partial<DownloadRequest> = {}): DownloadRequest {
  return directoryDownload(remotePath, env.local, { overwrite: 'overwrite', ...overrides });
}

/** The row's context with an AbortSignal that fires once a file has moved 1 MiB (the abort rows). */
export function abortingAtOneMiB(env: RowEnv): TransferContext {
  const controller = new AbortController();
  return env.ctx({
    signal: controller.signal,
    onProgress: (event) => {
      if (event.type === 'bytes' && event.fileBytes >= 1024 * 1024) controller.abort();
    },
  });
}

// ----------------------------------------------------------------------------- expectations, briefly

export function succeeds(outcome: Outcome): void {
  assert.equal(outcome.error, undefined, `the job fails: ${JSON.stringify(outcome.error)}`);
}

export function failsWith(code: string, ...words: string[]): (outcome: Outcome) => void {
  return (outcome) => {
    assert.ok(outcome.error, `the job succeeds, expected ${code}`);
    assert.equal(outcome.error.code, code, outcome.error.message);
    for (const word of words) assert.ok(outcome.error.message.includes(word), `"${outcome.error.message}" names ${word}`);
  };
}

export function names(view: string[]): string[] {
  return view.map((entry) => entry.split('\t')[0]);
}
