/**
 * The engine on the thread that calls it: one DevicePools of SshPools per connection, a job's device held
 * from the start of the job to the end of its clean-up, one leftover journal per server account, the pull
 * record of "only new" loaded and saved around the pull. The worker thread runs exactly this; so does
 * Node-RED's own thread when NODE_RED_SCP_ENGINE=inline.
 */
import { createHash } from 'crypto';
import path from 'path';
import { TransferError, isTransferError } from '../errors';
import { remote } from '../remote';
import { DevicePools, SshPool, testConnection } from '../ssh';
import type { PoolStats, SshEndpoint } from '../ssh/types';
import { FilePullRecord, download, downloadSeveralIntoMemory, leftoverJournalFor, upload, type TransferContext } from '../transfer';
import type { ConnectionEvents, ConnectionSetup, Engine, EngineConnection, EngineJob, EngineResult, JobHooks, JobOrder, PullRecordOrder } from './types';

/** One journal file per server account, through the same jump hosts: `user@host:port` down the chain. */
export function serverKey(endpoint: SshEndpoint): string {
  const chain: string[] = [];
  for (let hop: SshEndpoint | undefined = endpoint; hop; hop = hop.jumpHost) chain.push(`${hop.username}@${hop.host}:${hop.port}`);
  return createHash('sha256').update(chain.join(' via ')).digest('hex').slice(0, 32);
}

/** Runs `pull` with the record of earlier pulls (cleared first on a reset) and saves it, also after a failure. */
async function withPullRecord<T>(order: PullRecordOrder | undefined, pull: (record: FilePullRecord | undefined) => Promise<T>): Promise<T> {
  if (!order) return pull(undefined);
  if (order.reset) await FilePullRecord.clear(order.file);
  const record = await FilePullRecord.load(order.file);
  try {
    return await pull(record);
  } finally {
    await record.save();
  }
}

/** Carries out one job over a context whose device is held. */
function carryOut(ctx: TransferContext, job: EngineJob): Promise<unknown> {
  switch (job.kind) {
    case 'upload':
      return upload(ctx, job.request);
    case 'remote':
      return remote(ctx, job.request);
    case 'download':
      return withPullRecord(job.pullRecord, (record) => {
        const request = record ? { ...job.request, onlyChanged: { record } } : job.request;
        return job.several ? downloadSeveralIntoMemory(ctx, request) : download(ctx, request);
      });
  }
}

class LocalConnection implements EngineConnection {
  private pools: DevicePools<SshPool> | undefined;
  private closed = false;

  constructor(
    private readonly setup: ConnectionSetup,
    private readonly events: ConnectionEvents,
  ) {}

  private devicePools(): DevicePools<SshPool> {
    return (this.pools ??= new DevicePools(
      (endpoint) =>
        new SshPool(endpoint, this.setup.poolOptions, {
          onState: (state, error) => this.events.onState(state, error),
          log: { warn: (_english, warning) => this.events.onWarning(warning), debug: (text) => this.events.onDebug(text) },
        }),
      this.setup.maxDevices,
      (_pool, error) => {
        if (error) this.events.onCloseFailed(isTransferError(error) ? error.message : String(error));
      },
    ));
  }

  async run<Job extends EngineJob>(order: JobOrder<Job>, hooks: JobHooks): Promise<EngineResult<Job>> {
    const { endpoint } = order;
    if (this.closed) throw new TransferError('EABORTED', 'the connection node was closed', { host: `${endpoint.host}:${endpoint.port}` });
    const lease = await this.devicePools().acquire(endpoint, hooks.signal);
    try {
      // One journal file per device: its leftovers are removed on that device, not on another.
      // (the journal is shared by every job of the device: its words go to the connection, not to one job)
      const leftovers = leftoverJournalFor(path.join(this.setup.leftoverDir, `${serverKey(endpoint)}.json`), (text) => this.events.onDebug(text));
      const ctx: TransferContext = {
        channels: lease.pool,
        transport: order.transport,
        signal: hooks.signal,
        idleTimeoutMs: order.idleTimeoutMs,
        deadlineMs: order.deadlineMs,
        leftovers,
        ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
        ...(hooks.debug ? { debug: hooks.debug } : {}),
      };
      return (await carryOut(ctx, order.job)) as EngineResult<Job>;
    } finally {
      // The job and its clean-up are over: another device may have this one's slot.
      lease.release();
    }
  }

  stats(): PoolStats | undefined {
    return this.pools?.stats();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pools?.close();
  }
}

export class LocalEngine implements Engine {
  connect(setup: ConnectionSetup, events: ConnectionEvents): EngineConnection {
    return new LocalConnection(setup, events);
  }

  test: Engine['test'] = (endpoint, options) => testConnection(endpoint, options);
}
