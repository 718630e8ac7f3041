/**
 * Bounds a hostile server cannot push past, on both transports:
 * - a download into memory holds what actually arrived, not what the server announced (a server that
 *   announces 1 GiB, sends 10 bytes and stalls must not pin a gigabyte per message until the timeout);
 * - a download creates at most `maxDirectories` directories (default 10,000): endless sibling
 *   directories would exhaust the inodes long before the file or depth caps notice.
 */
import assert from 'assert';
import { promises as fs } from 'node:fs';
import { SshPool } from '../../src/ssh';
import { TransferError } from '../../src/errors';
import { DEFAULT_MAX_DIRECTORIES, download, type DownloadLimits, type DownloadRequest, type TransportUsed } from '../../src/transfer';
import { useScriptedScpServer, useScriptedSftpServer } from '../support';
import { listedTree } from './sftp-server';
import { assertArena, assertCleanMessage, makeArena } from './support';
import { directoryDownload } from '../transfer/support';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const ANNOUNCED = GiB;
/** generous: the announced size is 1 GiB; what arrives is 10 bytes */
const MAX_GROWTH = 64 * MiB;
const STALL_MS = 1000;
const LIMITS: DownloadLimits = { maxFileBytes: 4 * GiB, maxTotalBytes: 4 * GiB, maxFiles: 1000, maxDepth: 16 };

/** Memory outside the JS heap that Buffers use: an up-front allocation of the announced size shows here at once. */
function bufferMemory(): number {
  const usage = process.memoryUsage();
  return usage.arrayBuffers + usage.external;
}

/** Runs a buffer download that must end in ETIMEDOUT, sampling buffer memory meanwhile; returns the peak growth. */
async function stalledBufferDownload(pool: SshPool, transport: TransportUsed, remotePath: string): Promise<number> {
  global.gc?.();
  const before = bufferMemory();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, bufferMemory());
  }, 10);
  const request: DownloadRequest = {
    remotePath,
    target: { kind: 'buffer', maxBytes: 4 * GiB },
    recursive: false,
    glob: false,
    preserve: false,
    overwrite: 'overwrite',
    limits: LIMITS,
  };
  let caught: unknown;
  try {
    await download({ channels: pool, transport, idleTimeoutMs: STALL_MS }, request);
  } catch (error) {
    caught = error;
  } finally {
    clearInterval(sampler);
    peak = Math.max(peak, bufferMemory());
  }
  assert.ok(caught instanceof TransferError, `expected ETIMEDOUT, got ${String(caught)}`);
  assert.strictEqual(caught.code, 'ETIMEDOUT', caught.message);
  assertCleanMessage(caught.message);
  return peak - before;
}

describe('bounds against a hostile server: memory follows the data, directories are capped', function () {
  this.timeout(60_000);

  describe('over SCP', () => {
    const { server, pool } = useScriptedScpServer();

    it('a file announced at 1 GiB that sends 10 bytes and stalls: buffer memory does not jump, ETIMEDOUT', async () => {
      server.script = async (side) => {
        await side.ack();
        await side.send(`C0644 ${ANNOUNCED} x\n`);
        await side.ack();
        await side.send('ten bytes!');
        await side.clientEnded();
      };
      const growth = await stalledBufferDownload(pool, 'scp', '/srv/x');
      assert.ok(growth < MAX_GROWTH, `buffer memory grew by ${(growth / MiB).toFixed(1)} MiB for 10 bytes received`);
    });

    /** Sends sibling directories under /srv/data until the client gives up; returns how many it acked. */
    function siblingDirectories(count: number): () => number {
      let accepted = 0;
      server.script = async (side) => {
        await side.ack();
        await side.send('D0755 0 data\n');
        await side.ack();
        for (let i = 0; i < count; i += 1) {
          if (!(await side.send(`D0755 0 d${i}\nE\n`))) return;
          await side.ack();
          await side.ack();
          accepted += 1;
        }
        await side.send('E\n');
        await side.clientEnded();
      };
      return () => accepted;
    }

    it('endless sibling directories stop at maxDirectories (ETOOBIG naming the path), nothing more created', async () => {
      const arena = await makeArena();
      siblingDirectories(1000);
      const request: DownloadRequest = directoryDownload('/srv/data', arena.target, { recursive: true, overwrite: 'overwrite', limits: { ...LIMITS, maxDirectories: 5 } });
      await assert.rejects(download({ channels: pool, transport: 'scp', idleTimeoutMs: 5000 }, request), (error: TransferError) => {
        assert.strictEqual(error.code, 'ETOOBIG', error.message);
        assert.match(error.message, /more than the limit of 5 directories.*data\/d4/);
        return true;
      });
      await assertArena(arena, { data: { dir: true }, 'data/d0': { dir: true }, 'data/d1': { dir: true }, 'data/d2': { dir: true }, 'data/d3': { dir: true } });
    });

    it(`without a limit in the request the default cap (${DEFAULT_MAX_DIRECTORIES}) applies`, async () => {
      const arena = await makeArena();
      const accepted = siblingDirectories(DEFAULT_MAX_DIRECTORIES + 500);
      const request: DownloadRequest = directoryDownload('/srv/data', arena.target, { recursive: true, overwrite: 'overwrite', limits: LIMITS });
      await assert.rejects(download({ channels: pool, transport: 'scp', idleTimeoutMs: 10_000 }, request), (error: TransferError) => {
        assert.strictEqual(error.code, 'ETOOBIG', error.message);
        assert.match(error.message, new RegExp(`more than the limit of ${DEFAULT_MAX_DIRECTORIES} directories`));
        return true;
      });
      // "data" counts as one: its siblings stop one short of the cap. The answers sent ahead (32, two per
      // sibling) let the server run at most 16 siblings past what was checked; none of them was created.
      assert.ok(accepted() >= DEFAULT_MAX_DIRECTORIES - 1 && accepted() <= DEFAULT_MAX_DIRECTORIES - 1 + 16, String(accepted()));
      assert.strictEqual((await fs.readdir(`${arena.target}/data`)).length, DEFAULT_MAX_DIRECTORIES - 1);
      await fs.rm(arena.parent, { recursive: true, force: true });
    });
  });

  describe('over SFTP', () => {
    const { server, pool } = useScriptedSftpServer();

    it('a file announced at 1 GiB that sends 10 bytes and stalls: buffer memory does not jump, ETIMEDOUT', async () => {
      server.tree = listedTree({
        '/srv': { type: 'dir' },
        '/srv/x': { type: 'file', content: Buffer.alloc(0), size: ANNOUNCED, read: (offset) => (offset === 0 ? Buffer.from('ten bytes!') : 'stall') },
      });
      const growth = await stalledBufferDownload(pool, 'sftp', '/srv/x');
      assert.ok(growth < MAX_GROWTH, `buffer memory grew by ${(growth / MiB).toFixed(1)} MiB for 10 bytes received`);
    });
  });
});
