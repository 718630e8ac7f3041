import assert from 'assert';
import { getEventListeners } from 'events';
import { PassThrough, Readable } from 'stream';
import { TransferError } from '../../src/errors';
import { ScpSource, isNoScpError, type ScpSessionOptions } from '../../src/scp';
import { PEER_HOST, ScriptedPeer, peerReplying, rejectsWith } from './peer';

const HOST = PEER_HOST;
const PATH = '/remote/target';

function makeSource(peer: ScriptedPeer, options: Partial<ScpSessionOptions> = {}): ScpSource {
  return new ScpSource(peer.streams, { host: HOST, path: PATH, idleTimeoutMs: 5000, ...options });
}

/** A source that is ready: the server's first \0 already consumed. */
async function readySource(peer: ScriptedPeer, options: Partial<ScpSessionOptions> = {}): Promise<ScpSource> {
  peer.send('\0');
  const source = makeSource(peer, options);
  await source.ready();
  return source;
}

/** A ready source (the server's first \0 consumed) whose peer has `replies` queued: how most tests start. */
async function sourceAnswering(replies: string, options: Partial<ScpSessionOptions> = {}): Promise<{ peer: ScriptedPeer; source: ScpSource }> {
  const peer = new ScriptedPeer();
  const source = await readySource(peer, options);
  if (replies) peer.send(replies);
  return { peer, source };
}

/** The server's scp exits with `code`, the source finishes: everything the session sent, as latin1. */
async function allSentOnExit(peer: ScriptedPeer, source: ScpSource, code: number): Promise<string> {
  peer.exit(code);
  await source.finish();
  return (await peer.sessionEnded()).toString('latin1');
}

