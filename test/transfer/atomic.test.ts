/**
 * Atomicity and stopping: an aborted or failing job leaves nothing at a final path and no temporary
 * file; idle timeout and deadline fail with ETIMEDOUT; progress events are throttled and complete.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { TransferError } from '../../src/errors';
import { download, upload, type ProgressEvent } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser, unfoldUpload } from '../harness';
import { bufferDownload, context, useSharedPool, sq, directoryDownload } from './support';
import { useFakeExecServer } from '../support';

const BIG = 50 * 1024 * 1024;

function abortAfter(controller: AbortController, bytes: number): (event: ProgressEvent) => void {
  return (event) => {
    if (event.type === 'bytes' && event.fileBytes >= bytes) controller.abort();
  };
}

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: atomic jobs and progress over ${transport}`, function () {
    const shared = useSharedPool();

    it('an upload aborted halfway fails with EABORTED and leaves neither final nor temporary file', async function () {
      const dir = await makeServerDir(shared.server, `abort-up-${transport}`);
      const controller = new AbortController();
      await assert.rejects(
        upload(context(shared.channels, { transport, signal: controller.signal, onProgress: abortAfter(controller, 5 * 1024 * 1024) }), {
          sources: [{ kind: 'buffer', data: Buffer.alloc(BIG, 7), name: 'big.bin' }],
          remotePath: dir.relative,
          preserve: false,
          atomic: true,
          overwrite: 'overwrite',
        }),
        (error: TransferError) => error.code === 'EABORTED' && error.message.includes(dir.relative),
      );
      const listing = await runAsUser(shared.server, `ls -A ${sq(dir.relative)}`);
      assert.equal(listing.stdout.toString(), '');
    });

    it('a multi-file upload aborted halfway leaves no file and no staging directory', async function () {
      const dir = await makeServerDir(shared.server, `abort-multi-${transport}`);
      const local = await makeTempDir('abort-multi');
      await fs.mkdir(join(local, 'tree'));
      for (let i = 0; i < 4; i += 1) await fs.writeFile(join(local, 'tree', `f${i}`), Buffer.alloc(8 * 1024 * 1024, i));
      const controller = new AbortController();
      await assert.rejects(
        upload(context(shared.channels, { transport, signal: controller.signal, onProgress: abortAfter(controller, 4 * 1024 * 1024) }), {
          sources: [{ kind: 'path', path: join(local, 'tree') }, { kind: 'buffer', data: Buffer.from('x'), name: 'top.txt' }],
          remotePath: dir.relative,
          preserve: false,
          atomic: true,
          overwrite: 'overwrite',
        }),
        (error: TransferError) => error.code === 'EABORTED',
      );
      // The tree's directory itself may exist (directories are created as they come); no file may.
      const listing = await runAsUser(shared.server, `cd ${sq(dir.relative)} && find . -mindepth 1 ! -type d; find . -name '*.part'`);
      assert.equal(listing.stdout.toString(), '');
    });

    it('an aborted atomic upload keeps the previous content of the final path', async function () {
      const dir = await makeServerDir(shared.server, `abort-keep-${transport}`);
      await runAsUser(shared.server, `printf previous > ${sq(`${dir.relative}/keep.bin`)}`);
      const controller = new AbortController();
      await assert.rejects(
        upload(context(shared.channels, { transport, signal: controller.signal, onProgress: abortAfter(controller, 1024 * 1024) }), {
          sources: [{ kind: 'buffer', data: Buffer.alloc(BIG, 7) }],
          remotePath: `${dir.relative}/keep.bin`,
          preserve: false,
          atomic: true,
          overwrite: 'overwrite',
        }),
        (error: TransferError) => error.code === 'EABORTED',
      );
      const listing = await runAsUser(shared.server, `cd ${sq(dir.relative)} && ls -A && cat keep.bin`);
      assert.equal(listing.stdout.toString(), 'keep.bin\nprevious');
    });

    it('a download aborted halfway fails with EABORTED and leaves the local directory empty', async function () {
      const dir = await makeServerDir(shared.server, `abort-down-${transport}`);
      await runAsUser(shared.server, `head -c ${BIG} /dev/zero > ${sq(`${dir.relative}/big.bin`)}`);
      const local = await makeTempDir('abort-down');
      const controller = new AbortController();
      await assert.rejects(
        download(context(shared.channels, { transport, signal: controller.signal, onProgress: abortAfter(controller, 5 * 1024 * 1024) }), directoryDownload(`${dir.relative}/big.bin`, local, { overwrite: 'overwrite' })),
        (error: TransferError) => error.code === 'EABORTED',
      );
      assert.deepEqual(await fs.readdir(local), []);
    });

    it('an already aborted signal fails at once with EABORTED', async function () {
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(
        upload(context(shared.channels, { transport, signal: controller.signal }), {
          sources: [{ kind: 'buffer', data: Buffer.from('x') }],
          remotePath: 'never.txt',
          preserve: false,
          atomic: true,
          overwrite: 'overwrite',
        }),
        (error: TransferError) => error.code === 'EABORTED',
      );
      const listing = await runAsUser(shared.server, 'ls -A never.txt 2>/dev/null');
      assert.equal(listing.stdout.toString(), '');
    });

    it('emits fileStart, throttled bytes (>= 64 KiB apart) and fileEnd, the last bytes event at the full size', async function () {
      const dir = await makeServerDir(shared.server, `progress-${transport}`);
      const size = 4 * 1024 * 1024 + 5;
      for (const direction of ['up', 'down'] as const) {
        const events: ProgressEvent[] = [];
        const ctx = context(shared.channels, { transport, onProgress: (event) => events.push(event) });
        if (direction === 'up') {
          await upload(ctx, { sources: [{ kind: 'buffer', data: Buffer.alloc(size, 3) }], remotePath: `${dir.relative}/p.bin`, preserve: false, atomic: true, overwrite: 'overwrite' });
        } else {
          await download(ctx, bufferDownload(`${dir.relative}/p.bin`, size));
        }
        assert.equal(events[0].type, 'fileStart');
        assert.equal(events[events.length - 1].type, 'fileEnd');
        const bytes = events.filter((event): event is Extract<ProgressEvent, { type: 'bytes' }> => event.type === 'bytes');
        assert.ok(bytes.length >= 1 && bytes.length <= Math.ceil(size / 65536) + 1, `${bytes.length} bytes events`);
        for (let i = 1; i < bytes.length; i += 1) assert.ok(bytes[i].fileBytes > bytes[i - 1].fileBytes);
        assert.equal(bytes[bytes.length - 1].fileBytes, size);
        assert.equal(bytes[bytes.length - 1].fileSize, size);
      }
    });
  });
}

/** Nothing was written into the target or next to it. */
async function assertNothingLanded({ outer, local }: { outer: string; local: string }): Promise<void> {
  assert.deepEqual(await fs.readdir(outer), ['target']);
  assert.deepEqual(await fs.readdir(local), []);
}

