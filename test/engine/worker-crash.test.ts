/**
 * The engine's worker dies (its test hook throws an exception nothing catches) with work in flight, seen
 * directly on a WorkerEngine of the test's own: three jobs on two connections and a connection test each
 * fail once with EWORKER, every registered connection hears of it once, a stream payload of a job in flight
 * is destroyed, nothing escapes as an unhandled rejection, and the next job runs byte-exact on a new thread.
 */
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs, existsSync } from 'node:fs';
import path from 'node:path';
import { WorkerEngine } from '../../src/engine';
import type { ProgressEvent } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { eventually, useSharedSshd } from '../support';
import { directoryDownload } from '../transfer/support';
import { endpointOf, order, outcomeOf, recordEvents, setupIn, stalledStream, uploadJob, watchUnhandled } from './support';

const MiB = 1024 * 1024;
/** slow enough that no job ends before the crash */
const LIMIT_KIBPS = 64;

describe('engine: the worker thread dies with work in flight', function () {
  this.timeout(60_000);
  const server = useSharedSshd();

  it('fails 3 jobs and a pending test() once each with EWORKER, tells each connection that lost a message once (an idle one not), destroys a pumped stream; the next job runs on a new thread', async () => {
    const unhandled = watchUnhandled();
    const engine = new WorkerEngine();
    const localDir = await makeTempDir('engine-crash');
    const dir = await makeServerDir(server, 'engine-crash');
    const endpoint = endpointOf(server);
    const eventsA = recordEvents();
    const eventsB = recordEvents();
    const eventsIdle = recordEvents();
    const a = engine.connect(setupIn(path.join(localDir, 'a')), eventsA);
    const b = engine.connect(setupIn(path.join(localDir, 'b')), eventsB);
    // registered, never used: it is told as well (its node shows the warning like the others)
    const idle = engine.connect(setupIn(path.join(localDir, 'idle')), eventsIdle);
    try {
      const source = `${dir.absolute}/source.bin`;
      const made = await runAsUser(server, `head -c ${2 * MiB} /dev/urandom > '${source}'`);
      assert.equal(made.code, 0, made.stderr);

      const moving = new Set<string>();
      const watch = (name: string) => (event: ProgressEvent) => {
        if (event.type === 'bytes' && event.fileBytes > 0) moving.add(name);
      };
      const signal = new AbortController().signal;
      const stalled = stalledStream(randomBytes(4 * MiB), 64 * 1024, 512 * 1024);
      let streamClosed = 0;
      stalled.stream.on('close', () => {
        streamClosed += 1;
      });
      const link = { limitKiBps: LIMIT_KIBPS };
      const finalPaths = [`${dir.absolute}/crash-buffer.bin`, `${dir.absolute}/crash-stream.bin`, path.join(localDir, 'crash-download.bin')];
      const jobs = [
        outcomeOf(a.run(order(endpoint, uploadJob([{ kind: 'buffer', data: randomBytes(2 * MiB) }], finalPaths[0] as string, { link })), { signal, onProgress: watch('buffer upload') })),
        outcomeOf(a.run(order(endpoint, uploadJob([{ kind: 'stream', stream: stalled.stream, size: 4 * MiB }], finalPaths[1] as string, { link })), { signal, onProgress: watch('stream upload') })),
        outcomeOf(
          b.run(order(endpoint, { kind: 'download', request: { ...directoryDownload(source, ''), target: { kind: 'file', path: finalPaths[2] as string }, link }, several: false }), {
            signal,
            onProgress: watch('download'),
          }),
        ),
      ];
      await eventually('all three jobs moving bytes', () => moving.size === 3, { context: () => `moving: ${[...moving].join(', ')}` });
      const firstThread = engine.threadId;
      assert.ok(firstThread !== undefined);
      assert.ok(stalled.given() < 4 * MiB && !stalled.stream.destroyed, 'premise: the stream payload is unfinished');

      // posted before the crash, answered never: the worker dies while it connects
      const tested = outcomeOf(engine.test(endpoint, {}));
      engine.crash();
      const outcomes = await Promise.all([...jobs, tested]);
      assert.deepEqual(
        outcomes.map((outcome) => outcome.error?.code ?? 'resolved'),
        ['EWORKER', 'EWORKER', 'EWORKER', 'EWORKER'],
        outcomes.map((outcome) => outcome.error?.message ?? 'resolved').join('\n'),
      );
      for (const outcome of outcomes) assert.match(outcome.error?.message ?? '', /engine stopped/);
      // the jobs name their server; the detail says what ended the thread
      assert.equal((outcomes[0]?.error as { host?: string }).host, `${server.username}@${server.host}:${server.port}`);
      assert.match((outcomes[0]?.error as { detail?: string }).detail ?? '', /test hook/);

      assert.equal(eventsA.stopped.length, 1, `connection a told ${eventsA.stopped.length} times`);
      assert.equal(eventsB.stopped.length, 1, `connection b told ${eventsB.stopped.length} times`);
      // a connection with nothing in flight lost no message: its node says nothing
      assert.equal(eventsIdle.stopped.length, 0, `the idle connection told ${eventsIdle.stopped.length} times`);
      assert.match(eventsA.stopped[0] ?? '', /test hook/);

      assert.ok(stalled.stream.destroyed, 'the stream payload of a job in flight is destroyed');
      await eventually('the stream payload closed', () => streamClosed > 0);
      assert.equal(streamClosed, 1);
      for (const finalPath of finalPaths) assert.ok(!existsSync(finalPath), `nothing at the final path ${finalPath}`);

      // The next job: a new thread, byte-exact, on a connection the old thread knew.
      const data = randomBytes(300_000);
      const afterPath = `${dir.absolute}/after-crash.bin`;
      const result = await a.run(order(endpoint, uploadJob([{ kind: 'buffer', data }], afterPath)), { signal });
      assert.equal(result.bytes, data.length);
      assert.ok((await fs.readFile(afterPath)).equals(data));
      assert.ok(engine.threadId !== undefined && engine.threadId !== firstThread, `a new thread (${firstThread} before, ${engine.threadId} now)`);
      const report = await engine.test(endpoint, {});
      assert.equal(report.authenticated, true);
      // nobody is told twice, later
      assert.deepEqual([eventsA.stopped.length, eventsB.stopped.length, eventsIdle.stopped.length], [1, 1, 0]);
    } finally {
      await Promise.all([a.close(), b.close(), idle.close()]);
      assert.deepEqual(unhandled.stop(), [], 'no unhandled rejection or uncaught exception');
    }
  });
});
