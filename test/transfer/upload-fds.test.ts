/**
 * No file descriptor or remote handle outlives a failed upload step. Twenty failed steps of each kind
 * (a fatal reply, EOF, a stall until the idle timeout from a scripted SCP server; an abort against the
 * real sshd on both transports; local sources failing while an SFTP handle is open) and then: no file
 * descriptor on the local source, no more descriptors than before, every SFTP handle closed.
 */
import * as assert from 'node:assert/strict';
import { promises as fs, readdirSync, readlinkSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { utils } from 'ssh2';
import type { TransferError } from '../../src/errors';
import type { SshPool } from '../../src/ssh';
import { upload } from '../../src/transfer';
import type { TransportChoice, UploadRequest, UploadSource } from '../../src/transfer/types';
import { foldedProbeCount, makeServerDir, makeTempDir, startFakeServer, unfoldUpload, type FakeServer, type SshdServer } from '../harness';
import { ServerSide } from '../hostile/server-side';
import { context, poolProvider, randomData, useSharedPool } from './support';
import { stallingStream } from './upload-safety-support';
import { eventually } from '../support';

const ROUNDS = 20;
const { STATUS_CODE } = utils.sftp;

function openDescriptors(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the descriptor readdir itself used is gone already
    }
  }
  return out;
}

/**
 * Descriptors close asynchronously (a destroyed file stream or socket closes in the thread pool): waits,
 * bounded, until at most `atMost` descriptors (satisfying `which`) are open. A leak never closes.
 */
async function settledDescriptors(atMost: number, which: (target: string) => boolean = () => true): Promise<string[]> {
  const settled = (): boolean => openDescriptors().filter(which).length <= atMost;
  // Past the bound the caller's assertion names what stayed open.
  await eventually(`at most ${atMost} descriptors open`, settled, { limitMs: 3000, everyMs: 50 }).catch(() => undefined);
  return openDescriptors().filter(which);
}

/** No descriptor on `source` and no more descriptors in all than `before`. */
async function assertNoLeak(before: number, source?: string): Promise<void> {
  if (source !== undefined) assert.deepEqual(await settledDescriptors(0, (target) => target === source), [], 'the local source is still open');
  const now = (await settledDescriptors(before)).length;
  assert.ok(now <= before, `descriptors grew from ${before} to ${now}`);
}

/** A local file big enough to be streamed (read through a descriptor) rather than read whole. */
async function bigLocalFile(): Promise<string> {
  const path = join(await makeTempDir('fds'), 'source.bin');
  await fs.writeFile(path, randomData(1024 * 1024));
  return path;
}

function fileRequest(remotePath: string, sources: UploadSource[]): UploadRequest {
  return { sources, remotePath, preserve: false, atomic: true, overwrite: 'overwrite' };
}

async function failsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: TransferError) => {
    assert.equal(error.code, code, error.message);
    return true;
  });
}

type ScpFault = 'fatal' | 'eof' | 'stall';

/** Answers the probe ("nothing there"), cleanup commands (success), and `scp -t` with the current fault. */
async function startFaultyScpServer(fault: { kind: ScpFault }): Promise<FakeServer> {
  return startFakeServer(async ({ command, channel }) => {
    const side = new ServerSide(channel);
    // A single file's upload comes as one command: the probe's answer, then scp -t on the same channel.
    const folded = unfoldUpload(command) !== undefined;
    if (folded) await side.send(`SCP-PROBE:${'n'.repeat(foldedProbeCount(command))}\n`);
    else if (command.includes('SCP-PROBE:')) {
      const list = command.slice(command.indexOf(' for p in'), command.indexOf('; do'));
      await side.send(`SCP-PROBE:${'n'.repeat((list.match(/'[^']*'/g) ?? []).length)}\n`);
      side.exit(0);
      return;
    }
    if (!folded && !command.startsWith('scp ')) {
      side.exit(0);
      return;
    }
    await side.send('\0');
    const record = await side.takeLine();
    if (!record.startsWith('C')) throw new Error(`expected a C record, got ${record}`);
    if (fault.kind === 'fatal') {
      await side.send('\x02scp: fatal trouble on the server\n');
      side.exit(1);
    } else if (fault.kind === 'eof') {
      side.exit(1);
    } else {
      await side.clientEnded();
    }
  });
}

