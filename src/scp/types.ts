/** The session contracts shared by the SCP source (upload) and sink (download) state machines. */
import type { Readable, Writable } from 'stream';
import type { TransferError } from '../errors';

/**
 * The three streams of an exec channel running `scp -t` or `scp -f`. An ssh2 ClientChannel fits:
 * `{ stdout: channel, stdin: channel, stderr: channel.stderr }`.
 */
export interface ScpStreams {
  stdout: NodeJS.ReadableStream & Readable;
  stdin: Writable;
  stderr?: Readable;
  /**
   * What emits 'exit' (code) / 'close' (code) when the remote command ends; defaults to `stdout` (an ssh2
   * ClientChannel emits both). Create the session right after exec so no 'exit' is missed.
   */
  channel?: NodeJS.EventEmitter;
}

export interface ScpSessionOptions {
  /** each wait (reply, data, write drain, exit status) longer than this fails with ETIMEDOUT */
  idleTimeoutMs: number;
  /** abort -> EABORTED, streams destroyed */
  signal?: AbortSignal;
  /** for error messages */
  host: string;
  path: string;
  /** keep only a capped tail of stderr (default 8 KiB) while draining all of it */
  maxStderrBytes?: number;
}

/** `ok: false` = this item failed (the server answered \x01), the session goes on. */
export type ScpStepResult = { ok: true } | { ok: false; error: TransferError };

export interface ScpFinish {
  /** the remote command's exit status, null when it ended without one (signal, or the channel just closed) */
  exitCode: number | null;
  /** the capped, cleaned tail of the server's stderr */
  stderr: string;
}
