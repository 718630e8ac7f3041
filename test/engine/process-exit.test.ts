/**
 * The engine's worker never keeps a process alive by itself: a child process runs one small job through a
 * WorkerEngine (test/engine/one-job-child.ts) and then has nothing left to do. It must print the job's
 * result (the worker held the process while the job ran) and then end on its own, although the worker and
 * its pooled SSH connection are still there. The wait is bounded (a hang guard, not a speed check).
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { makeServerDir, makeTempDir } from '../harness';
import { useSharedSshd } from '../support';

/** Past this the child is taken to hang: it is killed and the test fails. */
const HANG_GUARD_MS = 30_000;

describe('engine: the worker does not keep a process alive', function () {
  this.timeout(HANG_GUARD_MS + 15_000);
  const server = useSharedSshd();

  it('a process that ran one job through a WorkerEngine exits on its own, with the job done', async () => {
    const dir = await makeServerDir(server, 'engine-exit');
    const leftoverDir = await makeTempDir('engine-exit');
    const remotePath = `${dir.absolute}/from-child.txt`;
    const content = `written by a child process ${process.pid}`;
    const child = spawn(process.execPath, [path.join(__dirname, 'one-job-child.js')], {
      env: {
        ...process.env,
        ENGINE_CHILD_SERVER: JSON.stringify({
          host: server.host,
          port: server.port,
          username: server.username,
          keyPath: server.clientKeyPath,
          fingerprints: server.hostKeyFingerprints,
          remotePath,
          leftoverDir,
          content,
        }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let guard: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => {
      guard = setTimeout(() => resolve('hung'), HANG_GUARD_MS);
    });
    const outcome = await Promise.race([exited, hung]);
    clearTimeout(guard);
    if (outcome === 'hung') {
      child.kill('SIGKILL');
      await exited;
      assert.fail(`the child process was still alive ${HANG_GUARD_MS} ms after it started; stdout: ${stdout}; stderr: ${stderr}`);
    }
    assert.equal(outcome.signal, null);
    assert.equal(outcome.code, 0, `exit code ${outcome.code}; stderr: ${stderr}`);
    assert.match(stdout, new RegExp(`^ok ${Buffer.byteLength(content)} bytes on thread \\d+\\n$`), `stdout: ${stdout}; stderr: ${stderr}`);
    assert.equal(await fs.readFile(remotePath, 'utf8'), content);
  });
});
