/**
 * The engine in its worker thread (src/engine/host.ts + worker-main.ts), a WorkerEngine of the tests' own,
 * against the run's real sshd: uploads from a Buffer (the caller's Buffer stays whole) and from streams (slow,
 * and 50 MiB fast), downloads into memory (Buffers again, byte-exact), several into memory and to a file,
 * the remote toolbox with a name that is not UTF-8, the connection test, an abort mid-transfer, the pools'
 * counters, close, and progress that arrives in order with 'bytes' coalesced.
 */
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, existsSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { LocalEngine, WorkerEngine, type EngineConnection } from '../../src/engine';
import { ownsItsMemory } from '../../src/engine/wire';
import type { RemoteEntry } from '../../src/remote';
import type { ProgressEvent } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { eventually, useSharedSshd } from '../support';
import { bufferDownload, directoryDownload } from '../transfer/support';
import { endpointOf, fastSource, order, outcomeOf, recordEvents, setupIn, uploadJob, type RecordedEvents } from './support';

const MiB = 1024 * 1024;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function sha256OfFile(file: string): Promise<string> {
  return sha256(await fs.readFile(file));
}

describe('engine: a WorkerEngine against a real sshd', function () {
  this.timeout(60_000);
  const server = useSharedSshd();
  let engine: WorkerEngine;
  let connection: EngineConnection;
  let events: RecordedEvents;
  let dir: { relative: string; absolute: string };
  let localDir: string;

  before(async function () {
    engine = new WorkerEngine();
    dir = await makeServerDir(server, 'engine-worker');
    localDir = await makeTempDir('engine-worker');
    events = recordEvents();
    connection = engine.connect(setupIn(path.join(localDir, 'leftovers')), events);
  });

  after(async function () {
    await connection?.close();
  });

  const run = <Job extends Parameters<EngineConnection['run']>[0]['job']>(job: Job, hooks: { signal?: AbortSignal; onProgress?: (event: ProgressEvent) => void } = {}, transport: 'scp' | 'sftp' | 'auto' = 'scp') =>
    connection.run(order(endpointOf(server), job, transport), { signal: hooks.signal ?? new AbortController().signal, ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}) });

  it('has no pool counters before the first job', () => {
    assert.equal(connection.stats(), undefined);
    assert.equal(engine.threadId, undefined, 'no worker thread before the first job');
  });

  it("uploads a Buffer payload byte-exact and leaves the caller's Buffer whole", async () => {
    const payload = randomBytes(3 * MiB);
    assert.ok(ownsItsMemory(payload), 'premise: a Buffer that could be handed over (and so emptied) whole');
    const copy = Buffer.from(payload);
    const remotePath = `${dir.absolute}/from-buffer.bin`;
    const result = await run(uploadJob([{ kind: 'buffer', data: payload }], remotePath));
    assert.equal(payload.length, 3 * MiB, 'the caller’s Buffer keeps its length');
    assert.equal(payload.buffer.byteLength, 3 * MiB, 'its memory was not handed to the worker');
    assert.ok(payload.equals(copy), 'and its bytes');
    assert.equal(result.bytes, 3 * MiB);
    assert.equal(result.files[0]?.size, 3 * MiB);
    assert.ok((await fs.readFile(remotePath)).equals(copy), 'the server has the same bytes');
    assert.ok(engine.threadId !== undefined, 'a worker thread ran it');
  });

  it('uploads a stream that produces slowly, size not announced, byte-exact', async () => {
    const data = randomBytes(100 * 10_000);
    let at = 0;
    const stream = new Readable({
      read() {
        // one chunk per timer turn: the worker waits on the host, not the other way round
        setTimeout(() => {
          if (at >= data.length) this.push(null);
          else {
            this.push(data.subarray(at, at + 10_000));
            at += 10_000;
          }
        }, 2);
      },
    });
    const remotePath = `${dir.absolute}/slow-stream.bin`;
    const result = await run(uploadJob([{ kind: 'stream', stream }], remotePath));
    assert.equal(result.bytes, data.length);
    assert.ok((await fs.readFile(remotePath)).equals(data));
  });

  it('uploads a fast 50 MiB stream of announced size, byte-exact', async () => {
    const SIZE = 50 * MiB;
    const source = fastSource(SIZE, 256 * 1024);
    const remotePath = `${dir.absolute}/fast-stream.bin`;
    const result = await run(uploadJob([{ kind: 'stream', stream: source.stream, size: SIZE }], remotePath));
    assert.equal(result.bytes, SIZE);
    const stat = await fs.stat(remotePath);
    assert.equal(stat.size, SIZE);
    assert.equal(await sha256OfFile(remotePath), source.sha256());
  });

  it('downloads a file into memory: the result’s data is a Buffer, byte-exact', async () => {
    const remotePath = `${dir.absolute}/to-memory.bin`;
    const made = await runAsUser(server, `head -c 2500000 /dev/urandom > '${remotePath}'`);
    assert.equal(made.code, 0, made.stderr);
    const expected = await fs.readFile(remotePath);
    const result = await run({ kind: 'download', request: bufferDownload(remotePath, 8 * MiB), several: false });
    const data = result.files[0]?.data;
    assert.ok(Buffer.isBuffer(data), `a Buffer, got ${Object.prototype.toString.call(data)}`);
    assert.equal(data.length, expected.length);
    assert.ok(data.equals(expected));
    assert.equal(result.bytes, expected.length);
  });

  it('downloads several files into memory (a glob): each a Buffer, byte-exact, under its name', async () => {
    const many = `${dir.absolute}/many`;
    const made = await runAsUser(
      server,
      `mkdir '${many}' && printf '' > '${many}/empty.bin' && head -c 100 /dev/urandom > '${many}/small.bin' && head -c 70000 /dev/urandom > '${many}/mid.bin' && head -c 1048577 /dev/urandom > '${many}/big.bin' && printf no > '${many}/other.txt'`,
    );
    assert.equal(made.code, 0, made.stderr);
    const result = await run({ kind: 'download', request: directoryDownload(`${many}/*.bin`, localDir, { glob: true, overwrite: 'overwrite' }), several: true });
    const byKey = new Map(result.files.map((file) => [file.key, file]));
    assert.deepEqual([...byKey.keys()].sort(), ['big.bin', 'empty.bin', 'mid.bin', 'small.bin']);
    for (const name of ['big.bin', 'empty.bin', 'mid.bin', 'small.bin']) {
      const expected = await fs.readFile(`${many}/${name}`);
      const data = byKey.get(name)?.data;
      assert.ok(Buffer.isBuffer(data), `${name}: a Buffer, got ${Object.prototype.toString.call(data)}`);
      assert.ok(data.equals(expected), `${name}: byte-exact (${data.length} of ${expected.length} bytes)`);
    }
  });

  it('downloads to a local file, byte-exact', async () => {
    const remotePath = `${dir.absolute}/to-file.bin`;
    const made = await runAsUser(server, `head -c 3000000 /dev/urandom > '${remotePath}'`);
    assert.equal(made.code, 0, made.stderr);
    const localPath = path.join(localDir, 'to-file.bin');
    const result = await run({ kind: 'download', request: { ...directoryDownload(remotePath, ''), target: { kind: 'file', path: localPath } }, several: false });
    assert.equal(result.files[0]?.localPath, localPath);
    assert.ok((await fs.readFile(localPath)).equals(await fs.readFile(remotePath)));
  });

  it('lists and stats remote paths; a name that is not UTF-8 comes back as the same bytes in a Buffer', async () => {
    const names = `${dir.absolute}/names`;
    const made = await runAsUser(server, `mkdir '${names}' && cd '${names}' && printf xyz > "$(printf 'caf\\351')" && printf y > plain`);
    assert.equal(made.code, 0, made.stderr);
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
    const listed = await run({ kind: 'remote', request: { operation: 'list', path: Buffer.from(names), options: { recursive: false, maxDepth: 1, maxEntries: 10 } } }, {}, 'auto');
    const entries: RemoteEntry[] = listed.entries ?? [];
    assert.equal(entries.length, 2, JSON.stringify(entries));
    const odd = entries.find((entry) => Buffer.isBuffer(entry.name));
    assert.ok(odd && Buffer.isBuffer(odd.name), `one entry's name is a Buffer: ${entries.map((entry) => Object.prototype.toString.call(entry.name)).join(', ')}`);
    assert.ok(odd.name.equals(latin1), `the very bytes, got ${odd.name.toString('hex')}`);
    assert.ok(Buffer.isBuffer(odd.path) && odd.path.equals(Buffer.concat([Buffer.from(`${names}/`), latin1])));
    assert.equal(odd.size, 3);
    assert.deepEqual(
      entries.filter((entry) => !Buffer.isBuffer(entry.name)).map((entry) => entry.name),
      ['plain'],
    );
    // the Buffer goes back in as a path and reaches the very file
    const stat = await run({ kind: 'remote', request: { operation: 'stat', path: odd.path } }, {}, 'auto');
    const entry = stat.entries?.[0];
    assert.ok(entry && Buffer.isBuffer(entry.name) && entry.name.equals(latin1));
    assert.equal(entry.type, 'file');
    assert.equal(entry.size, 3);
  });

  it('test() returns the connection report of a reachable, trusted server', async () => {
    const report = await engine.test(endpointOf(server), {});
    assert.equal(report.reached, true);
    assert.equal(report.authenticated, true);
    assert.equal(report.hostKeyTrusted, true);
    assert.equal(report.scp, true);
    assert.equal(report.sftp, true);
    assert.match(report.serverVersion ?? '', /OpenSSH/);
    assert.equal(report.error, undefined);
    const refused = await engine.test({ ...endpointOf(server), hostKey: { kind: 'fingerprint', fingerprints: ['SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'] } }, {});
    assert.equal(refused.authenticated, false);
    assert.equal(refused.error?.code, 'EHOSTKEY');
  });

  it('an abort mid-transfer fails the job with EABORTED and leaves nothing at the final path', async () => {
    const remotePath = `${dir.absolute}/aborted.bin`;
    const controller = new AbortController();
    let moving!: () => void;
    const firstBytes = new Promise<void>((resolve) => {
      moving = resolve;
    });
    const job = outcomeOf(
      run(uploadJob([{ kind: 'buffer', data: randomBytes(MiB) }], remotePath, { link: { limitKiBps: 64 } }), {
        signal: controller.signal,
        onProgress: (event) => {
          if (event.type === 'bytes' && event.fileBytes > 0) moving();
        },
      }),
    );
    await Promise.race([firstBytes, job]);
    controller.abort();
    const { value, error } = await job;
    assert.equal(value, undefined, 'the limited upload did not finish before the abort');
    assert.equal(error?.code, 'EABORTED', error?.message);
    assert.ok(!existsSync(remotePath), 'nothing at the final path');
  });

  it('a job whose signal is already aborted fails with EABORTED and leaves nothing at the final path', async () => {
    const controller = new AbortController();
    controller.abort();
    const remotePath = `${dir.absolute}/pre-aborted.bin`;
    const { error } = await outcomeOf(run(uploadJob([{ kind: 'buffer', data: randomBytes(100_000) }], remotePath), { signal: controller.signal }));
    assert.equal(error?.code, 'EABORTED', error?.message);
    assert.ok(!existsSync(remotePath));
  });

  it('a stream payload that fails midway fails the job as it does on the caller’s thread, nothing at the final path', async () => {
    const failing = (): Readable => {
      let sent = 0;
      return new Readable({
        read() {
          if (sent < 3) {
            sent += 1;
            this.push(Buffer.alloc(100_000, sent));
          } else this.destroy(Object.assign(new Error('the source disk went away'), { code: 'EIO' }));
        },
      });
    };
    const local = new LocalEngine().connect(setupIn(path.join(localDir, 'leftovers-local')), recordEvents());
    try {
      const onThread = await outcomeOf(
        local.run(order(endpointOf(server), uploadJob([{ kind: 'stream', stream: failing(), size: 1_000_000 }], `${dir.absolute}/failing-local.bin`)), { signal: new AbortController().signal }),
      );
      const inWorker = await outcomeOf(run(uploadJob([{ kind: 'stream', stream: failing(), size: 1_000_000 }], `${dir.absolute}/failing-worker.bin`)));
      assert.ok(onThread.error && inWorker.error, 'both fail');
      assert.equal(inWorker.error.code, onThread.error.code, `${inWorker.error.message} / on the thread: ${onThread.error.message}`);
      assert.equal((inWorker.error as { summary?: string }).summary, (onThread.error as { summary?: string }).summary);
      assert.match(inWorker.error.message, /the source disk went away/);
      assert.ok(!existsSync(`${dir.absolute}/failing-worker.bin`), 'nothing at the final path');
    } finally {
      await local.close();
    }
  });

  it('stats() shows the pools’ counters, channels back to 0 once the jobs ended', async () => {
    // A connection of its own: one that used SFTP keeps a session open, and that counts as a channel (by design).
    const fresh = engine.connect(setupIn(path.join(localDir, 'leftovers-stats')), recordEvents());
    try {
      assert.equal(fresh.stats(), undefined);
      const jobs = [1, 2, 3].map((index) =>
        fresh.run(order(endpointOf(server), uploadJob([{ kind: 'buffer', data: randomBytes(200_000) }], `${dir.absolute}/stats-${index}.bin`)), { signal: new AbortController().signal }),
      );
      await Promise.all(jobs);
      const stats = fresh.stats();
      assert.ok(stats, 'counters after a job');
      assert.ok(stats.connections >= 1, JSON.stringify(stats));
      assert.ok(stats.maxChannelsSeen >= 1, JSON.stringify(stats));
      const idle = await eventually(
        'the channels back to 0',
        () => {
          const now = fresh.stats();
          return now && now.channels === 0 && now.queued === 0 ? now : undefined;
        },
        { context: () => JSON.stringify(fresh.stats()) },
      );
      assert.ok(idle.connections >= 1, 'the connection is kept for the next job');
    } finally {
      await fresh.close();
    }
    assert.equal(fresh.stats()?.connections, 0, 'closed');
  });

  it('progress arrives in order (fileStart, bytes, fileEnd) with bytes coalesced', async () => {
    const SIZE = 20 * MiB;
    const remotePath = `${dir.absolute}/progress.bin`;
    const made = await runAsUser(server, `head -c ${SIZE} /dev/urandom > '${remotePath}'`);
    assert.equal(made.code, 0, made.stderr);
    const seen: ProgressEvent[] = [];
    const localPath = path.join(localDir, 'progress.bin');
    const started = Date.now();
    await run({ kind: 'download', request: { ...directoryDownload(remotePath, ''), target: { kind: 'file', path: localPath } }, several: false }, { onProgress: (event) => seen.push(event) });
    const elapsedMs = Date.now() - started;
    const kinds = seen.map((event) => event.type);
    assert.equal(kinds[0], 'fileStart', kinds.join(' '));
    assert.equal(kinds[kinds.length - 1], 'fileEnd', kinds.join(' '));
    assert.ok(kinds.slice(1, -1).every((kind) => kind === 'bytes'), kinds.join(' '));
    const first = seen[0] as Extract<ProgressEvent, { type: 'fileStart' }>;
    assert.equal(first.size, SIZE);
    const end = seen[seen.length - 1] as Extract<ProgressEvent, { type: 'fileEnd' }>;
    assert.equal(end.size, SIZE);
    assert.equal(end.transferred, true);
    const bytes = seen.filter((event): event is Extract<ProgressEvent, { type: 'bytes' }> => event.type === 'bytes');
    assert.ok(bytes.length >= 1, 'at least one bytes event');
    for (let index = 1; index < bytes.length; index += 1) assert.ok((bytes[index]?.fileBytes ?? 0) >= (bytes[index - 1]?.fileBytes ?? 0), 'bytes never go back');
    assert.ok((bytes[bytes.length - 1]?.fileBytes ?? Infinity) <= SIZE, 'the last bytes event is within the size');
    // The engine emits a bytes event every 64 KiB (320 for this file); across the thread at most one per 100 ms,
    // plus the first and the one flushed before fileEnd.
    const engineEvents = SIZE / (64 * 1024);
    assert.ok(bytes.length <= Math.floor(elapsedMs / 100) + 3, `${bytes.length} bytes events in ${elapsedMs} ms: more than one per 100 ms`);
    assert.ok(bytes.length <= engineEvents / 2, `${bytes.length} bytes events: far fewer than the engine's ${engineEvents}`);
    assert.ok((await fs.stat(localPath)).size === SIZE);
  });
});

