/**
 * What used to take the whole Node-RED process down, or hold a message forever, through the `scp upload`
 * node in a real runtime: an object-mode stream as payload, a payload stream that never ends, a local
 * file that vanishes between planning and sending (a scripted server removes it while the previous file
 * is on the wire), and the symlink rules of folder pushes. Each message is answered with done(err) and
 * the right code, nothing is thrown past the runtime, and the same flow then uploads normally.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { makeServerDir, makeTempDir, runAsUser, sharedSshd, startFakeServer, type FakeServer, type SshdServer } from '../harness';
import { ServerSide } from '../hostile/server-side';
import { hookedStream, spoolDirsDuring, stallingStream } from '../transfer/upload-safety-support';
import { connectionDef, errorCode, helper, loadFlow, resultOf, send, uploadDef, useNodeRed, type Outcome } from './support';

interface Spied {
  getCalls(): { thisValue: unknown; args: unknown[] }[];
}

/** Calls of node.error on the node itself: done(err) turns into exactly one. */
function errorCalls(id: string): number {
  const node = helper.getNode(id) as unknown as Record<string, Spied>;
  return node.error.getCalls().filter((call) => call.thisValue === node).length;
}

/** Records anything thrown past the runtime while a test runs (mocha would only see the first). */
function useCrashRecorder(): { crashes: unknown[] } {
  const recorder = { crashes: [] as unknown[] };
  const record = (error: unknown): void => {
    recorder.crashes.push(error);
  };
  beforeEach(() => {
    recorder.crashes = [];
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
  });
  afterEach(() => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  });
  return recorder;
}

/**
 * An SCP sink that takes every record; `onFile(name)` runs when a file's record arrives, before its
 * acknowledgement. The probe is answered "the first path is a directory, nothing else exists".
 */
async function startScriptedSink(onFile: (name: string) => void): Promise<FakeServer> {
  return startFakeServer(async ({ command, channel }) => {
    const side = new ServerSide(channel);
    if (command.includes('SCP-PROBE:')) {
      const list = command.slice(command.indexOf(' for p in'), command.indexOf('; do'));
      await side.send(`SCP-PROBE:d${'n'.repeat((list.match(/'[^']*'/g) ?? []).length - 1)}\n`);
      side.exit(0);
      return;
    }
    if (!command.startsWith('scp ')) {
      side.exit(0);
      return;
    }
    await side.send('\0');
    try {
      for (;;) {
        const record = await side.takeLine();
        if (record.startsWith('C')) {
          const [, size, name] = /^C\d{4} (\d+) (.*)$/.exec(record) ?? [];
          onFile(name);
          await side.send('\0');
          await side.take(Number(size) + 1);
        }
        await side.send('\0');
      }
    } catch {
      // the client ended its side
    }
    side.exit(0);
  });
}

