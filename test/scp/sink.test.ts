import assert from 'assert';
import { getEventListeners } from 'events';
import { Readable } from 'stream';
import { TransferError } from '../../src/errors';
import {
  DEFAULT_RECORD_LIMITS,
  ScpSink,
  isNoScpError,
  type ScpSinkOptions,
  type SinkEntry,
  type SinkExpectation,
} from '../../src/scp';
import { PEER_HOST, ScriptedPeer, peerReplying, hasRawControls, rejectsWith } from './peer';

const HOST = PEER_HOST;
const PATH = '/remote/x';

function makeSink(peer: ScriptedPeer, expect: SinkExpectation, options: Partial<ScpSinkOptions> = {}): ScpSink {
  return new ScpSink(peer.streams, {
    host: HOST,
    path: PATH,
    idleTimeoutMs: 5000,
    recursive: false,
    expect,
    limits: { ...DEFAULT_RECORD_LIMITS, maxDepth: 8, maxFiles: 100, maxTotalBytes: 1024 * 1024 * 1024 },
    platform: 'linux',
    ...options,
  });
}

interface Received {
  entries: SinkEntry[];
  files: Map<string, Buffer>;
}

/** Runs a whole download: every file received into memory, every directory accepted. */
async function download(sink: ScpSink, received: Received = { entries: [], files: new Map() }): Promise<Received> {
  for (;;) {
    const entry = await sink.next();
    if (entry === null) return received;
    received.entries.push(entry);
    if (entry.type === 'file') {
      const chunks: Buffer[] = [];
      await sink.receive((chunk) => {
        chunks.push(Buffer.from(chunk));
      });
      received.files.set([...entry.parents, entry.name].join('/'), Buffer.concat(chunks));
    } else if (entry.type === 'directory') {
      await sink.accept();
    }
  }
}

/** A server stream that never ends: `head` once, then `fill` forever, counting what was pulled. */
function endless(head: string, fill: string): { stream: Readable; pulled: () => number } {
  let pulled = 0;
  const block = Buffer.alloc(16 * 1024, fill);
  let sentHead = false;
  const stream = new Readable({
    read() {
      if (!sentHead) {
        sentHead = true;
        pulled += head.length;
        this.push(Buffer.from(head, 'latin1'));
        return;
      }
      pulled += block.length;
      this.push(block);
    },
  });
  return { stream, pulled: () => pulled };
}

/** A sink for /remote/x that has read the file record `head`, which the server follows with `fill` for ever. */
async function fileRecordBeforeFlood(head: string, fill: string): Promise<{ sink: ScpSink; source: ReturnType<typeof endless> }> {
  const peer = new ScriptedPeer();
  const source = endless(head, fill);
  source.stream.pipe(peer.fromServer);
  const sink = makeSink(peer, { kind: 'exact', name: 'x' });
  assert.strictEqual((await sink.next())?.type, 'file');
  return { sink, source };
}

