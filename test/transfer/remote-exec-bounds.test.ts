/**
 * The helper commands around the SCP protocol (probe, rename, mkdir, rm) against a server that floods or
 * trickles: output beyond what such a command prints ends it with EPROTO, and a trickle that keeps the idle
 * timer alive still ends at the command's overall limit with ETIMEDOUT. Either way the channel slot is freed.
 */
import * as assert from 'node:assert/strict';
import type { ServerChannel } from 'ssh2';
import { startFakeServer, type FakeServer } from '../harness';
import { SshPool } from '../../src/ssh';
import { Job } from '../../src/transfer/job/job';
import { commandLimitMs, runRemote } from '../../src/transfer/scp/remote-exec';
import { probeRemote } from '../../src/transfer/scp/shell-scripts';
import { TransferError } from '../../src/errors';
import { eventually } from '../support';
import { poolForFake } from '../hostile/support';

const IDLE_MS = 1000;

/** Writes `chunk` until `total` bytes went out (or the channel closed), honouring backpressure. */
function flood(stream: NodeJS.WritableStream, chunk: Buffer, total: number): void {
  let sent = 0;
  const more = (): void => {
    while (sent < total) {
      sent += chunk.length;
      if (!stream.write(chunk)) {
        stream.once('drain', more);
        return;
      }
    }
  };
  more();
}

/** One byte every 200 ms, for ever (until the client closes the channel). */
function trickle(channel: ServerChannel): void {
  const timer = setInterval(() => channel.write('.'), 200);
  channel.on('close', () => clearInterval(timer));
  channel.on('finish', () => clearInterval(timer));
}

async function failure(promise: Promise<unknown>): Promise<TransferError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TransferError, String(error));
    return error;
  }
  throw new Error('the command succeeded');
}

describe('transfer: remote helper commands are bounded', function () {
  this.timeout(40_000);
  let fake: FakeServer;
  let pool: SshPool;
  before(async function () {
    fake = await startFakeServer(({ command, channel }) => {
      if (command.startsWith('stdout-flood')) flood(channel, Buffer.alloc(64 * 1024, 0x61), 8 * 1024 * 1024);
      else if (command.startsWith('stderr-flood')) flood(channel.stderr, Buffer.alloc(64 * 1024, 0x62), 8 * 1024 * 1024);
      else if (command.startsWith('printf')) trickle(channel); // the probe's command line
      else {
        channel.write('done\n');
        channel.exit(0);
        channel.end();
      }
    });
    pool = poolForFake(fake);
  });
  after(async function () {
    await pool?.close();
    await fake?.close();
  });

  const newJob = (): Job => new Job({ channels: pool, transport: 'scp', idleTimeoutMs: IDLE_MS });

  it('a command that prints more than the stdout cap ends with EPROTO naming host and path', async function () {
    const error = await failure(runRemote(newJob(), Buffer.from('stdout-flood'), '/srv/target'));
    assert.equal(error.code, 'EPROTO');
    assert.match(error.message, /more output than a remote command prints/);
    assert.equal(error.path, '/srv/target');
    assert.ok(error.host?.includes(fake.host), error.host);
    await eventually('the slot to be free', () => pool.stats().channels === 0);
  });

  it('a command that floods stderr ends with EPROTO', async function () {
    const error = await failure(runRemote(newJob(), Buffer.from('stderr-flood'), '/srv/target'));
    assert.equal(error.code, 'EPROTO');
    assert.match(error.message, /more error output/);
    await eventually('the slot to be free', () => pool.stats().channels === 0);
  });

  it('a probe the server answers one byte at a time, for ever, ends with ETIMEDOUT at the command limit', async function () {
    const job = newJob();
    const error = await failure(probeRemote(job, [Buffer.from('/srv/a')], '/srv/a'));
    assert.equal(error.code, 'ETIMEDOUT');
    // The trickle kept the idle timer ("gave no sign of life") alive: the overall limit ended it.
    assert.match(error.message, new RegExp(`did not finish within ${commandLimitMs(job)} ms`));
    assert.equal(error.path, '/srv/a');
    await eventually('the slot to be free', () => pool.stats().channels === 0);
  });

  it('a well-behaved command still returns its output', async function () {
    const outcome = await runRemote(newJob(), Buffer.from('true'), '/srv/x');
    assert.equal(outcome.exitCode, 0);
    assert.equal(outcome.stdout.toString(), 'done\n');
  });
});