describe('nodes: scp upload survives bad payloads and vanishing local files', function () {
  this.timeout(30_000);
  useNodeRed();
  const recorder = useCrashRecorder();
  let server: SshdServer;
  let remote: { relative: string; absolute: string };

  before(async function () {
    server = await sharedSshd();
  });
  beforeEach(async function () {
    remote = await makeServerDir(server, 'upload-crash');
  });

  async function loadRealFlow(upload: Record<string, unknown> = {}): Promise<void> {
    // one second: the smallest idle timeout the connection node takes
    await loadFlow([connectionDef(server, { idleTimeout: 1 }), uploadDef(upload)], { conn: { privateKey: server.clientKey } });
  }

  /** The message failed once with `code`, nothing escaped, and the same node then uploads normally. */
  async function assertAnsweredAndAlive(outcome: Outcome, code: string): Promise<void> {
    assert.strictEqual(errorCode(outcome), code, JSON.stringify(outcome.error?.error));
    assert.strictEqual(outcome.results.length, 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.strictEqual(errorCalls('up'), 1, 'done(err) was not called exactly once');
    assert.deepStrictEqual(recorder.crashes, [], 'something was thrown past the runtime');
    const after = await send('up', { payload: 'still alive', remotePath: `${remote.absolute}/alive.txt` });
    resultOf(after);
    const check = await runAsUser(server, `cat -- '${remote.absolute}/alive.txt'`);
    assert.strictEqual(check.stdout.toString(), 'still alive');
  }

  it('an object-mode stream as payload: EINVAL, no spool directory left', async function () {
    await loadRealFlow();
    let outcome: Outcome | undefined;
    const spools = await spoolDirsDuring(async () => {
      const { Readable } = await import('stream');
      outcome = await send('up', { payload: Readable.from([{ a: 1 }, 42]), remotePath: `${remote.absolute}/objects` });
    });
    assert.deepStrictEqual(spools, []);
    await assertAnsweredAndAlive(outcome as Outcome, 'EINVAL');
  });

  it('a payload stream that never ends: ETIMEDOUT after the idle timeout, no spool directory left', async function () {
    await loadRealFlow();
    const stream = stallingStream(Buffer.from('a first chunk, then silence'));
    let outcome: Outcome | undefined;
    const spools = await spoolDirsDuring(async () => {
      outcome = await send('up', { payload: stream, remotePath: `${remote.absolute}/endless` });
    });
    assert.deepStrictEqual(spools, []);
    assert.ok(stream.destroyed, 'the stalled payload stream was not destroyed');
    await assertAnsweredAndAlive(outcome as Outcome, 'ETIMEDOUT');
  });

  it('a payload stream that fails before it is read: EINVAL, not an unhandled error', async function () {
    await loadRealFlow();
    const stream = hookedStream(Buffer.alloc(0), async () => {
      throw new Error('the producer broke');
    });
    const outcome = await send('up', { payload: stream, remotePath: `${remote.absolute}/broken` });
    await assertAnsweredAndAlive(outcome, 'EINVAL');
  });

  describe('symbolic links in a pushed folder', function () {
    let tree: string;

    beforeEach(async function () {
      const local = await makeTempDir('node-links');
      fs.writeFileSync(path.join(local, 'shadow'), 'root:secret-hash\n');
      tree = path.join(local, 'outbox');
      fs.mkdirSync(tree);
      fs.writeFileSync(path.join(tree, 'report.txt'), 'report');
      fs.symlinkSync(path.join(local, 'shadow'), path.join(tree, 'shadow'));
    });

    it('are skipped by default and listed in msg.scp.skipped', async function () {
      await loadRealFlow();
      const result = resultOf(await send('up', { localPath: tree, remotePath: remote.absolute }));
      assert.deepStrictEqual((result.scp as { skipped: unknown }).skipped, [{ localPath: path.join(tree, 'shadow'), reason: 'symlink' }]);
      const listed = await runAsUser(server, `ls -A -- '${remote.absolute}/outbox'`);
      assert.strictEqual(listed.stdout.toString(), 'report.txt\n');
      assert.deepStrictEqual(recorder.crashes, []);
    });

    it('are followed with the node option "Follow symbolic links"', async function () {
      await loadRealFlow({ followSymlinks: true });
      const result = resultOf(await send('up', { localPath: tree, remotePath: remote.absolute }));
      assert.deepStrictEqual((result.scp as { skipped: unknown }).skipped, []);
      const copied = await runAsUser(server, `cat -- '${remote.absolute}/outbox/shadow'`);
      assert.strictEqual(copied.stdout.toString(), 'root:secret-hash\n');
    });
  });

  describe('a local file that vanishes between planning and sending', function () {
    let fake: FakeServer;
    let removeWhen: { name: string; path: string } | undefined;

    before(async function () {
      fake = await startScriptedSink((name) => {
        if (removeWhen && name === removeWhen.name) fs.rmSync(removeWhen.path);
      });
    });
    after(async () => fake?.close());

    it('fails the message with ENOENT, the runtime lives on', async function () {
      const local = await makeTempDir('node-vanish');
      const first = path.join(local, 'app.log.1');
      const rotated = path.join(local, 'app.log');
      fs.writeFileSync(first, 'older lines\n');
      fs.writeFileSync(rotated, 'x'.repeat(2 * 1024 * 1024));
      // while the first file is on the wire, log rotation removes the second
      removeWhen = { name: 'app.log.1', path: rotated };
      await loadFlow(
        [
          connectionDef(server, { idleTimeout: 1 }),
          uploadDef(),
          {
            id: 'fake-conn',
            type: 'scp-connection',
            host: fake.host,
            port: fake.port,
            username: 'tester',
            hostKeyPolicy: 'fingerprint',
            hostFingerprints: fake.hostKeyFingerprints.join('\n'),
            transport: 'scp',
          },
          uploadDef({ id: 'up-fake', connection: 'fake-conn', atomic: false }),
        ],
        { conn: { privateKey: server.clientKey }, 'fake-conn': { password: fake.password } },
      );
      const outcome = await send('up-fake', { localPath: [first, rotated], remotePath: '/srv/inbox' });
      // (the test helper does not interpolate catalog texts; the engine test checks that the path is named)
      assert.strictEqual(errorCode(outcome), 'ENOENT', JSON.stringify(outcome.error?.error));
      await new Promise((resolve) => setImmediate(resolve));
      assert.strictEqual(errorCalls('up-fake'), 1, 'done(err) was not called exactly once');
      assert.deepStrictEqual(recorder.crashes, [], 'something was thrown past the runtime');
      assert.deepStrictEqual(fake.handlerErrors, []);
      // the same runtime still uploads through the real server
      const after = await send('up', { payload: 'still alive', remotePath: `${remote.absolute}/alive.txt` });
      resultOf(after);
    });
  });
});
