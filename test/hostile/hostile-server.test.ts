/**
 * Every hostile case of the protocol notes through the real engine: `download()` over an SshPool to a
 * scripted ssh2 server, into a directory target next to a canary. Each row must fail with its code and a
 * clean message naming the host, write nothing outside the target, leave no partial or temporary file,
 * and leave the pool usable for the next download. Floods also keep the process's memory bounded.
 */
import assert from 'assert';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { download, type DownloadRequest, type TransportChoice } from '../../src/transfer';
import { setPathsVerdict } from '../../src/transfer/transport-memory';
import { HOSTILE_CASES, REMOTE_PATHS, type HostileCase } from './cases';
import { eventually, useScriptedScpServer } from '../support';
import { OK_CONTENT, OK_PATH, assertArena, assertRowFailure, makeArena, type HostileServer } from './support';
import { directoryDownload } from '../transfer/support';

const MiB = 1024 * 1024;
/** rss may grow at most this much during a flood (the server pushes at least twice that) */
const FLOOD_RSS_GROWTH = 128 * MiB;

/** What the last scripted exec pushed (a function, so TypeScript does not narrow the field away). */
function pushedBy(server: HostileServer): number {
  return server.lastSide?.pushed ?? 0;
}

const DEFAULT_LIMITS = { maxFileBytes: 1024 * MiB, maxTotalBytes: 1024 * MiB, maxFiles: 1000, maxDepth: 16 };

describe('hostile SCP server: every case through download()', function () {
  this.timeout(30_000);
  const { server, pool } = useScriptedScpServer();

  function requestFor(row: HostileCase, target: string): DownloadRequest {
    return directoryDownload(REMOTE_PATHS[row.request], target, {
      recursive: row.request === 'tree',
      glob: row.request === 'glob',
      overwrite: 'overwrite',
      limits: { ...DEFAULT_LIMITS, ...row.limits },
    });
  }

  /** The same pool still downloads a good file (so the hostile session did not wedge a slot or the connection). */
  async function poolStillWorks(): Promise<void> {
    const arena = await makeArena();
    const result = await download(
      { channels: pool, transport: 'scp', idleTimeoutMs: 5000 },
      { remotePath: OK_PATH, target: { kind: 'directory', path: arena.target }, recursive: false, glob: false, preserve: false, overwrite: 'fail', limits: DEFAULT_LIMITS },
    );
    assert.strictEqual(result.files.length, 1);
    assert.deepStrictEqual(await fs.readFile(join(arena.target, 'ok.txt')), OK_CONTENT);
  }

  /** The hostile session's channel closed and gave its slot back (a leak would starve later rows). */
  async function channelSlotsFreed(): Promise<void> {
    await eventually('the pool has no channel open', () => pool.stats().channels === 0);
    assert.deepStrictEqual({ ...pool.stats(), maxChannelsSeen: 0 }, { connections: 1, channels: 0, queued: 0, maxChannelsSeen: 0 });
  }

  async function runRow(row: HostileCase, transport: TransportChoice): Promise<void> {
    const arena = await makeArena();
    server.script = row.script;
    server.lastSide = undefined;
    const sftpBefore = server.sftpRequests;
    // The same-paths probe (test/transfer/auto-sftp.test.ts) is not what these rows test: as if it found SFTP's paths to differ.
    setPathsVerdict(pool, { kind: 'differ' });

    let peakRss = 0;
    const sample = (): void => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    };
    let sampler: NodeJS.Timeout | undefined;
    if (row.flood) {
      global.gc?.();
      sample();
      sampler = setInterval(sample, 25);
    }
    const rssBefore = peakRss;

    let caught: unknown;
    try {
      await download({ channels: pool, transport, idleTimeoutMs: row.idleTimeoutMs ?? 5000 }, requestFor(row, arena.target));
    } catch (error) {
      caught = error;
    } finally {
      if (sampler) clearInterval(sampler);
      sample();
    }

    assertRowFailure(caught, row);
    await assertArena(arena, row.leaves);
    assert.strictEqual(server.sftpRequests, sftpBefore, 'transport auto fell back to SFTP on a hostile reply');

    if (row.flood) {
      const pushed = pushedBy(server);
      const growth = peakRss - rssBefore;
      if (row.flood.minPushed !== undefined) {
        assert.ok(pushed >= row.flood.minPushed, `the server pushed only ${(pushed / MiB).toFixed(1)} MiB`);
      }
      if (row.flood.maxPushed !== undefined) {
        // the client cut the flood off: the channel window bounds what got through before the close
        assert.ok(pushed <= row.flood.maxPushed, `the server pushed ${(pushed / MiB).toFixed(1)} MiB before being cut off`);
      }
      if (process.env.HOSTILE_VERBOSE) console.log(`    pushed ${(pushed / MiB).toFixed(1)} MiB, rss growth ${(growth / MiB).toFixed(1)} MiB`);
      assert.ok(growth < FLOOD_RSS_GROWTH, `rss grew by ${(growth / MiB).toFixed(1)} MiB while the server pushed ${(pushed / MiB).toFixed(1)} MiB`);
    }
    assert.ok(process.pid > 0 && !process.exitCode, 'the process lives on');
    await channelSlotsFreed();
    await poolStillWorks();
  }

  it('the pool downloads a good file before any hostile case', async () => {
    await poolStillWorks();
  });

  for (const row of HOSTILE_CASES) {
    it(`${row.name} -> ${row.code}`, async () => {
      await runRow(row, 'scp');
    });
    if (row.auto) {
      it(`${row.name} -> ${row.code} (transport auto: no SFTP fallback)`, async () => {
        await runRow(row, 'auto');
      });
    }
  }

  it('the fake server saw no handler errors, and one connection carried every case (never more than one channel at a time)', () => {
    assert.strictEqual(pool.stats().maxChannelsSeen, 1);
    assert.deepStrictEqual(server.fake.handlerErrors, []);
    assert.strictEqual(server.fake.connectionCount(), 1);
  });
});
