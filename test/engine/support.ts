/**
 * What the engine tests share: the endpoint of a harness sshd as a job carries it, a connection's events
 * recorded, job orders in the shape the nodes build them, a Readable that stops producing until told, and
 * a watch on unhandled rejections and uncaught exceptions while a test runs.
 */
import { Readable } from 'node:stream';
import type { ConnectionEvents, ConnectionSetup, EngineJob, JobOrder } from '../../src/engine';
import type { TransferError } from '../../src/errors';
import type { PoolState, SshEndpoint, SshWarning } from '../../src/ssh/types';
import type { UploadRequest, UploadSource } from '../../src/transfer';

/** The server's account, key auth, host key pinned by fingerprint, no keepalives. */
export function endpointOf(server: { host: string; port: number; username: string; clientKey: string; hostKeyFingerprints: string[] }): SshEndpoint {
  return {
    host: server.host,
    port: server.port,
    username: server.username,
    auth: { privateKey: server.clientKey },
    hostKey: { kind: 'fingerprint', fingerprints: server.hostKeyFingerprints },
    readyTimeoutMs: 20_000,
    keepaliveIntervalMs: 0,
  };
}

export function setupIn(leftoverDir: string): ConnectionSetup {
  return { poolOptions: {}, maxDevices: 1, leftoverDir };
}

export interface RecordedEvents extends ConnectionEvents {
  states: { state: PoolState; code?: string }[];
  warnings: SshWarning[];
  closeFailures: string[];
  stopped: string[];
}

export function recordEvents(): RecordedEvents {
  const recorded: RecordedEvents = {
    states: [],
    warnings: [],
    closeFailures: [],
    stopped: [],
    onState: (state: PoolState, error?: TransferError) => recorded.states.push({ state, ...(error ? { code: error.code } : {}) }),
    onWarning: (warning) => recorded.warnings.push(warning),
    onDebug: () => undefined,
    onCloseFailed: (detail) => recorded.closeFailures.push(detail),
    onEngineStopped: (detail) => recorded.stopped.push(detail),
  };
  return recorded;
}

export function order<Job extends EngineJob>(endpoint: SshEndpoint, job: Job, transport: JobOrder['transport'] = 'scp'): JobOrder<Job> {
  return { endpoint, transport, idleTimeoutMs: 20_000, deadlineMs: 0, job };
}

/** An upload as the upload node builds it by default: atomic, overwrite, no preserve. */
export function uploadJob(sources: UploadSource[], remotePath: string, extra: Partial<UploadRequest> = {}): { kind: 'upload'; request: UploadRequest } {
  return { kind: 'upload', request: { sources, remotePath, preserve: false, atomic: true, overwrite: 'overwrite', ...extra } };
}

/**
 * A stream of `data` in `chunkSize` pieces that stops giving after `openBytes` (it never ends): a payload that
 * is certainly unfinished while a test acts on its job.
 */
export function stalledStream(data: Buffer, chunkSize: number, openBytes: number): { stream: Readable; given(): number } {
  let given = 0;
  const stream = new Readable({
    read() {
      if (given >= openBytes) return;
      const end = Math.min(given + chunkSize, openBytes, data.length);
      const chunk = data.subarray(given, end);
      given = end;
      this.push(chunk);
    },
  });
  return { stream, given: () => given };
}

/** Records unhandled rejections and uncaught exceptions from now until `stop()`, which returns them. */
export function watchUnhandled(): { stop(): string[] } {
  const seen: string[] = [];
  const onRejection = (reason: unknown): void => {
    seen.push(`unhandledRejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
  };
  const onException = (error: Error): void => {
    seen.push(`uncaughtException: ${error.stack}`);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtExceptionMonitor', onException);
  return {
    stop: () => {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtExceptionMonitor', onException);
      return seen;
    },
  };
}

/** What `promise` came to, as a value (never rejects, so nothing is left unhandled while a test waits on others). */
export function outcomeOf<T>(promise: Promise<T>): Promise<{ value?: T; error?: Error & { code?: string } }> {
  return promise.then(
    (value) => ({ value }),
    (error: Error & { code?: string }) => ({ error }),
  );
}
