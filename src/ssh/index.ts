/**
 * Connections you can trust: the pool, authentication, host-key verification, the "Test connection"
 * probe. Everything the nodes and the transfer layer need from src/ssh is re-exported here.
 */
export * from './types';
export { SshPool, DEFAULT_POOL_OPTIONS, type PoolHooks, type SshPoolOptions } from './pool';
export { testConnection, type ConnectionReport, type TestConnectionOptions } from './test-connection';
export { fingerprintOf, normaliseFingerprint } from './fingerprint';
export { COMPRESSION_ALGORITHMS } from './compression';
export { cryptoBindingAvailable } from './crypto-binding';
export { DevicePools, deviceKeyOf, type DevicePool, type DeviceLease, type DevicePoolsStats } from './device-pools';
