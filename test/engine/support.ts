/**
 * What the engine tests share: the endpoint of a harness sshd as a job carries it, a connection's events
 * recorded, job orders in the shape the nodes build them, a Readable that stops producing until told, and
 * a watch on unhandled rejections and uncaught exceptions while a test runs.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ConnectionEvents, ConnectionSetup, EngineJob, JobOrder } from '../../src/engine';
import type { TransferError } from '../../src/errors';
import type { PoolState, SshEndpoint, SshWarning } from '../../src/ssh/types';
import type { UploadRequest, UploadSource } from '../../src/transfer';
import { endpointFor } from '../ssh/helpers';

/** The server's account, key auth, host key pinned by fingerprint, no keepalives (as the ssh tests build it). */
export function endpointOf(server: { host: string; port: number; username: string; clientKey: string; hostKeyFingerprints: string[] }): SshEndpoint {
  return endpointFor(server, { privateKey: server.clientKey });
}

/**
 * `total` bytes in `chunkSize` chunks, made as fast as they are read, with a hash of what it gave and its
 * first 64 chunks. Each chunk is a Buffer.alloc of its own (it owns its ArrayBuffer: the kind a careless
 * pump would hand over, and so empty for the caller).
 */
export function fastSource(total: number, chunkSize: number): { stream: Readable; sha256(): string; chunks: Buffer[] } {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let made = 0;
  const stream = new Readable({
    read() {
      if (made >= total) {
        this.push(null);
        return;
      }
      const chunk = Buffer.alloc(Math.min(chunkSize, total - made));
      // cheap content that differs at every offset, so a lost, doubled or reordered chunk shows in the hash
      for (let at = 0; at < chunk.length; at += 4) chunk.writeUInt32LE(((made + at) * 2654435761) >>> 0, at);
      made += chunk.length;
      hash.update(chunk);
      if (chunks.length < 64) chunks.push(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest('hex'), chunks };
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