describe('transfer: no descriptor outlives a failed upload step (scripted SCP server)', function () {
  this.timeout(120_000);
  let fake: FakeServer;
  const fault: { kind: ScpFault } = { kind: 'fatal' };

  before(async function () {
    fake = await startFaultyScpServer(fault);
  });
  after(async () => fake?.close());

  const expected: Record<ScpFault, string> = { fatal: 'EPROTO', eof: 'EPROTO', stall: 'ETIMEDOUT' };
  for (const kind of ['fatal', 'eof', 'stall'] as const) {
    it(`${ROUNDS} failed file steps (${kind}): no descriptor left on the source, none more than before`, async function () {
      fault.kind = kind;
      const source = await bigLocalFile();
      const before = openDescriptors().length;
      const pool = poolProvider({ ...fake, username: 'tester' } as unknown as SshdServer);
      try {
        for (let round = 0; round < ROUNDS; round += 1) {
          const ctx = context(pool, { transport: 'scp', idleTimeoutMs: 300 });
          const outcome = upload(ctx, fileRequest('/srv/target/file.bin', [{ kind: 'path', path: source }]));
          if (kind === 'fatal') await failsWith(outcome, 'EPROTO');
          else await assert.rejects(outcome, (error: TransferError) => ['EPROTO', 'ECONNRESET', expected[kind]].includes(error.code));
        }
      } finally {
        await (pool as SshPool).close();
      }
      await assertNoLeak(before, source);
      assert.deepEqual(fake.handlerErrors, []);
    });
  }
});

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: no descriptor outlives an aborted upload over ${transport} (real sshd)`, function () {
    this.timeout(120_000);
    const shared = useSharedPool();

    it(`${ROUNDS} uploads aborted while data flows: no descriptor left on the source, none more than before`, async function () {
      const dir = await makeServerDir(shared.server, `fds-abort-${transport}`);
      const source = join(await makeTempDir('fds-abort'), 'source.bin');
      await fs.writeFile(source, randomData(8 * 1024 * 1024));
      const before = openDescriptors().length;
      const pool = poolProvider(shared.server);
      try {
        for (let round = 0; round < ROUNDS; round += 1) {
          const controller = new AbortController();
          const ctx = context(pool, {
            transport: transport as TransportChoice,
            signal: controller.signal,
            onProgress: (event) => {
              if (event.type === 'bytes') controller.abort();
            },
          });
          await failsWith(upload(ctx, fileRequest(`${dir.relative}/file.bin`, [{ kind: 'path', path: source }])), 'EABORTED');
        }
      } finally {
        await pool.close();
      }
      await assertNoLeak(before, source);
    });
  });
}

/** A scripted SFTP server: nothing exists, every open gets a handle, writes succeed; counts open handles. */
interface HandleCount {
  opened: number;
  open: Set<string>;
  /** runs when a handle is opened (the local source is open by then) */
  onOpen?: () => void;
}

async function startCountingSftpServer(handles: HandleCount): Promise<FakeServer> {
  return startFakeServer(
    ({ channel }) => {
      channel.exit(1);
      channel.end();
    },
    {
      sftp: ({ sftp }) => {
        let next = 0;
        // as sftp-server does: the client's end closes the session (the pool waits for that)
        sftp.on('end', () => sftp.end());
        const ok = (id: number): void => {
          sftp.status(id, STATUS_CODE.OK);
        };
        sftp.on('STAT', (id: number) => sftp.status(id, STATUS_CODE.NO_SUCH_FILE));
        sftp.on('LSTAT', (id: number) => sftp.status(id, STATUS_CODE.NO_SUCH_FILE));
        sftp.on('OPEN', (id: number) => {
          const handle = Buffer.from(`h${next++}`);
          handles.opened += 1;
          handles.open.add(handle.toString());
          handles.onOpen?.();
          sftp.handle(id, handle);
        });
        sftp.on('WRITE', ok);
        sftp.on('FSETSTAT', ok);
        sftp.on('REMOVE', ok);
        sftp.on('RENAME', ok);
        sftp.on('CLOSE', (id: number, handle: Buffer) => {
          handles.open.delete(handle.toString());
          ok(id);
        });
      },
    },
  );
}

describe('transfer: SFTP handles opened before a local source fails are closed', function () {
  this.timeout(120_000);
  const handles: HandleCount = { opened: 0, open: new Set<string>() };
  let fake: FakeServer;

  before(async function () {
    fake = await startCountingSftpServer(handles);
  });
  after(async () => fake?.close());

  const failures: { name: string; code: string; source: () => Promise<UploadSource> }[] = [
    {
      name: 'a chunk that is not bytes',
      code: 'EINVAL',
      source: async () => ({ kind: 'stream', stream: Readable.from([randomData(1000), { a: 1 }]), size: 5000, name: 'f' }),
    },
    {
      name: 'a stream that stalls',
      code: 'ETIMEDOUT',
      source: async () => ({ kind: 'stream', stream: stallingStream(randomData(1000)), size: 5000, name: 'f' }),
    },
    {
      name: 'a stream that fails',
      code: 'EINVAL',
      source: async () => {
        const stream = stallingStream(randomData(1000));
        setImmediate(() => stream.destroy(new Error('the producer broke')));
        return { kind: 'stream', stream, size: 5000, name: 'f' };
      },
    },
    {
      name: 'a local file that shrank after planning',
      code: 'ECHANGED',
      source: async () => ({ kind: 'path', path: await bigLocalFile() }),
    },
  ];

  for (const failure of failures) {
    it(`${ROUNDS} uploads failing on ${failure.name}: every handle closed, no descriptor left`, async function () {
      const before = openDescriptors().length;
      const pool = poolProvider({ ...fake, username: 'tester' } as unknown as SshdServer);
      const openedBefore = handles.opened;
      try {
        for (let round = 0; round < ROUNDS; round += 1) {
          const source = await failure.source();
          // planned at full size, the local file shrinks while its remote handle opens (log rotation)
          handles.onOpen = source.kind === 'path' ? () => truncateSync(source.path, 10) : undefined;
          const ctx = context(pool, { transport: 'sftp', idleTimeoutMs: 300 });
          await failsWith(upload(ctx, fileRequest('/srv/target/f', [source])), failure.code);
          assert.equal(handles.open.size, 0, `round ${round}: handles left open: ${[...handles.open].join(', ')}`);
        }
      } finally {
        await pool.close();
      }
      assert.equal(handles.opened - openedBefore, ROUNDS, 'not every round opened a remote handle');
      await assertNoLeak(before);
      assert.deepEqual(fake.handlerErrors, []);
    });
  }
});
