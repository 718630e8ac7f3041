/**
 * The exit status of the helper commands (probe, rename, staging move, directory finish) must not be
 * lost when the server's whole answer arrives at once. ssh2 parses every packet of one socket read in
 * one go: the exec callback, then the exit status, then CHANNEL_CLOSE. A listener attached after an
 * `await` of the exec lease misses that 'exit' event. On a loaded machine that is exactly what happens
 * with a quick `mv`: the upload then failed with "could not move the uploaded files into place" although
 * the move had worked. Reproduced here every time: a proxy holds what the server sends until the
 * server has been quiet for a moment, then delivers it in one write (what a busy client reads anyway).
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import type { TransferError } from '../../src/errors';
import { SshPool } from '../../src/ssh';
import { Job } from '../../src/transfer/job/job';
import { finishRemoteDirectories, moveStagedFiles } from '../../src/transfer/scp/shell-scripts';
import { type FakeServer, startFakeServer } from '../harness';
import { context } from './support';
import { poolForFake } from '../hostile/support';

/** Forwards 127.0.0.1:<port> to `target`; server-to-client bytes go out in one write once the server pauses. */
async function startBurstProxy(target: { host: string; port: number }, quietMs: number): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    let held: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    upstream.on('data', (chunk: Buffer) => {
      held.push(chunk);
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        client.write(Buffer.concat(held));
        held = [];
      }, quietMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

describe('transfer: exit status of helper commands answered in one packet burst', function () {
  let fake: FakeServer;
  let proxy: { port: number; close(): void };
  let pool: SshPool;
  let exitCode = 0;

  before(async function () {
    fake = await startFakeServer(({ channel }) => {
      channel.exit(exitCode);
      channel.end();
    });
    proxy = await startBurstProxy(fake, 150);
    // through the proxy: every packet of the server arrives in bursts
    pool = poolForFake({ ...fake, port: proxy.port });
  });
  after(async () => {
    await pool?.close();
    proxy?.close();
    await fake?.close();
  });

  const staging = {
    parent: Buffer.from('dir'),
    path: Buffer.from('dir/.scp-0123456789abcdef.part'),
    files: [{ name: Buffer.from('a') }, { name: Buffer.from('b') }],
  };

  it('a staging move whose command exits 0 succeeds', async function () {
    exitCode = 0;
    const job = new Job(context(pool));
    for (let round = 0; round < 5; round += 1) await moveStagedFiles(job, [staging], 'dir');
    assert.ok(fake.commands.some((command) => command.includes('mv -f --')));
  });

  it('a directory finish whose command exits 0 succeeds', async function () {
    exitCode = 0;
    const job = new Job(context(pool));
    await finishRemoteDirectories(job, [{ path: Buffer.from('dir'), mode: 0o555 }], 'dir');
  });

  it('a staging move whose command exits 1 still fails (the status is read, not assumed)', async function () {
    exitCode = 1;
    const job = new Job(context(pool));
    await assert.rejects(moveStagedFiles(job, [staging], 'dir'), (error: TransferError) => error.summary === 'could not move the uploaded files into place');
  });
});
