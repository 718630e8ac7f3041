/**
 * The part both flow nodes share: one job per message with its own AbortController, the status ring
 * (connecting / percent / done / error, or the number of jobs when several run), throttled progress
 * messages on output 2, errors turned into `done(err)` with a translated message and `err.code`, and
 * aborting everything when the node closes. The nodes themselves only read the message and shape results.
 */
import { TRANSFER_ERROR_CODES, TransferError, isTransferError, meaningOfErrno, type TransferErrorCode } from '../errors';
import { cleanText } from '../text';
import type { ProgressEvent, TransferContext } from '../transfer/types';
import type { ConnectionState, ConnectionUser, ScpConnectionNode } from './connection-api';
import type { DoneFunction, NodeAPI, NodeInstance, NodeMessage, NodeStatus, SendFunction } from './red-types';

export type Namespace = 'scp-upload' | 'scp-download';

/** At most this often a progress message (and a status update) per job: 4 per second. */
export const PROGRESS_INTERVAL_MS = 250;
/** How long 'close' waits for aborted jobs to finish before answering their messages itself. */
const CLOSE_GRACE_MS = 10_000;

/**
 * The catalog keys (under `<ns>.errors.`) of the EINVALs about the message or the node's settings. Their
 * catalog text says what is wrong; `detail` adds only what the user gave (never the summary again).
 */
export const INPUT_ERROR_KEYS = [
  'noConnection',
  'noRemotePath',
  'badRemotePath',
  'badProperty',
  'badPropertyType',
  'noLocalPath',
  'badLocalPath',
  'badPayload',
  'badMode',
  'badMaxSize',
  'badMaxFiles',
] as const;

export type InputErrorKey = (typeof INPUT_ERROR_KEYS)[number];

/** An EINVAL about the message or the node's settings, with its own catalog key under `<ns>.errors.`. */
export class InputError extends TransferError {
  constructor(
    readonly messageKey: InputErrorKey,
    summary: string,
    details: { host?: string; path?: string; detail?: string } = {},
  ) {
    super('EINVAL', summary, details);
  }
}

/** What a node's `prepare` returns: the job, and the remote path it is about (for progress and errors). */
export interface PreparedJob {
  remotePath: string;
  execute(ctx: TransferContext): Promise<JobOutput>;
}

export interface JobOutput {
  /** messages for output 1, in order */
  messages: NodeMessage[];
  /** payload bytes moved (for the final progress message and the status) */
  bytes: number;
}

/** The error a Catch node receives: `message` translated, `code` copied by Node-RED into msg.error.code. */
export interface NodeError extends Error {
  code: TransferErrorCode;
}

/** Binary units throughout (the size limit is in MiB too): 1 KiB = 1024 B. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * Status texts that carry numbers start with a digit or a sign, so the editor shows them as they are;
 * texts that start with a letter are catalog keys the editor translates into the viewer's language.
 */
export function transferStatusText(percent: number, rate: number): string {
  return rate > 0 ? `${percent}% · ${formatBytes(rate)}/s` : `${percent}%`;
}

function codeOf(error: unknown): TransferErrorCode {
  if (isTransferError(error)) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  if ((TRANSFER_ERROR_CODES as readonly unknown[]).includes(code)) return code as TransferErrorCode;
  // A system error that escaped the engine unwrapped still gets the code of its situation (EMFILE: EIO).
  return meaningOfErrno(error)?.code ?? 'EPROTO';
}

export function toNodeError(
  RED: NodeAPI,
  namespace: Namespace,
  error: unknown,
  context: { host: string; path: string },
): NodeError {
  const code = codeOf(error);
  let detail: string;
  // An input error's catalog text already says what its summary says: only the user's value follows.
  if (error instanceof InputError) detail = error.detail ?? '';
  else if (isTransferError(error)) detail = error.detail ? `${error.summary}: ${error.detail}` : error.summary;
  else detail = cleanText(error instanceof Error ? error.message : String(error));
  const values = {
    host: isTransferError(error) && error.host ? error.host : context.host,
    path: isTransferError(error) && error.path ? error.path : context.path,
    detail,
  };
  // A situation with a reason (a name too long) reads the same whichever transport or step met it.
  const key = error instanceof InputError ? error.messageKey : isTransferError(error) && error.reason ? error.reason : code;
  const nodeError = new Error(RED._(`${namespace}.errors.${key}`, values)) as NodeError;
  // An own property: Node-RED copies `code` from the error onto msg.error.code for Catch nodes.
  nodeError.code = code;
  return nodeError;
}