describe('ScpSink (download state machine)', () => {
  describe('happy paths', () => {
    it('receives one file, acking each step, and ends cleanly on exit 0', async () => {
      const peer = peerReplying('C0640 5 x\nhello\0', 0);
      const sink = makeSink(peer, { kind: 'exact', name: 'x' });
      const received = await download(sink);
      assert.deepStrictEqual(received.entries, [{ type: 'file', parents: [], name: 'x', mode: 0o640, size: 5 }]);
      assert.strictEqual(received.files.get('x')?.toString(), 'hello');
      // start signal, C ack, trailer ack
      assert.deepStrictEqual(await peer.sessionEnded(), Buffer.from([0, 0, 0]));
      assert.deepStrictEqual(await sink.finish(), { exitCode: 0, stderr: '' });
    });

    it('with answersAhead, the start signal carries that many more \\0s, then one per record and trailer as before', async () => {
      const peer = peerReplying('T1 0 2 0\nC0640 5 x\nhello\0', 0);
      const sink = makeSink(peer, { kind: 'exact', name: 'x' }, { answersAhead: 4 });
      const received = await download(sink);
      assert.strictEqual(received.files.get('x')?.toString(), 'hello');
      // start + 4 ahead, then T, C and trailer answers
      assert.deepStrictEqual(await peer.sessionEnded(), Buffer.alloc(8));
    });

    it('with answersAhead, skip() is refused (EINVAL): the server already has a \\0 for that record', async () => {
      const peer = peerReplying('C0640 5 x\nhello\0');
      const sink = makeSink(peer, { kind: 'exact', name: 'x' }, { answersAhead: 2 });
      assert.strictEqual((await sink.next())?.type, 'file');
      await rejectsWith(sink.skip('exists'), 'EINVAL', /ahead/);
      sink.destroy();
    });

    it('lets go of the abort signal once the session is over (no listener left behind)', async () => {
      const peer = new ScriptedPeer();
      const controller = new AbortController();
      peer.send('C0644 1 x\n1\0');
      peer.exit(0);
      const sink = makeSink(peer, { kind: 'exact', name: 'x' }, { signal: controller.signal });
      assert.strictEqual(getEventListeners(controller.signal, 'abort').length, 1);
      await download(sink);
      assert.strictEqual(getEventListeners(controller.signal, 'abort').length, 0);
    });

    it('receives a zero-byte file', async () => {
      const peer = peerReplying('C0644 0 empty\n\0', 0);
      const received = await download(makeSink(peer, { kind: 'exact', name: 'empty' }));
      assert.strictEqual(received.files.get('empty')?.length, 0);
    });

    it('passes T times on to the entry that follows', async () => {
      const peer = peerReplying('T1700000000 0 1600000000 0\nC0600 3 t\nabc\0', 0);
      const received = await download(makeSink(peer, { kind: 'exact', name: 't' }));
      assert.deepStrictEqual(received.entries[0], {
        type: 'file',
        parents: [],
        name: 't',
        mode: 0o600,
        size: 3,
        times: { mtime: 1700000000, atime: 1600000000 },
      });
    });

    it('receives a tree with D/E records, nested parents and times', async () => {
      const peer = peerReplying('T100 0 200 0\nD0755 0 top\nC0644 2 a\nhi\0D0700 0 sub\nT300 0 400 0\nC0600 3 b\nyes\0C0644 0 e\n\0E\nE\n', 0);
      const received = await download(makeSink(peer, { kind: 'tree', name: 'top' }, { recursive: true }));
      assert.deepStrictEqual(received.entries, [
        { type: 'directory', parents: [], name: 'top', mode: 0o755, times: { mtime: 100, atime: 200 } },
        { type: 'file', parents: ['top'], name: 'a', mode: 0o644, size: 2 },
        { type: 'directory', parents: ['top'], name: 'sub', mode: 0o700 },
        { type: 'file', parents: ['top', 'sub'], name: 'b', mode: 0o600, size: 3, times: { mtime: 300, atime: 400 } },
        { type: 'file', parents: ['top', 'sub'], name: 'e', mode: 0o644, size: 0 },
        { type: 'endDirectory', parents: ['top'], name: 'sub' },
        { type: 'endDirectory', parents: [], name: 'top' },
      ]);
      assert.strictEqual(received.files.get('top/a')?.toString(), 'hi');
      assert.strictEqual(received.files.get('top/sub/b')?.toString(), 'yes');
      assert.strictEqual(received.files.get('top/sub/e')?.length, 0);
    });

    it('receives several files matching a glob', async () => {
      const peer = peerReplying('C0644 1 a.log\n1\0C0644 2 b.log\n22\0', 0);
      const received = await download(makeSink(peer, { kind: 'glob', pattern: '*.log' }));
      assert.deepStrictEqual([...received.files.keys()], ['a.log', 'b.log']);
      assert.strictEqual(received.files.get('b.log')?.toString(), '22');
    });

    it('hands data over in chunks and waits for a slow writer (back-pressure)', async () => {
      const peer = new ScriptedPeer();
      const data = Buffer.alloc(300 * 1024, 7);
      peer.send(`C0644 ${data.length} big\n`);
      peer.send(data);
      peer.send('\0');
      peer.exit(0);
      const sink = makeSink(peer, { kind: 'exact', name: 'big' });
      const entry = await sink.next();
      assert.strictEqual(entry?.type, 'file');
      let total = 0;
      let inside = false;
      await sink.receive(async (chunk) => {
        assert.ok(!inside, 'write() was called again before the previous call finished');
        inside = true;
        await new Promise((resolve) => setImmediate(resolve));
        total += chunk.length;
        inside = false;
      });
      assert.strictEqual(total, data.length);
      assert.strictEqual(await sink.next(), null);
    });

    it('skip(): answers the C with \\x01 message, and accepts the exit status 1 that follows', async () => {
      const peer = peerReplying('C0644 5 x\n');
      const sink = makeSink(peer, { kind: 'exact', name: 'x' });
      const entry = await sink.next();
      assert.strictEqual(entry?.type, 'file');
      await sink.skip('exists\nlocally');
      assert.deepStrictEqual(await peer.take(1), Buffer.from([0]));
      assert.strictEqual(await peer.takeLine(), '\x01exists locally');
      peer.stderr.write('scp: exists locally\n');
      peer.exit(1);
      assert.strictEqual(await sink.next(), null);
      assert.deepStrictEqual(await sink.finish(), { exitCode: 1, stderr: 'scp: exists locally' });
    });

    it('skip() of a directory skips its subtree', async () => {
      const peer = peerReplying('D0755 0 d\n');
      const sink = makeSink(peer, { kind: 'glob', pattern: '*' }, { recursive: true });
      assert.strictEqual((await sink.next())?.type, 'directory');
      await sink.skip('not wanted');
      peer.send('C0644 1 f\nz\0');
      peer.exit(1);
      const received = await download(sink);
      assert.strictEqual(received.files.get('f')?.toString(), 'z');
    });

    it('a \\x01 trailer fails that file (mapped code), and the session goes on', async () => {
      const peer = peerReplying('C0644 3 a.txt\nxxx\x01scp: a.txt: Permission denied\nC0644 2 b.txt\nok\0', 1);
      const sink = makeSink(peer, { kind: 'glob', pattern: '*.txt' });
      assert.strictEqual((await sink.next())?.type, 'file');
      await rejectsWith(sink.receive(() => undefined), 'EACCES', /Permission denied/);
      const second = await sink.next();
      assert.strictEqual(second?.type === 'file' && second.name, 'b.txt');
      const chunks: Buffer[] = [];
      await sink.receive((chunk) => {
        chunks.push(Buffer.from(chunk));
      });
      assert.strictEqual(Buffer.concat(chunks).toString(), 'ok');
      assert.strictEqual(await sink.next(), null);
      // start, C ack, trailer ack (after \x01 too, as OpenSSH's sink does), C ack, trailer ack
      assert.deepStrictEqual(await peer.sessionEnded(), Buffer.from([0, 0, 0, 0, 0]));
    });

    it('\\x01 texts between records (a missing file) fail with the mapped code once the server ends', async () => {
      const peer = peerReplying('\x01scp: /remote/x: No such file or directory\n', 1);
      await rejectsWith(download(makeSink(peer, { kind: 'exact', name: 'x' })), 'ENOENT', /No such file/);
    });

    it('a glob where one match fails: the other files arrive, then the error is thrown', async () => {
      const peer = peerReplying('\x01scp: a.log: Permission denied\nC0644 1 b.log\nb\0', 1);
      const sink = makeSink(peer, { kind: 'glob', pattern: '*.log' });
      const received: Received = { entries: [], files: new Map() };
      await rejectsWith(download(sink, received), 'EACCES');
      assert.strictEqual(received.files.get('b.log')?.toString(), 'b');
    });

    it('a non-zero exit without any explanation fails', async () => {
      const peer = peerReplying('C0644 1 x\n1\0');
      peer.stderr.write('scp: something broke\n');
      peer.exit(3);
      await rejectsWith(download(makeSink(peer, { kind: 'exact', name: 'x' })), 'EPROTO', /exit status 3.*something broke/);
    });

    it('an exit status 0 with nothing sent fails (EPROTO)', async () => {
      const peer = new ScriptedPeer();
      peer.exit(0);
      await rejectsWith(download(makeSink(peer, { kind: 'exact', name: 'x' })), 'EPROTO', /without sending anything/);
    });
  });

  describe('no usable scp (noScp: the cue for an SFTP fallback)', () => {
    async function firstReply(script: string, exitCode: number, stderr = ''): Promise<TransferError> {
      const peer = new ScriptedPeer();
      if (script) peer.send(script);
      if (stderr) peer.stderr.write(stderr);
      peer.exit(exitCode);
      let caught: unknown;
      try {
        await makeSink(peer, { kind: 'exact', name: 'x' }).next();
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof TransferError, String(caught));
      assert.ok(!hasRawControls(caught.message), caught.message);
      return caught;
    }

    it('nothing, then exit 127 and "scp: not found" on stderr', async () => {
      const error = await firstReply('', 127, 'sh: 1: scp: not found\n');
      assert.ok(isNoScpError(error) && error.code === 'EPROTO');
      assert.match(error.message, /exit status 127.*scp: not found/);
    });

    it('"This service allows sftp connections only."', async () => {
      const error = await firstReply('This service allows sftp connections only.\n', 1);
      assert.ok(isNoScpError(error) && error.code === 'EPROTO');
    });

    it('but not a login banner before anything else (a protocol error, no reason to switch transports)', async () => {
      const banner = await firstReply('\x1b[1mWelcome\n', 0);
      assert.ok(!isNoScpError(banner) && banner.code === 'EPROTO');
      const exitOne = await firstReply('', 1, 'something failed\n');
      assert.ok(!isNoScpError(exitOne) && exitOne.code === 'EPROTO', 'a failed exit without proof of a missing scp');
    });

    it('a \\x01 "command not found"', async () => {
      assert.ok(isNoScpError(await firstReply('\x01bash: scp: command not found\n', 127)));
    });

    it('but not a missing file, nor a hostile first record', async () => {
      const missing = await firstReply('\x01scp: /remote/x: No such file or directory\n', 1);
      assert.ok(!isNoScpError(missing) && missing.code === 'ENOENT');
      const hostile = await firstReply('C0644 1 ../x\n1\0', 0);
      assert.ok(!isNoScpError(hostile) && hostile.code === 'EPROTO');
      const garbageLater = await firstReply('T1 0 1 0\nxyz', 0);
      assert.ok(!isNoScpError(garbageLater) && garbageLater.code === 'EPROTO');
    });
  });

  describe('hostile servers', () => {
    /** Plays `script`, then the server exits 0; the download must fail with `code`. */
    async function hostile(
      script: string | Buffer,
      code: string,
      expect: SinkExpectation = { kind: 'exact', name: 'x' },
      options: Partial<ScpSinkOptions> = {},
    ): Promise<{ error: TransferError; received: Received; sent: Buffer }> {
      const peer = new ScriptedPeer();
      peer.send(script);
      peer.exit(0);
      const received: Received = { entries: [], files: new Map() };
      const sink = makeSink(peer, expect, options);
      const error = await rejectsWith(download(sink, received), code);
      // the session is over: later calls fail with the same error, and our side of the channel is closed
      await rejectsWith(sink.next(), code);
      const sent = await peer.sessionEnded();
      return { error, received, sent };
    }

    const nameCases: [string, string, RegExp][] = [
      ['a traversal name ../x', 'C0644 1 ../x\n1\0', /containing '\/'/],
      ['a name with a slash a/b', 'C0644 1 a/b\n1\0', /containing '\/'/],
      ['an absolute name /etc/x', 'C0644 1 /etc/x\n1\0', /containing '\/'/],
      ["the name '.' (CVE-2018-20685)", 'D0777 0 .\n', /the name '\.'/],
      ["the name '..'", 'D0777 0 ..\n', /the name '\.\.'/],
      ['an empty name', 'C0644 1 \n1\0', /empty name/],
      ['a name over 255 bytes', `C0644 1 ${'n'.repeat(256)}\n1\0`, /longer than 255 bytes/],
    ];
    for (const [title, script, reason] of nameCases) {
      it(`refuses ${title} before acking it (EPROTO)`, async () => {
        const { sent, received, error } = await hostile(script, 'EPROTO', { kind: 'glob', pattern: '*' }, { recursive: true });
        assert.match(error.message, reason);
        assert.deepStrictEqual(received.entries, []);
        assert.deepStrictEqual(sent, Buffer.from([0]), 'only the start signal may have been sent');
      });
    }

    it('refuses a name that is not valid UTF-8 (EPROTO)', async () => {
      await hostile(Buffer.concat([Buffer.from('C0644 1 a'), Buffer.from([0xff, 0xfe]), Buffer.from('\n1\0')]), 'EPROTO', {
        kind: 'glob',
        pattern: '*',
      });
    });

    it('refuses an unrequested file: the name differs from the requested basename (CVE-2019-6111)', async () => {
      const { error } = await hostile('C0644 1 .bashrc\n1\0', 'EPROTO');
      assert.match(error.message, /not requested/);
    });

    it('refuses a second file after the exact one', async () => {
      const { received } = await hostile('C0644 1 x\n1\0C0644 1 x\n2\0', 'EPROTO');
      assert.strictEqual(received.files.get('x')?.toString(), '1');
    });

    it('refuses a \\x01 text after the exact file (only EOF may follow)', async () => {
      await hostile('C0644 1 x\n1\0\x01more\n', 'EPROTO');
    });

    it('refuses a swapped top-level name in tree mode', async () => {
      await hostile('D0755 0 other\nE\n', 'EPROTO', { kind: 'tree', name: 'top' }, { recursive: true });
    });

    it('refuses a second top-level entry in tree mode', async () => {
      const { received } = await hostile('D0755 0 top\nE\nD0755 0 top\nE\n', 'EPROTO', { kind: 'tree', name: 'top' }, { recursive: true });
      assert.strictEqual(received.entries.length, 2);
    });

    it('refuses a glob match that does not match the pattern, and a hidden file for *', async () => {
      await hostile('C0644 1 a.log\n1\0C0644 1 passwd\n1\0', 'EPROTO', { kind: 'glob', pattern: '*.log' });
      await hostile('C0644 1 .profile\n1\0', 'EPROTO', { kind: 'glob', pattern: '*' });
    });

    it('refuses a D when the request was not recursive (EISDIR)', async () => {
      const { error } = await hostile('D0755 0 x\nE\n', 'EISDIR');
      assert.match(error.message, /directory/);
    });

    it('refuses E at the top level', async () => {
      await hostile('E\n', 'EPROTO', { kind: 'glob', pattern: '*' }, { recursive: true });
    });

    it('refuses T not followed by C or D (T then E, T then T, T then EOF)', async () => {
      await hostile('D0755 0 x\nT1 0 1 0\nE\n', 'EPROTO', { kind: 'tree', name: 'x' }, { recursive: true });
      await hostile('T1 0 1 0\nT1 0 1 0\nC0644 1 x\n1\0', 'EPROTO');
      await hostile('T1 0 1 0\n', 'EPROTO');
    });

    for (const mode of ['644', '0x44', '08888', '+644', '06 44']) {
      it(`refuses the malformed mode ${JSON.stringify(mode)}`, async () => {
        await hostile(`C${mode} 1 x\n1\0`, 'EPROTO');
      });
    }

    for (const size of ['-1', '1e3', '+5', '18446744073709551616', '0x10', '']) {
      it(`refuses the malformed size ${JSON.stringify(size)}`, async () => {
        await hostile(`C0644 ${size} x\n1\0`, 'EPROTO');
      });
    }

    it('refuses a file over maxFileBytes before reading any data (ETOOBIG)', async () => {
      const { sent } = await hostile('C0644 2000 x\n', 'ETOOBIG', { kind: 'exact', name: 'x' }, {
        limits: { ...DEFAULT_RECORD_LIMITS, maxFileBytes: 1000, maxDepth: 8, maxFiles: 10, maxTotalBytes: 1e9 },
      });
      assert.deepStrictEqual(sent, Buffer.from([0]), 'the C must not be acked');
    });

    it('refuses a size of 2^63-1 under the default limits (ETOOBIG)', async () => {
      await hostile('C0644 9223372036854775807 x\n', 'ETOOBIG');
    });

    it('refuses a line with no newline after 5000 bytes, without buffering the rest (EPROTO)', async () => {
      const peer = new ScriptedPeer();
      const source = endless('C0644 1 ', 'a');
      source.stream.pipe(peer.fromServer);
      const sink = makeSink(peer, { kind: 'glob', pattern: '*' });
      await rejectsWith(sink.next(), 'EPROTO', /longer than/);
      source.stream.destroy();
      assert.ok(source.pulled() < 256 * 1024, `pulled ${source.pulled()} bytes`);
    });

    it('refuses an endless \\x01 text (EPROTO)', async () => {
      const peer = new ScriptedPeer();
      const source = endless('\x01', 'e');
      source.stream.pipe(peer.fromServer);
      await rejectsWith(makeSink(peer, { kind: 'exact', name: 'x' }).next(), 'EPROTO', /longer than/);
      source.stream.destroy();
      assert.ok(source.pulled() < 256 * 1024, `pulled ${source.pulled()} bytes`);
    });

    it('enforces the depth cap (ETOOBIG)', async () => {
      await hostile('D0755 0 x\nD0755 0 a\nD0755 0 b\n', 'ETOOBIG', { kind: 'tree', name: 'x' }, {
        recursive: true,
        limits: { ...DEFAULT_RECORD_LIMITS, maxDepth: 2, maxFiles: 10, maxTotalBytes: 1e9 },
      });
    });

    it('enforces the file-count cap (ETOOBIG)', async () => {
      const { received } = await hostile('C0644 1 a\n1\0C0644 1 b\n2\0C0644 1 c\n3\0', 'ETOOBIG', { kind: 'glob', pattern: '?' }, {
        limits: { ...DEFAULT_RECORD_LIMITS, maxDepth: 2, maxFiles: 2, maxTotalBytes: 1e9 },
      });
      assert.strictEqual(received.files.size, 2);
    });

    it('enforces the total-bytes cap before reading the file that would pass it (ETOOBIG)', async () => {
      const { received } = await hostile('C0644 6 a\n111111\0C0644 5 b\n22222\0', 'ETOOBIG', { kind: 'glob', pattern: '?' }, {
        limits: { ...DEFAULT_RECORD_LIMITS, maxDepth: 2, maxFiles: 10, maxTotalBytes: 10 },
      });
      assert.deepStrictEqual([...received.files.keys()], ['a']);
    });

    it('fails on short data then EOF (EPROTO)', async () => {
      const { error } = await hostile('C0644 10 x\nabc', 'EPROTO');
      assert.match(error.message, /3 of 10 bytes/);
    });

    it('fails when the trailer is not \\0 (EPROTO)', async () => {
      await hostile('C0644 3 x\nabcZ', 'EPROTO');
    });

    it('fails on EOF right after the data, before the trailer (EPROTO)', async () => {
      await hostile('C0644 3 x\nabc', 'EPROTO');
    });

    it('a \\x02 trailer is fatal with the mapped code', async () => {
      await hostile('C0644 3 x\nabc\x02scp: x: No space left on device\n', 'ENOSPC');
    });

    it('a \\x02 line between records is fatal with the mapped code', async () => {
      await hostile('\x02scp: /remote/x: Permission denied\n', 'EACCES');
    });

    it('refuses a garbage first byte (a shell banner)', async () => {
      const { error } = await hostile('Welcome to \x1b[31mBusyBox\x1b[0m\n', 'EPROTO');
      assert.match(error.message, /not an SCP record/);
      assert.match(error.message, /\\x1b/);
    });

    it('fails on endless data beyond the size, reading only what it needs (EPROTO)', async () => {
      const { sink, source } = await fileRecordBeforeFlood('C0644 5 x\n', 'A');
      let written = 0;
      await rejectsWith(
        sink.receive((chunk) => {
          written += chunk.length;
        }),
        'EPROTO',
        /invalid byte after the data/,
      );
      source.stream.destroy();
      assert.strictEqual(written, 5);
      assert.ok(source.pulled() < 256 * 1024, `pulled ${source.pulled()} bytes`);
    });

    it('keeps the channel paused while nobody reads (a flood is not buffered)', async () => {
      const { sink, source } = await fileRecordBeforeFlood('C0644 1 x\n', 'B');
      // Give the flood many turns of the event loop to push data that nobody asked for.
      for (let i = 0; i < 50; i += 1) await new Promise((resolve) => setImmediate(resolve));
      assert.ok(source.pulled() < 256 * 1024, `pulled ${source.pulled()} bytes`);
      sink.destroy();
      source.stream.destroy();
    });

    it('fires the idle timeout on a stall (ETIMEDOUT) and closes the channel', async () => {
      const peer = peerReplying('C0644 10 x\nabc');
      const sink = makeSink(peer, { kind: 'exact', name: 'x' }, { idleTimeoutMs: 200 });
      assert.strictEqual((await sink.next())?.type, 'file');
      await rejectsWith(sink.receive(() => undefined), 'ETIMEDOUT', /200 ms/);
      await peer.sessionEnded();
      assert.ok(peer.fromServer.destroyed);
    });

    it('fires the idle timeout when the server never sends its first record', async () => {
      const peer = new ScriptedPeer();
      await rejectsWith(makeSink(peer, { kind: 'exact', name: 'x' }, { idleTimeoutMs: 200 }).next(), 'ETIMEDOUT');
    });

    it('aborts on the signal (EABORTED) and destroys the streams', async () => {
      const peer = new ScriptedPeer();
      const controller = new AbortController();
      const sink = makeSink(peer, { kind: 'exact', name: 'x' }, { signal: controller.signal });
      const pending = sink.next();
      setImmediate(() => controller.abort());
      await rejectsWith(pending, 'EABORTED');
      assert.ok(peer.fromServer.destroyed && peer.toServer.destroyed && peer.stderr.destroyed);
    });

    it('drains a flood of stderr (MBs) while data flows, keeping only a capped tail', async () => {
      const peer = new ScriptedPeer();
      const sink = makeSink(peer, { kind: 'exact', name: 'x' }, { maxStderrBytes: 4096 });
      const size = 512 * 1024;
      peer.send(`C0644 ${size} x\n`);
      const noise = Buffer.alloc(64 * 1024, 'n');
      let total = 0;
      const flood = (async () => {
        for (let i = 0; i < 64; i += 1) {
          // a stderr flood the size of several channel windows, interleaved with the data
          peer.stderr.write(noise);
          if (i % 8 === 0) peer.send(Buffer.alloc(size / 8, 1));
          await new Promise((resolve) => setImmediate(resolve));
        }
        peer.stderr.write('\x1b[2Jlast words\n');
        peer.send('\0');
        peer.exit(0);
      })();
      let maxKept = 0;
      const received: Received = { entries: [], files: new Map() };
      const entry = await sink.next();
      assert.strictEqual(entry?.type, 'file');
      await sink.receive((chunk) => {
        total += chunk.length;
        maxKept = Math.max(maxKept, sink.stderrBytesKept());
      });
      await flood;
      await download(sink, received);
      assert.strictEqual(total, size);
      assert.ok(maxKept <= 4096 && sink.stderrBytesKept() <= 4096, `kept ${maxKept} bytes of stderr`);
      const { stderr } = await sink.finish();
      assert.ok(stderr.endsWith('\\x1b[2Jlast words'), stderr.slice(-60));
      assert.ok(!hasRawControls(stderr));
    });

    it('escapes control characters and bidi overrides in names and \\x01 texts', async () => {
      const { error } = await hostile('C0644 1 \x1b]0;pwned\x07\u202eevil\n1\0', 'EPROTO');
      assert.match(error.message, /\\x1b\]0;pwned\\x07/);
      const peer = peerReplying(Buffer.from('\x01scp: \x1b[31mred\u202e\x9b: No such file or directory\n', 'utf8'), 1);
      const failure = await rejectsWith(download(makeSink(peer, { kind: 'exact', name: 'x' })), 'ENOENT');
      assert.match(failure.message, /\\x1b\[31mred\\u202e\\x9b/);
    });

    it('on Windows also refuses backslashes, colons, device names and trailing dots', async () => {
      for (const name of ['a\\b', 'c:x', 'CON', 'nul.txt', 'dot.', 'space ']) {
        await hostile(`C0644 1 ${name}\n1\0`, 'EPROTO', { kind: 'glob', pattern: '*' }, { platform: 'win32' });
      }
    });

    it('fails when the caller writer throws, and ends the session', async () => {
      const peer = peerReplying('C0644 3 x\nabc\0', 0);
      const sink = makeSink(peer, { kind: 'exact', name: 'x' });
      await sink.next();
      const failure = Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      await rejectsWith(
        sink.receive(() => {
          throw failure;
        }),
        'ENOSPC',
        /disk full/,
      );
      await rejectsWith(sink.next(), 'ENOSPC');
    });

    it('refuses to read the next record before the entry at hand is answered (EINVAL)', async () => {
      const peer = peerReplying('C0644 3 x\nabc\0');
      const sink = makeSink(peer, { kind: 'exact', name: 'x' });
      await sink.next();
      await rejectsWith(sink.next(), 'EINVAL');
      sink.destroy();
    });
  });
});
