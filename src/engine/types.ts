/**
 * What the flow nodes ask of the engine, as plain data: a job (upload, download, a remote operation) for one
 * device of one connection, and what comes back. The same contract is served on Node-RED's thread
 * (local-engine.ts) and from a worker thread of its own (host.ts, worker-main.ts), so it holds nothing
 * a worker could not receive: no functions, no live objects, streams only as a reference the host pumps.
 */
import type { TransferError } from '../errors';
import type { RemoteRequest, RemoteResult } from '../remote';
import type { ConnectionReport, TestConnectionOptions } from '../ssh';
import type { PoolOptions, PoolState, PoolStats, SshEndpoint, SshWarning } from '../ssh/types';
import type { DownloadRequest, MemoryResult, ProgressEvent, TransferResult, TransportChoice, UploadRequest } from '../transfer';

/** What one connection node sets up once: its pools' options and where its leftover journals go. */
export interface ConnectionSetup {
  poolOptions: Partial<PoolOptions>;
  /** devices with a pool at once (1 without the device override) */
  maxDevices: number;
  /** the folder of the leftover journals, one file per server account */
  leftoverDir: string;
}

/** "Only new or changed files": the record file, cleared first when the message asked for a reset. */
export interface PullRecordOrder {
  file: string;
  reset: boolean;
}

export type EngineJob =
  | { kind: 'upload'; request: UploadRequest }
  /** `several`: a tree or a pattern into memory, one file per entry of the result */
  | { kind: 'download'; request: DownloadRequest; several: boolean; pullRecord?: PullRecordOrder }
  | { kind: 'remote'; request: RemoteRequest };

export type EngineResult<Job extends EngineJob> = Job extends { kind: 'remote' }
  ? RemoteResult
  : Job extends { kind: 'download'; several: true }
    ? MemoryResult
    : TransferResult;

/** One job with the device it goes to and the connection's limits. */
export interface JobOrder<Job extends EngineJob = EngineJob> {
  /** the device's endpoint, credentials included (they travel with the job and are never logged) */
  endpoint: SshEndpoint;
  transport: TransportChoice;
  idleTimeoutMs: number;
  /** the whole job must end within this, 0 = none */
  deadlineMs: number;
  job: Job;
}

/** What the node follows of one running job. */
export interface JobHooks {
  /** aborting ends the job with EABORTED (node closed, redeploy) */
  signal: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  debug?: (text: string) => void;
}

/** What a connection's pools tell its node: their state, warnings in the user's language, details. */
export interface ConnectionEvents {
  onState(state: PoolState, error?: TransferError): void;
  onWarning(warning: SshWarning): void;
  onDebug(text: string): void;
  /** closing a device's pool failed: the node says so in its log */
  onCloseFailed(detail: string): void;
  /** the engine's worker thread ended with work in flight (that work failed with EWORKER); the next job starts a new one */
  onEngineStopped(detail: string): void;
}

export interface EngineConnection {
  run<Job extends EngineJob>(order: JobOrder<Job>, hooks: JobHooks): Promise<EngineResult<Job>>;
  /** every device pool's counters added up; undefined before the first job asked for a connection */
  stats(): PoolStats | undefined;
  /** closes every device's pool; later jobs fail with EABORTED */
  close(): Promise<void>;
}

export interface Engine {
  connect(setup: ConnectionSetup, events: ConnectionEvents): EngineConnection;
  test(endpoint: SshEndpoint, options: TestConnectionOptions): Promise<ConnectionReport>;
}
