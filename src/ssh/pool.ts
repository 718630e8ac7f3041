import type { ChannelProvider, ExecLease, PoolOptions, SftpLease, SshEndpoint } from './types';
import { TransferError } from '../errors';

export type PoolState = 'connecting' | 'connected' | 'idle' | 'error' | 'closed';

export interface PoolHooks {
  onState?(state: PoolState, detail?: TransferError): void;
  log?: { warn(msg: string): void; debug?(msg: string): void };
}

export interface PoolStats {
  connections: number;
  channels: number;
  queued: number;
  maxChannelsSeen: number;
}

/** 8 channels per connection, 2 connections, idle close after 60 s, reconnect back-off 1 s .. 30 s */
export const DEFAULT_POOL_OPTIONS: PoolOptions = Object.freeze({
  maxChannelsPerConnection: 8,
  maxConnections: 2,
  idleCloseMs: 60_000,
  reconnectBaseMs: 1_000,
  reconnectMaxMs: 30_000,
});

export class SshPool implements ChannelProvider {
  readonly label: string;

  constructor(
    readonly endpoint: SshEndpoint,
    options: Partial<PoolOptions> = {},
    private readonly hooks: PoolHooks = {},
  ) {
    this.label = `${endpoint.username}@${endpoint.host}:${endpoint.port}`;
    void options;
    void this.hooks;
  }

  exec(_command: string | Buffer, _options?: { signal?: AbortSignal }): Promise<ExecLease> {
    return Promise.reject(new TransferError('EPROTO', 'not implemented yet', { host: this.label }));
  }

  sftp(_options?: { signal?: AbortSignal }): Promise<SftpLease> {
    return Promise.reject(new TransferError('EPROTO', 'not implemented yet', { host: this.label }));
  }

  stats(): PoolStats {
    return { connections: 0, channels: 0, queued: 0, maxChannelsSeen: 0 };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
