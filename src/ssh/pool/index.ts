/** The connection pool: SshPool and its options. Its parts are described in ssh-pool.ts. */
export { SshPool } from './ssh-pool';
export { DEFAULT_POOL_OPTIONS, type SshPoolOptions } from './options';
export type { PoolHooks } from './reporter';