describe('ScpSource (upload state machine)', () => {
  describe('happy paths', () => {
    it('sends one file from a Buffer: C, data with the trailing \\0, and reads every reply', async () => {
      const { peer, source } = await sourceAnswering('\0\0');
      let progress = 0;
      const result = await source.sendFile({ name: 'a b.txt', mode: 0o100640, size: 5, content: Buffer.from('hello'), onBytes: (n) => (progress += n) });
      assert.deepStrictEqual(result, { ok: true });
      assert.strictEqual(progress, 5);
      peer.stderr.write('just a note\n');
      peer.exit(0);
      assert.deepStrictEqual(await source.finish(), { exitCode: 0, stderr: 'just a note' });
      assert.strictEqual((await peer.sessionEnded()).toString('latin1'), 'C0640 5 a b.txt\nhello\0');
    });

    it('lets go of the abort signal after finish()', async () => {
      const peer = new ScriptedPeer();
      const controller = new AbortController();
      const source = await readySource(peer, { signal: controller.signal });
      assert.strictEqual(getEventListeners(controller.signal, 'abort').length, 1);
      peer.exit(0);
      await source.finish();
      assert.strictEqual(getEventListeners(controller.signal, 'abort').length, 0);
    });

    it('sends a zero-byte file as C then a lone \\0', async () => {
      const { peer, source } = await sourceAnswering('\0\0');
      assert.deepStrictEqual(await source.sendFile({ name: 'empty', mode: 0o644, size: 0, content: Buffer.alloc(0) }), { ok: true });
      assert.strictEqual((await peer.take(13)).toString('latin1'), 'C0644 0 empty');
      assert.deepStrictEqual(await peer.take(2), Buffer.from('\n\0'));
    });

    it('sends an empty Readable announced as zero bytes, and refuses one that has bytes after all', async () => {
      const { peer, source } = await sourceAnswering('\0\0');
      assert.deepStrictEqual(await source.sendFile({ name: 'empty', mode: 0o644, size: 0, content: Readable.from([]) }), { ok: true });
      assert.strictEqual(await peer.takeLine(), 'C0644 0 empty');
      assert.deepStrictEqual(await peer.take(1), Buffer.from('\0'));

      const secondPeer = new ScriptedPeer();
      const second = await readySource(secondPeer);
      secondPeer.send('\0');
      await assert.rejects(
        second.sendFile({ name: 'grew', mode: 0o644, size: 0, content: Readable.from([Buffer.from('x')]) }),
        (error: TransferError) => error.code === 'ECHANGED' && /more bytes/.test(error.message),
      );
    });

    it('sends a T record first when times are given', async () => {
      const { peer, source } = await sourceAnswering('\0\0\0');
      await source.sendFile({ name: 'x', mode: 0o600, size: 1, times: { mtime: 1700000000.7, atime: 5 }, content: Buffer.from('z') });
      assert.strictEqual(await peer.takeLine(), 'T1700000000 0 5 0');
      assert.strictEqual(await peer.takeLine(), 'C0600 1 x');
    });

    it('streams a Readable of exactly `size` bytes, with back-pressure and the \\0 in the last write', async () => {
      const { peer, source } = await sourceAnswering('\0\0');
      const size = 3 * 1024 * 1024 + 17;
      const content = Readable.from(
        (function* () {
          for (let sent = 0; sent < size; sent += 64 * 1024) yield Buffer.alloc(Math.min(64 * 1024, size - sent), 0x61);
        })(),
      );
      const writes: number[] = [];
      const originalWrite = peer.toServer.write.bind(peer.toServer);
      peer.toServer.write = ((chunk: Buffer, ...rest: never[]) => {
        writes.push(chunk.length);
        return originalWrite(chunk, ...rest);
      }) as typeof peer.toServer.write;
      let progress = 0;
      const result = await source.sendFile({ name: 'big', mode: 0o644, size, content, onBytes: (n) => (progress += n) });
      assert.deepStrictEqual(result, { ok: true });
      assert.strictEqual(progress, size);
      assert.strictEqual(await peer.takeLine(), `C0644 ${size} big`);
      const data = await peer.take(size + 1);
      assert.strictEqual(data[size], 0);
      assert.ok(data.subarray(0, size).every((byte) => byte === 0x61));
      // the trailing \0 rides in the same write as the last data chunk, not in a write of its own
      assert.ok(writes[writes.length - 1] > 1, `last write had ${writes[writes.length - 1]} bytes`);
    });

    it('sends a directory tree: D, entries, E', async () => {
      const { peer, source } = await sourceAnswering('\0'.repeat(7));
      assert.deepStrictEqual(await source.enterDirectory({ name: 'top', mode: 0o40755, times: { mtime: 1, atime: 2 } }), { ok: true });
      assert.deepStrictEqual(await source.enterDirectory({ name: 'sub', mode: 0o700 }), { ok: true });
      assert.deepStrictEqual(await source.sendFile({ name: 'f', mode: 0o644, size: 2, content: Buffer.from('ok') }), { ok: true });
      assert.deepStrictEqual(await source.leaveDirectory(), { ok: true });
      assert.deepStrictEqual(await source.leaveDirectory(), { ok: true });
      assert.strictEqual(await allSentOnExit(peer, source, 0), 'T1 0 2 0\nD0755 0 top\nD0700 0 sub\nC0644 2 f\nok\0E\nE\n');
    });

    it('a \\x01 reply to C fails that file only: no data is sent, the next file goes through', async () => {
      const { peer, source } = await sourceAnswering('\x01scp: /remote/target/x: Permission denied\n\0\0');
      const refused = await source.sendFile({ name: 'x', mode: 0o644, size: 3, content: Buffer.from('abc') });
      assert.strictEqual(refused.ok, false);
      assert.ok(!refused.ok && refused.error.code === 'EACCES' && refused.error.message.includes(HOST));
      assert.deepStrictEqual(await source.sendFile({ name: 'y', mode: 0o644, size: 1, content: Buffer.from('1') }), { ok: true });
      peer.exit(1);
      assert.strictEqual((await source.finish()).exitCode, 1);
      assert.strictEqual((await peer.sessionEnded()).toString('latin1'), 'C0644 3 x\nC0644 1 y\n1\0');
    });

    it('a \\x01 final reply (write failed on the server) fails that file with the mapped code', async () => {
      const { source } = await sourceAnswering('\0\x01scp: /remote/target: No space left on device\n');
      const result = await source.sendFile({ name: 'x', mode: 0o644, size: 3, content: Buffer.from('abc') });
      assert.ok(!result.ok && result.error.code === 'ENOSPC');
    });

    it('a refused D is reported, depth unchanged (leaveDirectory then refuses, EINVAL)', async () => {
      const { source } = await sourceAnswering('\x01scp: /remote/target/d: Not a directory\n');
      const result = await source.enterDirectory({ name: 'd', mode: 0o755 });
      assert.ok(!result.ok && result.error.code === 'ENOTDIR');
      await rejectsWith(source.leaveDirectory(), 'EINVAL');
    });

    it('then: the next file\'s record goes with this file\'s last bytes; the next sendFile reads its answer and sends only its data', async () => {
      const { peer, source } = await sourceAnswering('');
      const writes: string[] = [];
      const originalWrite = peer.toServer.write.bind(peer.toServer);
      peer.toServer.write = ((chunk: Buffer, ...rest: never[]) => {
        writes.push(chunk.toString('latin1'));
        return originalWrite(chunk, ...rest);
      }) as typeof peer.toServer.write;
      peer.send('\0\0\0\0');
      const first = await source.sendFile({ name: 'a', mode: 0o644, size: 2, content: Buffer.from('aa'), then: { name: 'b', mode: 0o600, size: 1 } });
      assert.deepStrictEqual(first, { ok: true });
      assert.deepStrictEqual(await source.sendFile({ name: 'b', mode: 0o600, size: 1, content: Buffer.from('b') }), { ok: true });
      assert.strictEqual(await allSentOnExit(peer, source, 0), 'C0644 2 a\naa\0C0600 1 b\nb\0');
      assert.deepStrictEqual(writes, ['C0644 2 a\n', 'aa\0C0600 1 b\n', 'b\0']);
    });

    it('then: with times, T and C go ahead together and both answers are read before the data', async () => {
      const { peer, source } = await sourceAnswering('\0\0\0\0\0\0');
      const times = { mtime: 7, atime: 8 };
      await source.sendFile({ name: 'a', mode: 0o644, size: 1, content: Buffer.from('1'), then: { name: 'b', mode: 0o644, size: 1, times } });
      assert.deepStrictEqual(await source.sendFile({ name: 'b', mode: 0o644, size: 1, times, content: Buffer.from('2') }), { ok: true });
      assert.strictEqual(await allSentOnExit(peer, source, 0), 'C0644 1 a\n1\0T7 0 8 0\nC0644 1 b\n2\0');
    });

    it('then: a file refused in answer to its record sent ahead fails alone and none of its data is ever sent', async () => {
      const { peer, source } = await sourceAnswering('\0\0\x01scp: /remote/target/b: Permission denied\n');
      assert.deepStrictEqual(await source.sendFile({ name: 'a', mode: 0o644, size: 1, content: Buffer.from('1'), then: { name: 'b', mode: 0o644, size: 5 } }), { ok: true });
      const refused = await source.sendFile({ name: 'b', mode: 0o644, size: 5, content: Buffer.from('C0644') });
      assert.ok(!refused.ok && refused.error.code === 'EACCES');
      peer.exit(1);
      await source.finish();
      // Data behind a refused record would be read as records by the server: nothing after the record.
      assert.strictEqual((await peer.sessionEnded()).toString('latin1'), 'C0644 1 a\n1\0C0644 5 b\n');
    });

    it('then: a \\x01 answer to this file\'s data still leaves the record sent ahead to be answered next', async () => {
      const { source } = await sourceAnswering('\0\x01scp: /remote/target: No space left on device\n\0\0');
      const failed = await source.sendFile({ name: 'a', mode: 0o644, size: 1, content: Buffer.from('1'), then: { name: 'b', mode: 0o644, size: 1 } });
      assert.ok(!failed.ok && failed.error.code === 'ENOSPC');
      assert.deepStrictEqual(await source.sendFile({ name: 'b', mode: 0o644, size: 1, content: Buffer.from('2') }), { ok: true });
    });

    it('then: anything but the file announced ahead is refused (EINVAL): another file, a directory', async () => {
      const { source } = await sourceAnswering('\0\0');
      await source.sendFile({ name: 'a', mode: 0o644, size: 1, content: Buffer.from('1'), then: { name: 'b', mode: 0o644, size: 1 } });
      await rejectsWith(source.enterDirectory({ name: 'd', mode: 0o755 }), 'EINVAL');
      await rejectsWith(source.sendFile({ name: 'c', mode: 0o644, size: 1, content: Buffer.from('3') }), 'EINVAL', /sent ahead/);
    });

    it('finish() reports trailing \\x01 texts with the stderr', async () => {
      const { peer, source } = await sourceAnswering('');
      peer.stderr.write('warning\n');
      peer.send('\x01scp: \x1b[1mlate\n');
      peer.exit(1);
      const result = await source.finish();
      assert.strictEqual(result.exitCode, 1);
      assert.strictEqual(result.stderr, 'warning; scp: \\x1b[1mlate');
    });
  });

  describe('ready(): no usable scp, and refusals', () => {
    it('EOF with nothing and exit 127 ("scp: not found") -> EPROTO with noScp', async () => {
      const peer = new ScriptedPeer();
      peer.stderr.write('sh: 1: scp: not found\n');
      peer.exit(127);
      const error = await rejectsWith(makeSource(peer).ready(), 'EPROTO', /exit status 127.*scp: not found/);
      assert.ok(isNoScpError(error));
    });

    it('"This service allows sftp connections only." -> EPROTO with noScp', async () => {
      const peer = peerReplying('This service allows sftp connections only.\n', 1);
      const error = await rejectsWith(makeSource(peer).ready(), 'EPROTO', /sftp connections only/);
      assert.ok(isNoScpError(error));
    });

    it('a shell banner with escape sequences -> EPROTO without noScp (no transport switch), cleaned', async () => {
      const peer = peerReplying('\x1b[2J\x1b]0;owned\x07Welcome!\n\0');
      const error = await rejectsWith(makeSource(peer).ready(), 'EPROTO', /\\x1b\[2J/);
      assert.ok(!isNoScpError(error));
    });

    it('"\\x01scp: ambiguous target" -> ENOTDIR, noScp false', async () => {
      const peer = peerReplying('\x01scp: ambiguous target\n', 1);
      const error = await rejectsWith(makeSource(peer).ready(), 'ENOTDIR', /ambiguous target/);
      assert.strictEqual((error as TransferError & { noScp?: boolean }).noScp, false);
      assert.ok(!isNoScpError(error));
    });

    it('a \\x01 "command not found" -> noScp', async () => {
      const peer = peerReplying('\x01bash: scp: command not found\n');
      assert.ok(isNoScpError(await rejectsWith(makeSource(peer).ready(), 'EPROTO')));
    });

    it('a stall before the first reply -> ETIMEDOUT', async () => {
      const peer = new ScriptedPeer();
      await rejectsWith(makeSource(peer, { idleTimeoutMs: 200 }).ready(), 'ETIMEDOUT');
    });

    it('refuses to send before ready() succeeded (EINVAL)', async () => {
      const peer = new ScriptedPeer();
      await rejectsWith(makeSource(peer).sendFile({ name: 'x', mode: 0o644, size: 0, content: Buffer.alloc(0) }), 'EINVAL');
    });
  });

  describe('failures', () => {
    it('a Readable with fewer bytes than announced -> ECHANGED "changed size", session over', async () => {
      const { peer, source } = await sourceAnswering('\0');
      await rejectsWith(
        source.sendFile({ name: 'x', mode: 0o644, size: 10, content: Readable.from([Buffer.from('abc')]) }),
        'ECHANGED',
        /changed size.*fewer/,
      );
      const sent = (await peer.sessionEnded()).toString('latin1');
      assert.strictEqual(sent, 'C0644 10 x\nabc', 'no trailer may follow short data');
      await rejectsWith(source.sendFile({ name: 'y', mode: 0o644, size: 0, content: Buffer.alloc(0) }), 'ECHANGED');
    });

    it('a Readable with more bytes than announced -> ECHANGED "changed size", no trailer sent', async () => {
      const { peer, source } = await sourceAnswering('\0');
      await rejectsWith(
        source.sendFile({ name: 'x', mode: 0o644, size: 3, content: Readable.from([Buffer.from('abc'), Buffer.from('d')]) }),
        'ECHANGED',
        /changed size.*more/,
      );
      assert.ok(!(await peer.sessionEnded()).includes(0), 'no trailer may have been sent');
    });

    it('a Buffer whose length is not the size -> EINVAL before anything is sent', async () => {
      const { peer, source } = await sourceAnswering('');
      await rejectsWith(source.sendFile({ name: 'x', mode: 0o644, size: 4, content: Buffer.from('abc') }), 'EINVAL');
      source.destroy();
      assert.strictEqual((await peer.sessionEnded()).length, 0);
    });

    it('a local read error maps its code (ENOENT) and ends the session', async () => {
      const { source } = await sourceAnswering('\0');
      const content = new PassThrough();
      setImmediate(() => content.destroy(Object.assign(new Error('gone'), { code: 'ENOENT' })));
      await rejectsWith(source.sendFile({ name: 'x', mode: 0o644, size: 3, content }), 'ENOENT', /gone/);
    });

    for (const name of ['', '.', '..', 'a/b', 'line\nbreak']) {
      it(`refuses to send the name ${JSON.stringify(name)} (EINVAL)`, async () => {
        const { source } = await sourceAnswering('');
        await rejectsWith(source.sendFile({ name, mode: 0o644, size: 0, content: Buffer.alloc(0) }), 'EINVAL');
        await rejectsWith(source.enterDirectory({ name, mode: 0o755 }), 'EINVAL');
      });
    }

    it('a \\x02 reply is fatal with the mapped code', async () => {
      const { source } = await sourceAnswering('\x02scp: /remote/target: Permission denied\n');
      await rejectsWith(source.sendFile({ name: 'x', mode: 0o644, size: 1, content: Buffer.from('1') }), 'EACCES');
      await rejectsWith(source.finish(), 'EACCES');
    });

    it('an invalid reply byte -> EPROTO, cleaned', async () => {
      const { source } = await sourceAnswering('\x1b[31m');
      await rejectsWith(source.sendFile({ name: 'x', mode: 0o644, size: 1, content: Buffer.from('1') }), 'EPROTO', /invalid reply/);
    });

    it('EOF instead of a reply -> the stderr explains (mapped code)', async () => {
      const { peer, source } = await sourceAnswering('');
      peer.stderr.write('scp: /remote/target/x: Permission denied\n');
      peer.exit(1);
      await rejectsWith(source.sendFile({ name: 'x', mode: 0o644, size: 1, content: Buffer.from('1') }), 'EACCES', /exit status 1/);
    });

    it('the channel closed under a write: the server\'s stderr explains (mapped code), no hang', async () => {
      const { peer, source } = await sourceAnswering('');
      peer.stderr.write('scp: /remote/target: Permission denied\n');
      // what ssh2 does when the server closes the channel: our writable side is ended, 'close' follows
      peer.toServer.end();
      peer.channel.emit('close', 1);
      await rejectsWith(
        source.sendFile({ name: 'x', mode: 0o644, size: 1, content: Buffer.from('1') }),
        'EACCES',
        /closed before.*Permission denied/,
      );
    });

    it('a stalled reply fires the idle timeout (ETIMEDOUT) and destroys the streams', async () => {
      const { peer, source } = await sourceAnswering('', { idleTimeoutMs: 200 });
      await rejectsWith(source.sendFile({ name: 'x', mode: 0o644, size: 1, content: Buffer.from('1') }), 'ETIMEDOUT');
      assert.ok(peer.toServer.destroyed && peer.fromServer.destroyed);
    });

    it('a server that stops reading stalls the write drain (ETIMEDOUT), holding no more than the stream buffer', async () => {
      const peer = new ScriptedPeer();
      // our stdin is a stream nobody reads
      const stdin = new PassThrough({ highWaterMark: 16 * 1024 });
      stdin.pause();
      const source = new ScpSource({ ...peer.streams, stdin }, { host: HOST, path: PATH, idleTimeoutMs: 200 });
      peer.send('\0\0');
      await source.ready();
      const size = 8 * 1024 * 1024;
      let pulled = 0;
      const content = new Readable({
        read() {
          pulled += 64 * 1024;
          this.push(Buffer.alloc(64 * 1024));
        },
      });
      await rejectsWith(source.sendFile({ name: 'x', mode: 0o644, size, content }), 'ETIMEDOUT', /no progress/);
      assert.ok(pulled < 1024 * 1024, `pulled ${pulled} bytes from the local source`);
    });

    it('a stalled local source fires the idle timeout too', async () => {
      const { source } = await sourceAnswering('\0', { idleTimeoutMs: 200 });
      await rejectsWith(source.sendFile({ name: 'x', mode: 0o644, size: 5, content: new PassThrough() }), 'ETIMEDOUT', /local data/);
    });

    it('aborts on the signal (EABORTED), destroying the streams', async () => {
      const peer = new ScriptedPeer();
      const controller = new AbortController();
      const source = await readySource(peer, { signal: controller.signal });
      const pending = source.sendFile({ name: 'x', mode: 0o644, size: 1, content: Buffer.from('1') });
      setImmediate(() => controller.abort());
      await rejectsWith(pending, 'EABORTED');
      assert.ok(peer.toServer.destroyed && peer.fromServer.destroyed && peer.stderr.destroyed);
    });

    it('an already aborted signal fails at once', async () => {
      const peer = new ScriptedPeer();
      await rejectsWith(makeSource(peer, { signal: AbortSignal.abort() }).ready(), 'EABORTED');
    });

    it('destroy(error) fails pending and later calls with that error', async () => {
      const peer = new ScriptedPeer();
      const source = makeSource(peer);
      const pending = source.ready();
      source.destroy(new TransferError('ECONNRESET', 'connection lost'));
      await rejectsWith(pending, 'ECONNRESET');
      await rejectsWith(source.finish(), 'ECONNRESET');
    });
  });
});
