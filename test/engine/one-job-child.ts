/**
 * Run as a child process by process-exit.test.ts: one small upload through a WorkerEngine, and nothing else.
 * Nothing here waits for anything: while the job runs only the worker keeps this process alive, and once
 * the job is answered the process must end on its own (the worker and its kept SSH connection do not hold it).
 * The server comes in ENGINE_CHILD_SERVER (JSON: host, port, username, keyPath, fingerprints, remotePath).
 */
import { readFileSync } from 'node:fs';
import { WorkerEngine } from '../../src/engine';

interface ChildServer {
  host: string;
  port: number;
  username: string;
  keyPath: string;
  fingerprints: string[];
  remotePath: string;
  leftoverDir: string;
  content: string;
}

const server = JSON.parse(process.env.ENGINE_CHILD_SERVER ?? '{}') as ChildServer;
const engine = new WorkerEngine();
const connection = engine.connect(
  { poolOptions: {}, maxDevices: 1, leftoverDir: server.leftoverDir },
  { onState: () => undefined, onWarning: () => undefined, onDebug: () => undefined, onCloseFailed: () => undefined, onEngineStopped: () => undefined },
);
connection
  .run(
    {
      endpoint: {
        host: server.host,
        port: server.port,
        username: server.username,
        auth: { privateKey: readFileSync(server.keyPath, 'utf8') },
        hostKey: { kind: 'fingerprint', fingerprints: server.fingerprints },
        readyTimeoutMs: 20_000,
        keepaliveIntervalMs: 0,
      },
      transport: 'scp',
      idleTimeoutMs: 20_000,
      deadlineMs: 0,
      job: { kind: 'upload', request: { sources: [{ kind: 'buffer', data: Buffer.from(server.content) }], remotePath: server.remotePath, preserve: false, atomic: true, overwrite: 'overwrite' } },
    },
    { signal: new AbortController().signal },
  )
  .then(
    (result) => process.stdout.write(`ok ${result.bytes} bytes on thread ${engine.threadId}\n`),
    (error: Error) => {
      process.stderr.write(`failed: ${error.message}\n`);
      process.exitCode = 1;
    },
  );
