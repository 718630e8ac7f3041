/**
 * The SCP session code over real SSH channels (ssh2 client <-> the harness's scripted ssh2 server): flow
 * control across the channel window, EOF, exit status and stderr behave as on the in-memory streams.
 */
import assert from 'assert';
import { Client, type ClientChannel } from 'ssh2';
import { TransferError } from '../../src/errors';
import {
  DEFAULT_RECORD_LIMITS,
  ScpSink,
  ScpSource,
  buildScpCommand,
  isNoScpError,
  type SinkExpectation,
} from '../../src/scp';
import { startFakeServer, type FakeExecHandler, type FakeServer } from '../harness';
import { ServerSide } from '../hostile/server-side';
import { hasRawControls } from './peer';

describe('SCP sessions over real SSH channels (scripted hostile server)', function () {
  this.timeout(20000);
  let server: FakeServer | undefined;
  let client: Client | undefined;
  let script: (side: ServerSide) => Promise<void> = async () => undefined;
  const scriptErrors: unknown[] = [];

  const handler: FakeExecHandler = async ({ channel }) => {
    const side = new ServerSide(channel);
    try {
      await script(side);
    } catch (error) {
      // the client legitimately cuts hostile sessions short; record for tests that care
      scriptErrors.push(error);
    }
  };

  before(async () => {
    server = await startFakeServer(handler);
  });

  after(async () => {
    await server?.close();
  });

  beforeEach(async () => {
    scriptErrors.length = 0;
    client = await new Promise<Client>((resolve, reject) => {
      const connection = new Client();
      connection.on('ready', () => resolve(connection));
      connection.on('error', reject);
      connection.connect({
        host: '127.0.0.1',
        port: server?.port,
        username: 'tester',
        password: server?.password,
        // test-only: the fake server's key is fresh each run; host keys are the ssh layer's tests
        hostVerifier: () => true,
        readyTimeout: 10000,
      });
    });
    client.on('error', () => undefined);
  });

  afterEach(() => {
    client?.end();
  });

  function exec(command: string | Buffer): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      (client as Client).exec(command as string, (error, channel) => {
        if (error) return reject(error);
        channel.on('error', () => undefined);
        channel.stderr.on('error', () => undefined);
        resolve(channel);
      });
    });
  }

  async function openSink(expect: SinkExpectation, options: { idleTimeoutMs?: number; recursive?: boolean } = {}) {
    const command = buildScpCommand('/remote/x', { role: 'source', recursive: options.recursive });
    const channel = await exec(command);
    const sink = new ScpSink(
      { stdout: channel, stdin: channel, stderr: channel.stderr },
      {
        host: '127.0.0.1',
        path: '/remote/x',
        idleTimeoutMs: options.idleTimeoutMs ?? 5000,
        expect,
        recursive: options.recursive ?? false,
        limits: { ...DEFAULT_RECORD_LIMITS, maxDepth: 4, maxFiles: 10, maxTotalBytes: 64 * 1024 * 1024 },
        maxStderrBytes: 4096,
      },
    );
    return { sink, channel };
  }

  async function rejectsWith(promise: Promise<unknown>, code: string): Promise<TransferError> {
    let caught: unknown;
    try {
      await promise;
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof TransferError, `expected ${code}, got ${String(caught)}`);
    assert.strictEqual(caught.code, code, caught.message);
    assert.ok(caught.message.includes('127.0.0.1') && !hasRawControls(caught.message), caught.message);
    return caught;
  }

  it('download: 3 MiB across the channel window with a stderr flood, exit 0, quoted command', async () => {
    const size = 3 * 1024 * 1024;
    const pattern = (at: number): number => (at * 31 + 7) & 0xff;
    script = async (side) => {
      assert.deepStrictEqual(await side.take(1), Buffer.from([0]));
      await side.send(`C0644 ${size} x\n`);
      assert.deepStrictEqual(await side.take(1), Buffer.from([0]));
      for (let at = 0; at < size; at += 64 * 1024) {
        const chunk = Buffer.alloc(64 * 1024);
        for (let i = 0; i < chunk.length; i += 1) chunk[i] = pattern(at + i);
        await side.send(chunk);
        await side.send(Buffer.alloc(32 * 1024, 0x6e), 'stderr');
      }
      await side.send('\x1b[0mdone\n', 'stderr');
      await side.send('\0');
      assert.deepStrictEqual(await side.take(1), Buffer.from([0]));
      side.exit(0);
    };
    const { sink } = await openSink({ kind: 'exact', name: 'x' });
    const entry = await sink.next();
    assert.deepStrictEqual(entry, { type: 'file', parents: [], name: 'x', mode: 0o644, size });
    let received = 0;
    let mismatch = -1;
    await sink.receive(async (chunk) => {
      for (let i = 0; i < chunk.length; i += 1) if (mismatch < 0 && chunk[i] !== pattern(received + i)) mismatch = received + i;
      received += chunk.length;
      assert.ok(sink.stderrBytesKept() <= 4096);
      if (received % (512 * 1024) < chunk.length) await new Promise((resolve) => setTimeout(resolve, 5));
    });
    assert.strictEqual(received, size);
    assert.strictEqual(mismatch, -1, `byte ${mismatch} differs`);
    assert.strictEqual(await sink.next(), null);
    const finish = await sink.finish();
    assert.strictEqual(finish.exitCode, 0);
    assert.ok(finish.stderr.endsWith('\\x1b[0mdone'), finish.stderr.slice(-40));
    assert.deepStrictEqual(server?.commands.slice(-1), ["scp -f -- '/remote/x'"]);
    assert.deepStrictEqual(scriptErrors, []);
  });

  it('download: a traversal name is refused before any ack, and the channel is closed', async () => {
    let afterStart: Buffer | undefined;
    script = async (side) => {
      await side.take(1);
      await side.send('C0644 4 ../../.bashrc\nevil\0');
      await side.clientEnded();
      afterStart = await side.take(0);
    };
    const { sink, channel } = await openSink({ kind: 'exact', name: 'x' });
    await rejectsWith(sink.next(), 'EPROTO');
    await new Promise((resolve) => channel.once('close', resolve));
    assert.deepStrictEqual(afterStart, Buffer.alloc(0));
  });

  it('download: an unrequested file (CVE-2019-6111) is refused', async () => {
    script = async (side) => {
      await side.take(1);
      await side.send('C0644 4 authorized_keys\nevil\0');
      await side.clientEnded();
    };
    const { sink } = await openSink({ kind: 'exact', name: 'x' });
    const error = await rejectsWith(sink.next(), 'EPROTO');
    assert.match(error.message, /not requested/);
  });

  it('download: "No such file" as \\x01 then exit 1 -> ENOENT', async () => {
    script = async (side) => {
      await side.take(1);
      await side.send('\x01scp: /remote/x: No such file or directory\n');
      side.exit(1);
    };
    const { sink } = await openSink({ kind: 'exact', name: 'x' });
    await rejectsWith(sink.next(), 'ENOENT');
  });

  it('download: a server that stalls mid-file -> ETIMEDOUT', async () => {
    script = async (side) => {
      await side.take(1);
      await side.send('C0644 100 x\n');
      await side.take(1);
      await side.send('only some');
      await side.clientEnded();
    };
    const { sink } = await openSink({ kind: 'exact', name: 'x' }, { idleTimeoutMs: 300 });
    await sink.next();
    await rejectsWith(sink.receive(() => undefined), 'ETIMEDOUT');
  });

  it('download: endless data beyond the size -> EPROTO, and the flood is cut off', async () => {
    let sentBytes = 0;
    script = async (side) => {
      await side.take(1);
      await side.send('C0644 5 x\n');
      await side.take(1);
      const block = Buffer.alloc(64 * 1024, 0x41);
      while (sentBytes < 256 * 1024 * 1024 && (await side.send(block))) sentBytes += block.length;
    };
    const { sink, channel } = await openSink({ kind: 'exact', name: 'x' });
    await sink.next();
    await rejectsWith(sink.receive(() => undefined), 'EPROTO');
    // the channel closes (so a pool slot would be freed) although the server was mid-flood
    await new Promise((resolve) => channel.once('close', resolve));
    // the channel window (ssh2: 2 MiB) bounds what the server could push before we cut it off
    assert.ok(sentBytes < 32 * 1024 * 1024, `server pushed ${sentBytes} bytes`);
  });

  it('upload: a full exchange with scp -t semantics, exit status and stderr', async () => {
    const lines: string[] = [];
    let data: Buffer | undefined;
    script = async (side) => {
      await side.send('\0');
      lines.push(await side.takeLine());
      await side.send('\0');
      lines.push(await side.takeLine());
      await side.send('\0');
      data = await side.take(1024 * 1024 + 1);
      await side.send('\0');
      await side.clientEnded();
      await side.send('warning: almost full\n', 'stderr');
      side.exit(0);
    };
    const channel = await exec(buildScpCommand('/upload/here', { role: 'sink', preserve: true }));
    const source = new ScpSource(
      { stdout: channel, stdin: channel, stderr: channel.stderr },
      { host: '127.0.0.1', path: '/upload/here', idleTimeoutMs: 5000 },
    );
    await source.ready();
    const content = Buffer.alloc(1024 * 1024, 0x5a);
    const result = await source.sendFile({ name: 'f.bin', mode: 0o600, size: content.length, times: { mtime: 10, atime: 20 }, content });
    assert.deepStrictEqual(result, { ok: true });
    const finish = await source.finish();
    assert.deepStrictEqual(finish, { exitCode: 0, stderr: 'warning: almost full' });
    assert.deepStrictEqual(lines, ['T10 0 20 0', `C0600 ${content.length} f.bin`]);
    assert.ok(data?.subarray(0, content.length).equals(content));
    assert.strictEqual(data?.[content.length], 0);
    assert.deepStrictEqual(server?.commands.slice(-1), ["scp -t -p -- '/upload/here'"]);
  });

  it('upload: no scp on the server (nothing, exit 127) -> EPROTO with noScp', async () => {
    script = async (side) => {
      await side.send('sh: 1: scp: not found\n', 'stderr');
      side.exit(127);
    };
    const channel = await exec(buildScpCommand('/upload/here', { role: 'sink' }));
    const source = new ScpSource(
      { stdout: channel, stdin: channel, stderr: channel.stderr },
      { host: '127.0.0.1', path: '/upload/here', idleTimeoutMs: 5000 },
    );
    const error = await rejectsWith(source.ready(), 'EPROTO');
    assert.ok(isNoScpError(error));
    assert.match(error.message, /exit status 127/);
    assert.match(error.message, /scp: not found/);
  });

  it('upload: a Buffer command with invalid UTF-8 reaches ssh2 exec unchanged', async () => {
    script = async (side) => {
      await side.send('\0');
      await side.clientEnded();
      side.exit(0);
    };
    const command = buildScpCommand(Buffer.from([0x2f, 0x74, 0x6d, 0x70, 0x2f, 0xff]), { role: 'sink' });
    // what ssh2's Client.exec hands to its protocol layer, which writes a Buffer into the packet as is
    const protocol = (client as unknown as { _protocol: { exec: (...args: unknown[]) => unknown } })._protocol;
    const originalExec = protocol.exec;
    const handedOver: unknown[] = [];
    protocol.exec = function (this: unknown, ...args: unknown[]) {
      handedOver.push(args[1]);
      return originalExec.apply(this, args);
    };
    const channel = await exec(command).finally(() => {
      protocol.exec = originalExec;
    });
    assert.strictEqual(handedOver.length, 1);
    assert.ok(Buffer.isBuffer(handedOver[0]) && handedOver[0].equals(command), 'the Buffer command was converted');
    const source = new ScpSource(
      { stdout: channel, stdin: channel, stderr: channel.stderr },
      { host: '127.0.0.1', path: '/tmp/\\xff', idleTimeoutMs: 5000 },
    );
    await source.ready();
    assert.strictEqual((await source.finish()).exitCode, 0);
    // ssh2's server decodes the command as UTF-8: the lone 0xff byte arrives (as U+FFFD), not dropped or re-encoded
    assert.deepStrictEqual(server?.commands.slice(-1), ["scp -t -- '/tmp/\ufffd'"]);
  });
});