describe('engine: a WorkerEngine connection closed', function () {
  this.timeout(60_000);
  const server = useSharedSshd();

  it('close() closes its pools (0 connections) and a later run fails with EABORTED', async () => {
    const engine = new WorkerEngine();
    const localDir = await makeTempDir('engine-close');
    const dir = await makeServerDir(server, 'engine-close');
    const connection = engine.connect(setupIn(localDir), recordEvents());
    const endpoint = endpointOf(server);
    const remotePath = `${dir.absolute}/before-close.bin`;
    await connection.run(order(endpoint, uploadJob([{ kind: 'buffer', data: Buffer.from('before close') }], remotePath)), { signal: new AbortController().signal });
    assert.equal((await fs.readFile(remotePath)).toString(), 'before close');
    await connection.close();
    assert.equal(connection.stats()?.connections, 0, `counters after close: ${JSON.stringify(connection.stats())}`);
    await assert.rejects(
      connection.run(order(endpoint, uploadJob([{ kind: 'buffer', data: Buffer.from('after close') }], `${dir.absolute}/after-close.bin`)), { signal: new AbortController().signal }),
      (error: Error & { code?: string }) => error.code === 'EABORTED',
    );
    assert.ok(!existsSync(`${dir.absolute}/after-close.bin`));
  });
});
