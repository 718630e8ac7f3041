/**
 * The reused buffers of the data paths against the real sshd: 64 MiB of varied content goes up through
 * the engine (local files read into two reused buffers) and comes back through a deliberately slow reader
 * (the SCP inbox lends its ring, the SFTP reader its request buffers), byte-identical over both transports;
 * and a server that floods past the window while the reader is slow is still cut off with bounded memory.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { TransferError } from '../../src/errors';
import { DEFAULT_RECORD_LIMITS, ScpSink, buildScpCommand } from '../../src/scp';
import { SftpSession } from '../../src/sftp';
import { download, upload } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { useBigFile } from './big-file';
import { context, sq, useSharedPool, directoryDownload } from './support';
import { useFakeExecServer } from '../support';

const SIZE = 64 * 1024 * 1024;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A writer that is slow now and then and digests each chunk only after its wait (a reused view shows). */
function slowDigest(): { write: (chunk: Buffer) => Promise<void>; hex: () => string; bytes: () => number } {
  const hash = createHash('sha256');
  let bytes = 0;
  let calls = 0;
  return {
    write: async (chunk) => {
      calls += 1;
      await (calls % 8 === 0 ? pause(2) : new Promise((resolve) => setImmediate(resolve)));
      hash.update(chunk);
      bytes += chunk.length;
    },
    hex: () => hash.digest('hex'),
    bytes: () => bytes,
  };
}

describe('transfer: data path buffers (64 MiB, varied content, slow reader)', function () {
  this.timeout(180_000);
  const shared = useSharedPool();
  const big = useBigFile('data-path', 'big.bin', SIZE);

  for (const transport of ['scp', 'sftp'] as const) {
    it(`${transport}: up from a local file and back through a slow reader, sha256-identical`, async function () {
      const { server, channels } = shared;
      const remote = await makeServerDir(server, `data-path-${transport}`);
      const remoteFile = `${remote.relative}/big.bin`;
      const up = await upload(context(channels, { transport }), {
        sources: [{ kind: 'path', path: big.path }],
        remotePath: remoteFile,
        preserve: false,
        atomic: true,
        overwrite: 'overwrite',
      });
      assert.equal(up.bytes, SIZE);
      const onServer = await runAsUser(server, `sha256sum ${sq(remoteFile)}`);
      assert.equal(onServer.stdout.toString().split(' ')[0], big.digest, 'the uploaded file differs');

      const reader = slowDigest();
      if (transport === 'scp') {
        const lease = await channels.exec(buildScpCommand(remoteFile, { role: 'source' }));
        lease.channel.on('error', () => undefined);
        const sink = new ScpSink(
          { stdout: lease.channel, stdin: lease.channel, stderr: lease.channel.stderr },
          {
            host: 'sshd',
            path: remoteFile,
            idleTimeoutMs: 20_000,
            expect: { kind: 'exact', name: 'big.bin' },
            recursive: false,
            limits: { ...DEFAULT_RECORD_LIMITS, maxDepth: 1, maxFiles: 1, maxTotalBytes: SIZE },
          },
        );
        const entry = await sink.next();
        assert.equal(entry?.type === 'file' && entry.size, SIZE);
        await sink.receive(reader.write);
        assert.equal(await sink.next(), null);
      } else {
        const lease = await channels.sftp();
        try {
          const controller = new AbortController();
          const session = new SftpSession(lease.sftp, {
            host: 'sshd',
            idleTimeoutMs: 20_000,
            signal: controller.signal,
            stopError: () => new TransferError('EABORTED', 'stopped'),
          });
          const handle = await session.open(remoteFile, 'r');
          await session.readAll(handle, remoteFile, SIZE, reader.write);
          await session.close(handle, remoteFile);
        } finally {
          lease.release();
        }
      }
      assert.equal(reader.bytes(), SIZE);
      assert.equal(reader.hex(), big.digest, 'the downloaded bytes differ');
      await runAsUser(server, `rm -rf ${sq(remote.relative)}`);
    });
  }
});

describe('transfer: a server flooding past the window faster than the download takes it (fake server)', function () {
  const { channels, script } = useFakeExecServer();

  it('is cut off with EPROTO and memory stays bounded (the inbox pauses, the unread data is watched)', async function () {
    this.timeout(60_000);
    const announced = 1024 * 1024 * 1024;
    let pushed = 0;
    let closed = false;
    script.behaviour = ({ channel }) => {
      channel.once('data', () => {
        channel.write(Buffer.from(`C0644 ${announced} data.bin\n`));
        channel.once('data', () => {
          const internals = channel as unknown as { _client: { _protocol: { channelData(id: number, data: Buffer): void } }; outgoing: { id: number } };
          // Odd-sized blocks step over a window of 0 into the negative, past ssh2's only check.
          const block = Buffer.alloc(32 * 1024 - 1, 0x42);
          const pump = (): void => {
            if (channel.destroyed || closed || pushed >= announced) return;
            for (let i = 0; i < 32; i += 1) internals._client._protocol.channelData(internals.outgoing.id, block);
            pushed += 32 * block.length;
            setImmediate(pump);
          };
          channel.on('close', () => (closed = true));
          pump();
        });
      });
    };
    const target = await makeTempDir('data-path-flood');
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      await assert.rejects(
        download(context(channels, { idleTimeoutMs: 20_000 }), directoryDownload('data.bin', target, { overwrite: 'overwrite' })),
        (error: TransferError) => error.code === 'EPROTO' && /flow control/.test(error.message),
      );
    } finally {
      clearInterval(sampler);
      await fs.rm(target, { recursive: true, force: true });
    }
    const growth = peak - before;
    assert.ok(growth < 192 * 1024 * 1024, `rss grew by ${Math.round(growth / 1048576)} MiB`);
    assert.ok(pushed < announced, 'the flood ran to its end instead of being cut off');
  });
});