/** Follows one job's progress events and decides when a progress message is due. */
class ProgressTracker {
  private readonly startedAt = Date.now();
  private lastReport = 0;
  private file = '';
  private fileBytes = 0;
  private fileSize = 0;
  private bytes = 0;
  private total: number | undefined;
  /** files the overwrite policy skipped, and their sizes: they count as done, not as copied */
  private skipped = 0;
  private skippedBytes = 0;

  /** Returns true when a report is due (first event, then at most every PROGRESS_INTERVAL_MS). */
  update(event: ProgressEvent): boolean {
    if (event.type === 'fileStart') {
      this.file = event.path;
      this.fileSize = event.size;
      this.fileBytes = 0;
      if (event.totalSize !== undefined) this.total = event.totalSize;
    } else if (event.type === 'bytes') {
      this.file = event.path;
      this.fileBytes = event.fileBytes;
      this.fileSize = event.fileSize;
      this.bytes = event.totalBytes;
      if (event.totalSize !== undefined) this.total = event.totalSize;
    } else if (event.transferred) {
      this.fileBytes = event.size;
      this.fileSize = event.size;
    } else {
      this.skipped += 1;
      this.skippedBytes += event.size;
    }
    const now = Date.now();
    if (now - this.lastReport < PROGRESS_INTERVAL_MS) return false;
    this.lastReport = now;
    return true;
  }

  /** The progress payload; `finalBytes` (the bytes copied) marks the end of the job (100 %). */
  payload(finalBytes?: number): Record<string, unknown> {
    const seconds = Math.max((Date.now() - this.startedAt) / 1000, 0.001);
    const final = finalBytes !== undefined;
    const bytes = finalBytes ?? this.bytes;
    // At the end the total is known either way: what was copied and what was skipped.
    const total = final ? (this.total ?? bytes + this.skippedBytes) : this.total;
    const done = bytes + this.skippedBytes;
    let percent: number;
    if (final) percent = 100;
    else if (total !== undefined && total > 0) percent = Math.floor((done / total) * 100);
    else if (this.fileSize > 0) percent = Math.floor((this.fileBytes / this.fileSize) * 100);
    else percent = 0;
    const rate = Math.round(bytes / seconds);
    const eta = total !== undefined && rate > 0 ? Math.max(0, (total - done) / rate) : null;
    return {
      file: this.file,
      bytes,
      total: total ?? null,
      percent: Math.min(percent, 100),
      fileBytes: this.fileBytes,
      fileSize: this.fileSize,
      skipped: this.skipped,
      rate,
      eta: eta === null ? null : Math.round(eta * 10) / 10,
    };
  }
}

interface RunningJob {
  controller: AbortController;
  finished: Promise<void>;
  /** answers the message (once) */
  finish(error?: Error): void;
  percent: number;
  /** bytes per second so far */
  rate: number;
}

export class JobRunner implements ConnectionUser {
  private readonly jobs = new Set<RunningJob>();
  private closing = false;

  constructor(
    private readonly RED: NodeAPI,
    private readonly node: NodeInstance,
    private readonly namespace: Namespace,
    private readonly connection: ScpConnectionNode | undefined,
    private readonly progressOutput: boolean,
  ) {
    connection?.register(this);
    this.showIdle();
    node.on('close', (_removed: boolean, done: () => void) => {
      this.close().then(done, done);
    });
  }

  /** A status text the editor translates into the viewer's language: a key of the node's catalog. */
  private key(name: 'connecting' | 'keyUnverified'): string {
    return `${this.namespace}.status.${name}`;
  }

