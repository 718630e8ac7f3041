/** The package's engine alone (src/transfer over src/ssh's pool), in the bench process, the pool kept warm. */
import type { SshPool } from '../../src/ssh';
import { download, upload, type TransferContext } from '../../src/transfer';
import type { SshdServer } from '../../test/harness';
import { poolProvider } from '../../test/transfer/support';
import { inProcess, type Contender, type CopyJob } from './types';

const NO_LIMITS = { maxFileBytes: Number.MAX_SAFE_INTEGER, maxTotalBytes: Number.MAX_SAFE_INTEGER, maxFiles: 1_000_000, maxDepth: 64 };

/** The same defaults as the connection node: ssh2's algorithm order, transport 'auto', the pool's defaults. */
export function engineContext(server: SshdServer): TransferContext & { channels: SshPool } {
  return { channels: poolProvider(server), transport: 'auto', idleTimeoutMs: 60_000 };
}

export function engineCopy(ctx: TransferContext, job: CopyJob): Promise<unknown> {
  if (job.direction === 'up') {
    return upload(ctx, { sources: [{ kind: 'path', path: job.local }], remotePath: job.remote, preserve: false, atomic: true, overwrite: 'overwrite' });
  }
  return download(ctx, {
    remotePath: job.remote,
    target: { kind: job.recursive ? 'directory' : 'file', path: job.local },
    recursive: job.recursive,
    glob: false,
    preserve: false,
    overwrite: 'overwrite',
    limits: NO_LIMITS,
  });
}

export function engineContender(server: SshdServer): Contender {
  const ctx = engineContext(server);
  return {
    name: 'engine alone',
    recursive: true,
    copy: (job) => inProcess(() => engineCopy(ctx, job)),
    close: () => ctx.channels.close(),
  };
}
