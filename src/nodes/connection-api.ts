/**
 * What an scp-connection config node offers the flow nodes that use it (the 05-tls.js pattern: a config
 * node with a small method API). Kept apart from the node's constructor so the flow nodes depend on the
 * interface only.
 */
import type { EngineJob, EngineResult, JobHooks } from '../engine';
import type { TransferError } from '../errors';
import type { PoolState, PoolStats, SshEndpoint } from '../ssh/types';
import type { TransportChoice } from '../transfer';
import type { DeviceAddress } from './device';
import type { NodeInstance, NodeMessage } from './red-types';

export type ConnectionState = PoolState;

/** A flow node that shows the connection's state in its own status. */
export interface ConnectionUser {
  connectionState(state: ConnectionState, error?: TransferError): void;
}

/** The device one message goes to: the configured one, or the one msg.host/port/username name. */
export interface Device extends DeviceAddress {
  /** "user@host:port", for messages (never a secret) */
  readonly label: string;
  /**
   * Carries out one job on this device in the engine, over the device's pooled connection (waiting while as
   * many other devices as allowed are busy), with the connection's transport and time limits.
   */
  run<Job extends EngineJob>(job: Job, hooks: JobHooks): Promise<EngineResult<Job>>;
}

export interface ScpConnectionNode extends NodeInstance {
  /**
   * The device for this message. Throws EINVAL (message translated) when the configuration is unusable,
   * or the message names a device badly or without the connection allowing it.
   */
  deviceFor(msg: NodeMessage): Device;
  readonly transport: TransportChoice;
  /** true when the host-key policy is 'any': flow nodes keep that visible in their status */
  readonly hostKeyUnverified: boolean;
  /** "user@host:port", for messages (never a secret) */
  readonly label: string;
  /** where the deployed node's secrets go (endpoint.ts destinationOf): "Test connection" compares the dialog's with it */
  readonly destination: string;
  /** The endpoint this node connects to; `visited` holds the connection ids already on the jump chain. */
  endpointFor(visited: string[]): SshEndpoint;
  /** The counters of every device's pool added up, or undefined before the first connection was asked for. */
  poolStats(): PoolStats | undefined;
  register(user: ConnectionUser): void;
  /** The node's close waits (bounded) for this job, so its clean-up still has the pool. */
  holdOpenFor(job: Promise<unknown>): void;
  deregister(user: ConnectionUser): void;
}

export function isScpConnectionNode(node: unknown): node is ScpConnectionNode {
  return (
    typeof node === 'object' &&
    node !== null &&
    typeof (node as ScpConnectionNode).deviceFor === 'function' &&
    typeof (node as ScpConnectionNode).endpointFor === 'function'
  );
}