  private setStatus(status: NodeStatus | Record<string, never>): void {
    this.node.status(status);
  }

  private showIdle(): void {
    if (this.connection?.hostKeyUnverified) this.setStatus({ fill: 'yellow', shape: 'ring', text: this.key('keyUnverified') });
    else this.setStatus({});
  }

  private showBusy(job: RunningJob): void {
    if (this.jobs.size > 1) {
      const rate = [...this.jobs].reduce((sum, running) => sum + running.rate, 0);
      this.setStatus({ fill: 'blue', shape: 'dot', text: `×${this.jobs.size}${rate > 0 ? ` · ${formatBytes(rate)}/s` : ''}` });
    } else this.setStatus({ fill: 'blue', shape: 'dot', text: transferStatusText(job.percent, job.rate) });
  }

  connectionState(state: ConnectionState, error?: TransferError): void {
    if (this.closing) return;
    if (state === 'connecting' && this.jobs.size > 0) {
      this.setStatus({ fill: 'yellow', shape: 'ring', text: this.key('connecting') });
    } else if (state === 'error' && this.jobs.size === 0 && error) {
      this.setStatus({ fill: 'red', shape: 'ring', text: error.code });
    }
  }

  /** Output 1 only, or [result, null] when the progress output exists. */
  private sendResult(send: SendFunction, msg: NodeMessage): void {
    send(this.progressOutput ? [msg, null] : msg);
  }

  private sendProgress(send: SendFunction, msg: NodeMessage, remotePath: string, payload: Record<string, unknown>): void {
    if (!this.progressOutput) return;
    const progress: NodeMessage = { _msgid: this.RED.util.generateId(), payload, remotePath };
    if (msg.topic !== undefined) progress.topic = msg.topic;
    send([null, progress]);
  }

  /** Handles one input message: `prepare` reads it (may throw InputError), the job runs, results go out. */
  handle(msg: NodeMessage, send: SendFunction, done: DoneFunction, prepare: (msg: NodeMessage) => Promise<PreparedJob>): void {
    const host = this.connection?.label ?? '';
    let remotePath = '';
    let answered = false;
    const controller = new AbortController();
    let settle!: () => void;
    const job: RunningJob = {
      controller,
      finished: new Promise<void>((resolve) => {
        settle = resolve;
      }),
      percent: 0,
      rate: 0,
      finish: (error?: Error) => {
        if (answered) return;
        answered = true;
        this.jobs.delete(job);
        settle();
        if (error) done(error);
        else done();
      },
    };

    const run = async (): Promise<void> => {
      if (!this.connection) throw new InputError('noConnection', 'no scp-connection is configured');
      if (this.closing) throw new TransferError('EABORTED', 'the node is closing', { host });
      this.jobs.add(job);
      if (this.jobs.size > 1) this.showBusy(job);
      else this.setStatus({ fill: 'yellow', shape: 'ring', text: this.key('connecting') });
      const prepared = await prepare(msg);
      remotePath = prepared.remotePath;
      const channels = this.connection.channels();
      const tracker = new ProgressTracker();
      const ctx: TransferContext = {
        channels,
        transport: this.connection.transport,
        signal: controller.signal,
        idleTimeoutMs: this.connection.idleTimeoutMs,
        deadlineMs: this.connection.transferTimeoutMs,
        onProgress: (event) => {
          if (answered || !tracker.update(event)) return;
          const payload = tracker.payload();
          job.percent = payload.percent as number;
          job.rate = payload.rate as number;
          this.showBusy(job);
          this.sendProgress(send, msg, remotePath, payload);
        },
        leftovers: this.connection.leftovers,
        debug: (text) => this.node.debug(text),
      };
      const execution = prepared.execute(ctx);
      this.connection.holdOpenFor(execution);
      const output = await execution;
      if (answered) return;
      this.sendProgress(send, msg, remotePath, tracker.payload(output.bytes));
      for (const result of output.messages) this.sendResult(send, result);
      this.jobs.delete(job);
      if (this.jobs.size > 0) this.showBusy([...this.jobs][0]);
      else {
        const fill = this.connection.hostKeyUnverified ? 'yellow' : 'green';
        this.setStatus({ fill, shape: 'dot', text: `✓ ${formatBytes(output.bytes)}` });
      }
      job.finish();
    };

    run().catch((error: unknown) => {
      if (answered) return;
      const nodeError = toNodeError(this.RED, this.namespace, error, { host, path: remotePath });
      this.jobs.delete(job);
      if (!this.closing) {
        if (this.jobs.size > 0) this.showBusy([...this.jobs][0]);
        else this.setStatus({ fill: 'red', shape: 'ring', text: nodeError.code });
      }
      job.finish(nodeError);
    });
  }

