/**
 * The part both flow nodes share: one job per message with its own AbortController, the status ring
 * (connecting / percent / done / error, or the number of jobs when several run), throttled progress
 * messages on output 2, errors turned into `done(err)` with a translated message and `err.code`, and
 * aborting everything when the node closes. The nodes themselves only read the message and shape results.
 */
import type { EngineJob, EngineResult, JobHooks } from '../engine';
import { TransferError } from '../errors';
import type { ConnectionState, ConnectionUser, Device, ScpConnectionNode } from './connection-api';
import { InputError } from './input-error';
import { toNodeError, type Namespace } from './node-error';
import { ProgressTracker, formatBytes, transferStatusText } from './progress';
import type { DoneFunction, NodeAPI, NodeInstance, NodeMessage, NodeStatus, SendFunction } from './red-types';
import { deviceFields, nameDevice } from './result';

/** How long 'close' waits for aborted jobs to finish before answering their messages itself. */
const CLOSE_GRACE_MS = 10_000;

/** Hands one job to the engine, for the message's device. */
export type RunJob = <Job extends EngineJob>(job: Job) => Promise<EngineResult<Job>>;

/** What a node's `prepare` returns: the job, and the remote path it is about (for progress and errors). */
export interface PreparedJob {
  remotePath: string;
  /** `device`: the host, port and user the message goes to (for state kept per device, and errors) */
  execute(run: RunJob, device: Device): Promise<JobOutput>;
}

export interface JobOutput {
  /** messages for output 1, in order */
  messages: NodeMessage[];
  /** payload bytes moved (for the final progress message and the status) */
  bytes: number;
  /** the status text when done, instead of the bytes moved (a listing moves none) */
  doneText?: string;
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

  private sendProgress(send: SendFunction, msg: NodeMessage, device: Device, remotePath: string, payload: Record<string, unknown>): void {
    if (!this.progressOutput) return;
    const progress: NodeMessage = { _msgid: this.RED.util.generateId(), payload, remotePath, scp: deviceFields(device) };
    if (msg.topic !== undefined) progress.topic = msg.topic;
    send([null, progress]);
  }

  /** Handles one input message: `prepare` reads it (may throw InputError), the job runs, results go out. */
  handle(msg: NodeMessage, send: SendFunction, done: DoneFunction, prepare: (msg: NodeMessage) => Promise<PreparedJob>): void {
    let host = this.connection?.label ?? '';
    /** the device this message goes to, once the message named it (or not) validly */
    let device: Device | undefined;
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
      const target = this.connection.deviceFor(msg);
      device = target;
      host = target.label;
      const prepared = await prepare(msg);
      remotePath = prepared.remotePath;
      const tracker = new ProgressTracker();
      const hooks: JobHooks = {
        signal: controller.signal,
        onProgress: (event) => {
          if (answered || !tracker.update(event)) return;
          const payload = tracker.payload();
          job.percent = payload.percent as number;
          job.rate = payload.rate as number;
          this.showBusy(job);
          this.sendProgress(send, msg, target, remotePath, payload);
        },
        debug: (text) => this.node.debug(text),
      };
      const execution = prepared.execute((engineJob) => target.run(engineJob, hooks), target);
      this.connection.holdOpenFor(execution);
      const output = await execution;
      if (answered) return;
      this.sendProgress(send, msg, target, remotePath, tracker.payload(output.bytes));
      for (const result of output.messages) this.sendResult(send, nameDevice(result, target));
      this.jobs.delete(job);
      if (this.jobs.size > 0) this.showBusy([...this.jobs][0]);
      else {
        const fill = this.connection.hostKeyUnverified ? 'yellow' : 'green';
        this.setStatus({ fill, shape: 'dot', text: `✓ ${output.doneText ?? formatBytes(output.bytes)}` });
      }
      job.finish();
    };

    run().catch((error: unknown) => {
      if (answered) return;
      const nodeError = toNodeError(this.RED, this.namespace, error, { host, path: remotePath });
      // The Catch node gets this msg: it names the device, so a flow can route failures by device too.
      if (device) msg.scp = deviceFields(device);
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
