/**
 * One download through the package's engine in a process of its own, run by bench/node-lines.ts under a Node.js
 * line's binary from a user directory where the tarball was installed for that line (so ssh2's native binding,
 * or its absence, is that line's). Imports nothing at build time: the engine comes from `dist` in the argument.
 * Prints one JSON line: the Node version, whether ssh2's binding loaded, wall and CPU time.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import { join } from 'node:path';

interface ChildInput {
  /** the installed package's dist/ */
  dist: string;
  server: { host: string; port: number; username: string; clientKey: string; hostKeyFingerprints: string[] };
  remote: string;
  local: string;
  /** ssh2's algorithms.cipher; default: what the package chooses */
  cipher?: import('ssh2').CipherAlgorithm[];
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2]) as ChildInput;
  const { SshPool, cryptoBindingAvailable } = require(join(input.dist, 'ssh')) as typeof import('../src/ssh');
  const { download } = require(join(input.dist, 'transfer')) as typeof import('../src/transfer');
  const pool = new SshPool(
    {
      host: input.server.host,
      port: input.server.port,
      username: input.server.username,
      auth: { privateKey: input.server.clientKey },
      hostKey: { kind: 'fingerprint', fingerprints: input.server.hostKeyFingerprints },
      readyTimeoutMs: 20_000,
      keepaliveIntervalMs: 0,
      ...(input.cipher ? { algorithms: { cipher: input.cipher } } : {}),
    },
    {},
    { log: { warn: () => undefined } },
  );
  const limits = { maxFileBytes: Number.MAX_SAFE_INTEGER, maxTotalBytes: Number.MAX_SAFE_INTEGER, maxFiles: 10, maxDepth: 4 };
  const context = { channels: pool, transport: 'auto' as const, idleTimeoutMs: 60_000 };
  const copy = (): Promise<unknown> =>
    download(context, { remotePath: input.remote, target: { kind: 'file', path: input.local }, recursive: false, glob: false, preserve: false, overwrite: 'overwrite', limits });
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  await copy();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const cpu = process.cpuUsage(cpuBefore);
  await pool.close();
  process.stdout.write(`${JSON.stringify({ version: process.version, binding: cryptoBindingAvailable(), ms, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