  /** Aborts every job (they end with EABORTED), waits for them, answers any that did not end, clears status. */
  private async close(): Promise<void> {
    this.closing = true;
    this.connection?.deregister(this);
    const running = [...this.jobs];
    for (const job of running) job.controller.abort();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_GRACE_MS);
      timer.unref();
    });
    await Promise.race([Promise.all(running.map((job) => job.finished)), grace]);
    if (timer) clearTimeout(timer);
    for (const job of running) {
      job.finish(
        toNodeError(this.RED, this.namespace, new TransferError('EABORTED', 'the node was closed'), {
          host: this.connection?.label ?? '',
          path: '',
        }),
      );
    }
    this.setStatus({});
  }
}

/**
 * The TypedInput types Node-RED evaluates. Any other type would come back as the literal text of the
 * property (Node-RED's evaluateNodeProperty passes unknown types through), silently a wrong path.
 */
const PROPERTY_TYPES = new Set(['str', 'num', 'bool', 'json', 'bin', 're', 'date', 'jsonata', 'env', 'msg', 'flow', 'global', 'node', 'cred']);

/** Resolves a TypedInput property for this message (RED.util.evaluateNodeProperty as a promise). */
export function evaluateProperty(RED: NodeAPI, node: NodeInstance, value: string, type: string, msg: NodeMessage): Promise<unknown> {
  if (!PROPERTY_TYPES.has(type)) {
    return Promise.reject(new InputError('badPropertyType', `the property type "${type}" is not known`, { detail: cleanText(type) }));
  }
  // Which property failed, and how: a JSONata or JSON error alone does not say where to look.
  const failed = (error: unknown): InputError =>
    new InputError('badProperty', 'a property could not be evaluated', {
      detail: `${type} ${cleanText(value, 200)}: ${cleanText(error instanceof Error ? error.message : String(error))}`,
    });
  return new Promise((resolve, reject) => {
    try {
      RED.util.evaluateNodeProperty(value, type, node, msg, (error, result) => {
        if (error) reject(failed(error));
        else resolve(result);
      });
    } catch (error) {
      reject(failed(error));
    }
  });
}

/** "a number", "an array", "null": what a value is, for messages that say what was given instead. */
export function describeValueType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' || type === 'undefined' ? `an ${type}` : `a ${type}`;
}

/** The result for msg.scp: the TransferResult without file contents. */
export function describeResult<T extends { files: Array<{ data?: Buffer }> }>(result: T): T {
  return { ...result, files: result.files.map(({ data: _data, ...file }) => file) };
}

/**
 * A remote path from the message: a non-empty string, or a Buffer for names that are not valid UTF-8
 * (passed to the engine as raw bytes; `text` is its escaped form for progress and errors).
 */
export function remotePathFrom(value: unknown): { text: string; bytes?: Buffer } {
  if (typeof value === 'string' && value !== '') return { text: value };
  if (Buffer.isBuffer(value) && value.length > 0) return { text: cleanText(value, 1024), bytes: value };
  if (value === undefined || value === null || value === '' || Buffer.isBuffer(value)) throw new InputError('noRemotePath', 'the remote path is empty');
  throw new InputError('badRemotePath', 'the remote path must be a string', { detail: describeValueType(value) });
}