/** An empty local `target` directory alone in a fresh parent, to see that nothing lands next to it. */
async function targetInParent(prefix: string): Promise<{ outer: string; local: string }> {
  const outer = await makeTempDir(prefix);
  const local = join(outer, 'target');
  await fs.mkdir(local);
  return { outer, local };
}

describe('transfer: stalls, deadlines and broken servers (fake server)', function () {
  const { channels, script } = useFakeExecServer();

  const downloadRequest = (path: string) => directoryDownload('data.bin', path, { overwrite: 'overwrite' });

  it('a server that stops answering fails the job with ETIMEDOUT after the idle timeout', async function () {
    script.behaviour = () => undefined; // accepts the channel, never says a word
    const local = await makeTempDir('stall');
    await assert.rejects(download(context(channels, { idleTimeoutMs: 300 }), downloadRequest(local)), (error: TransferError) => error.code === 'ETIMEDOUT');
    assert.deepEqual(await fs.readdir(local), []);
  });

  it('a job over its deadline fails with ETIMEDOUT even while the server trickles data', async function () {
    script.behaviour = ({ channel }) => {
      channel.once('data', () => {
        channel.write('C0644 1000000 data.bin\n');
        const timer = setInterval(() => {
          if (!channel.writable) return clearInterval(timer);
          channel.write(Buffer.alloc(10));
        }, 20);
        channel.on('close', () => clearInterval(timer));
      });
    };
    const local = await makeTempDir('deadline');
    await assert.rejects(
      download(context(channels, { idleTimeoutMs: 5000, deadlineMs: 400 }), downloadRequest(local)),
      (error: TransferError) => error.code === 'ETIMEDOUT' && /within 400 ms/.test(error.message),
    );
    assert.deepEqual(await fs.readdir(local), []);
  });

  it('short data then EOF: EPROTO and no partial file', async function () {
    script.behaviour = ({ channel }) => {
      channel.once('data', () => {
        channel.write('C0644 1000 data.bin\n');
        channel.once('data', () => {
          channel.write(Buffer.alloc(500, 1));
          channel.exit(0);
          channel.end();
        });
      });
    };
    const local = await makeTempDir('short');
    await assert.rejects(download(context(channels), downloadRequest(local)), (error: TransferError) => error.code === 'EPROTO');
    assert.deepEqual(await fs.readdir(local), []);
  });

  it('a traversal name from the server is refused and nothing lands outside the target', async function () {
    script.behaviour = ({ channel }) => {
      channel.once('data', () => channel.write('D0755 0 ..\n'));
    };
    const { outer, local } = await targetInParent('traversal');
    await assert.rejects(
      download(context(channels), { ...downloadRequest(local), recursive: true }),
      (error: TransferError) => error.code === 'EPROTO' && !error.message.includes('\n'),
    );
    await assertNothingLanded({ outer, local });
  });

  it("with transport 'auto' a hostile first record is the error, not a cue to retry over SFTP", async function () {
    const commands: string[] = [];
    script.behaviour = ({ command, channel }) => {
      commands.push(command);
      channel.once('data', () => channel.write('C0644 5 ../escape\n'));
    };
    const { outer, local } = await targetInParent('auto-hostile');
    await assert.rejects(
      download(context(channels, { transport: 'auto' }), downloadRequest(local)),
      (error: TransferError) => error.code === 'EPROTO' && /escape/.test(error.message),
    );
    assert.equal(commands.length, 1, 'one scp exec, no fallback');
    await assertNothingLanded({ outer, local });
  });

  it('an upload whose server refuses the data midway leaves no temporary file behind (rm after failure)', async function () {
    const seen: string[] = [];
    script.behaviour = ({ command, channel }) => {
      seen.push(command);
      if (command.startsWith('printf')) {
        // The probe: the target directory exists, the file does not.
        channel.write('SCP-PROBE:dn\n');
        // A single file's probe is folded into its scp -t command: the sink follows on the same channel.
        if (!unfoldUpload(command)) {
          channel.exit(0);
          channel.end();
          return;
        }
      }
      if (command.startsWith('rm -f')) {
        channel.exit(0);
        channel.end();
        return;
      }
      channel.write(Buffer.from([0]));
      channel.once('data', () => {
        channel.write(Buffer.from([0])); // ack the C record
        channel.once('data', () => {
          channel.write('\x01scp: dir/file: No space left on device\n');
          channel.exit(1);
          channel.end();
        });
      });
    };
    await assert.rejects(
      upload(context(channels), {
        sources: [{ kind: 'buffer', data: Buffer.alloc(300_000, 1), name: 'file' }],
        remotePath: 'dir',
        preserve: false,
        atomic: true,
        overwrite: 'overwrite',
      }),
      (error: TransferError) => error.code === 'ENOSPC' || error.code === 'EPROTO',
    );
    const removal = seen.find((command) => command.startsWith('rm -f'));
    assert.ok(removal, `cleanup command sent: ${JSON.stringify(seen)}`);
    assert.match(removal, /'dir\/\.file\.scp-[0-9a-f]{16}\.part'/);
  });

  it('a server that ignores SSH flow control is cut off with EPROTO before memory grows without bound', async function () {
    this.timeout(30_000);
    const floodBytes = 512 * 1024 * 1024;
    let pushed = 0;
    script.behaviour = ({ command, channel }) => {
      if (command.startsWith('printf')) channel.write('SCP-PROBE:dn\n');
      if ((command.startsWith('printf') && !unfoldUpload(command)) || command.startsWith('rm -f')) {
        channel.exit(0);
        channel.end();
        return;
      }
      channel.write(Buffer.from([0]));
      channel.once('data', () => {
        channel.pause(); // never read the data: the upload stalls on the window while the flood runs
        channel.write(Buffer.from([0])); // ack the C record
        // Push stdout straight through the protocol, past the window that ssh2's channel would respect.
        const internals = channel as unknown as { _client: { _protocol: { channelData(id: number, data: Buffer): void } }; outgoing: { id: number } };
        // ssh2 drops data only at a window of exactly 0: blocks of an odd size step over 0 into the negative.
        const block = Buffer.alloc(32 * 1024 - 1, 0x41);
        const pump = (): void => {
          if (channel.destroyed || pushed >= floodBytes) return;
          for (let i = 0; i < 32; i += 1) internals._client._protocol.channelData(internals.outgoing.id, block);
          pushed += 32 * block.length;
          setImmediate(pump);
        };
        channel.on('close', () => (pushed = floodBytes));
        pump();
      });
    };
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      await assert.rejects(
        upload(context(channels, { idleTimeoutMs: 20_000 }), {
          sources: [{ kind: 'buffer', data: Buffer.alloc(64 * 1024 * 1024, 1), name: 'file' }],
          remotePath: 'dir',
          preserve: false,
          atomic: true,
          overwrite: 'overwrite',
        }),
        (error: TransferError) => error.code === 'EPROTO' && /flow control/.test(error.message) && error.message.includes(channels.label),
      );
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - before;
    assert.ok(growth < 192 * 1024 * 1024, `rss grew by ${Math.round(growth / 1048576)} MiB`);
  });
});
