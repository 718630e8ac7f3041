/**
 * One SshPool per device (user, host, port) for a fleet served by one configuration, with a cap on the
 * devices connected at once. Each device has its own pool, so its connect timeout, back-off and failure
 * memory (EAUTH/EHOSTKEY cool-down) are its own: an unreachable device never delays the others. The
 * per-connection channel cap stays the pool's.
 *
 * A job holds its device from `acquire` until `release`. A new device is admitted while fewer than
 * `maxDevices` pools exist; at the cap, an idle device's pool (nobody holds it) is closed to make room,
 * one already disconnected first, then the one unused longest. When every device is busy, the request
 * waits (in order, abortable) for a release.
 */
import { TransferError } from '../errors';
import type { ChannelProvider, PoolStats, SshEndpoint } from './types';

/** What the registry needs of a pool: SshPool fits. */
export interface DevicePool extends ChannelProvider {
  stats(): PoolStats;
  close(): Promise<void>;
}

/** A job's hold on one device's pool; `release` is idempotent. */
export interface DeviceLease<Pool extends DevicePool> {
  readonly pool: Pool;
  release(): void;
}

export interface DevicePoolsStats extends PoolStats {
  /** device pools that exist now (connected, or held by a job) */
  devices: number;
  /** requests waiting for a device slot */
  waitingForDevice: number;
}

interface Device<Pool> {
  pool: Pool;
  holders: number;
  lastUsed: number;
}

interface Waiter {
  key: string;
  endpoint: SshEndpoint;
  resolve(device: unknown): void;
  reject(error: TransferError): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** The device a pool serves: user, host (case-insensitive) and port. */
export function deviceKeyOf(endpoint: Pick<SshEndpoint, 'username' | 'host' | 'port'>): string {
  return `${endpoint.username}@${endpoint.host.toLowerCase()}#${endpoint.port}`;
}

export class DevicePools<Pool extends DevicePool> {
  private readonly devices = new Map<string, Device<Pool>>();
  private readonly waiting: Waiter[] = [];
  private closed = false;

  constructor(
    private readonly create: (endpoint: SshEndpoint) => Pool,
    private readonly maxDevices: number,
    private readonly onClose: (pool: Pool, error?: unknown) => void = () => undefined,
  ) {}

  /** Holds the device's pool for one job; waits while `maxDevices` other devices are all busy. */
  acquire(endpoint: SshEndpoint, signal?: AbortSignal): Promise<DeviceLease<Pool>> {
    if (this.closed) return Promise.reject(new TransferError('EABORTED', 'the connection node was closed', { host: `${endpoint.host}:${endpoint.port}` }));
    if (signal?.aborted) return Promise.reject(aborted(endpoint));
    const key = deviceKeyOf(endpoint);
    const device = this.admit(key, endpoint);
    if (device) return Promise.resolve(this.lease(device));
    return new Promise<DeviceLease<Pool>>((resolve, reject) => {
      const waiter: Waiter = {
        key,
        endpoint,
        resolve: (admitted) => resolve(this.lease(admitted as Device<Pool>)),
        reject,
        signal,
      };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(aborted(endpoint));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiting.push(waiter);
    });
  }

  /** The counters of every device's pool, added up. */
  stats(): DevicePoolsStats {
    const total: DevicePoolsStats = { connections: 0, channels: 0, queued: 0, maxChannelsSeen: 0, devices: this.devices.size, waitingForDevice: this.waiting.length };
    for (const { pool } of this.devices.values()) {
      const stats = pool.stats();
      total.connections += stats.connections;
      total.channels += stats.channels;
      total.queued += stats.queued;
      total.maxChannelsSeen = Math.max(total.maxChannelsSeen, stats.maxChannelsSeen);
    }
    return total;
  }

  /** Closes every device's pool; waiting requests fail with EABORTED, later ones at once. */
  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) {
      if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.reject(new TransferError('EABORTED', 'the connection node was closed', { host: `${waiter.endpoint.host}:${waiter.endpoint.port}` }));
    }
    // The pools stay listed, so their final counters remain readable.
    const pools = [...this.devices.values()].map((device) => device.pool);
    await Promise.all(pools.map((pool) => pool.close().catch((error: unknown) => this.onClose(pool, error))));
  }

  /** The device, held, if it exists or there is room for it now. */
  private admit(key: string, endpoint: SshEndpoint): Device<Pool> | undefined {
    let device = this.devices.get(key);
    if (!device) {
      if (this.devices.size >= this.maxDevices && !this.evictIdle()) return undefined;
      device = { pool: this.create(endpoint), holders: 0, lastUsed: Date.now() };
      this.devices.set(key, device);
    }
    device.holders += 1;
    return device;
  }

  private lease(device: Device<Pool>): DeviceLease<Pool> {
    let released = false;
    return {
      pool: device.pool,
      release: () => {
        if (released) return;
        released = true;
        device.holders -= 1;
        device.lastUsed = Date.now();
        this.pump();
      },
    };
  }

  /** Closes the pool of one idle device: one already disconnected, else the one unused longest. */
  private evictIdle(): boolean {
    let victim: [string, Device<Pool>] | undefined;
    const rank = (device: Device<Pool>): [number, number] => [device.pool.stats().connections > 0 ? 1 : 0, device.lastUsed];
    for (const entry of this.devices) {
      if (entry[1].holders > 0) continue;
      if (!victim) {
        victim = entry;
        continue;
      }
      const [connected, used] = rank(entry[1]);
      const [victimConnected, victimUsed] = rank(victim[1]);
      if (connected < victimConnected || (connected === victimConnected && used < victimUsed)) victim = entry;
    }
    if (!victim) return false;
    this.devices.delete(victim[0]);
    const pool = victim[1].pool;
    pool.close().then(
      () => this.onClose(pool),
      (error: unknown) => this.onClose(pool, error),
    );
    return true;
  }

  /**
   * Admits waiting requests: those whose device exists at once, new devices in order of arrival as far
   * as room allows (a later new device never overtakes an earlier one).
   */
  private pump(): void {
    let room = true;
    for (const waiter of [...this.waiting]) {
      if (this.closed) return;
      if (!this.devices.has(waiter.key) && !room) continue;
      const device = this.admit(waiter.key, waiter.endpoint);
      if (!device) {
        room = false;
        continue;
      }
      this.waiting.splice(this.waiting.indexOf(waiter), 1);
      if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(device);
    }
  }
}

function aborted(endpoint: SshEndpoint): TransferError {
  return new TransferError('EABORTED', 'stopped while waiting for a free device slot', { host: `${endpoint.host}:${endpoint.port}` });
}
