/**
 * Upload then download through the nodes against the harness's real sshd: contents byte-exact, hostile
 * names landing under exactly their name (checked on the server's filesystem), the file and directory
 * targets, and the several-files-into-payload sequence with msg.parts.
 */
import assert from 'assert';
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { Readable } from 'stream';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { connectionDef, downloadDef, loadFlow, resultOf, send, uploadDef, useNodeRed, type Msg } from './support';
import { useServerDir, useSharedSshd } from '../support';

describe('nodes: upload and download round trips (real sshd)', function () {
  useNodeRed();
  const server = useSharedSshd();
  const dir = useServerDir(server, 'nodes-roundtrip');

  async function loadBoth(): Promise<void> {
    await loadFlow([connectionDef(server), uploadDef(), downloadDef()], { conn: { password: server.password } });
  }

  async function roundTrip(name: string, data: Buffer): Promise<{ up: Msg; down: Msg }> {
    const remotePath = `${dir.absolute}/${name}`;
    const up = resultOf(await send('up', { payload: data, remotePath }));
    const down = resultOf(await send('down', { remotePath }));
    return { up, down };
  }

  const sizes: Array<[string, () => Buffer]> = [
    ['0 B', () => Buffer.alloc(0)],
    ['1 B', () => Buffer.from([0x7f])],
    ['binary 300 KiB', () => crypto.randomBytes(300 * 1024)],
  ];
  for (const [label, make] of sizes) {
    it(`round-trips ${label} byte-exact, and reports size, mode and bytes`, async function () {
      await loadBoth();
      const data = make();
      const name = `size-${label.replace(/\W+/g, '_')}.bin`;
      const { up, down } = await roundTrip(name, data);
      assert.strictEqual(up.bytes, data.length);
      assert.strictEqual(up.remotePath, `${dir.absolute}/${name}`);
      const scp = up.scp as { transport: string; files: Array<{ size: number; transferred: boolean }> };
      assert.strictEqual(scp.files.length, 1);
      assert.strictEqual(scp.files[0].size, data.length);
      assert.ok(Buffer.isBuffer(down.payload));
      assert.ok((down.payload as Buffer).equals(data), 'downloaded bytes differ');
      assert.strictEqual(down.size, data.length);
      assert.strictEqual(down.mode, 0o644);
      const onServer = fs.readFileSync(path.join(dir.absolute, name));
      assert.ok(onServer.equals(data), 'bytes on the server differ');
      assert.ok(!('data' in (down.scp as { files: object[] }).files[0]), 'msg.scp must not carry file data');
    });
  }

  it('round-trips 50 MiB byte-exact', async function () {
    this.timeout(120_000);
    await loadBoth();
    const data = crypto.randomBytes(50 * 1024 * 1024);
    const { up, down } = await roundTrip('big.bin', data);
    assert.strictEqual(up.bytes, data.length);
    assert.strictEqual((down.payload as Buffer).length, data.length);
    assert.ok((down.payload as Buffer).equals(data));
  });

  it('a string payload is written as UTF-8 with the configured mode', async function () {
    await loadFlow([connectionDef(server), uploadDef({ mode: '0600' }), downloadDef()], { conn: { password: server.password } });
    const remotePath = `${dir.absolute}/text-é.txt`;
    resultOf(await send('up', { payload: 'grüße ✓', remotePath }));
    const stat = await runAsUser(server, `stat -c '%a %s' -- '${remotePath}'`);
    assert.strictEqual(stat.stdout.toString().trim(), `600 ${Buffer.byteLength('grüße ✓')}`);
    const down = resultOf(await send('down', { remotePath }));
    assert.strictEqual((down.payload as Buffer).toString('utf8'), 'grüße ✓');
  });

  it('hostile names land under exactly that name, and come back', async function () {
    await loadBoth();
    const names = [
      'with space.txt',
      "single'quote",
      'double"quote',
      '$(touch pwned-by-name)',
      'semi;colon; touch pwned-semi',
      'new\nline',
      '-leading-dash',
      'back`tick`',
      'ünïcødé-名前',
    ];
    const sub = await makeServerDir(server, 'hostile');
    for (const [index, name] of names.entries()) {
      const data = Buffer.from(`content ${index}`);
      const remotePath = `${sub.absolute}/${name}`;
      resultOf(await send('up', { payload: data, remotePath }));
      const down = resultOf(await send('down', { remotePath }));
      assert.ok((down.payload as Buffer).equals(data), `content of ${JSON.stringify(name)} differs`);
    }
    const listing = await runAsUser(server, `find '${sub.absolute}' -mindepth 1 -print0`);
    const found = listing.stdout
      .toString('utf8')
      .split('\0')
      .filter(Boolean)
      .map((entry) => path.basename(entry))
      .sort();
    assert.deepStrictEqual(found, [...names].sort());
    for (const [index, name] of names.entries()) {
      assert.strictEqual(fs.readFileSync(path.join(sub.absolute, name), 'utf8'), `content ${index}`);
    }
    const home = await runAsUser(server, 'ls -a');
    assert.ok(!/pwned/.test(home.stdout.toString()), 'a name ran a command on the server');
  });

  it('local file upload (msg.localPath) and download to a local file and into a directory', async function () {
    const local = await makeTempDir('nodes-local');
    const source = path.join(local, 'source.bin');
    const data = crypto.randomBytes(70_000);
    fs.writeFileSync(source, data);
    fs.chmodSync(source, 0o640);
    const mtime = new Date('2021-03-04T05:06:07Z');
    fs.utimesSync(source, mtime, mtime);
    await loadFlow(
      [
        connectionDef(server),
        uploadDef({ preserve: true }),
        downloadDef({ id: 'toFile', target: 'file' }),
        downloadDef({ id: 'toDir', target: 'directory' }),
      ],
      { conn: { password: server.password } },
    );
    const remotePath = `${dir.absolute}/from-local.bin`;
    const up = resultOf(await send('up', { localPath: source, remotePath }));
    assert.strictEqual(up.bytes, data.length);
    const stat = await runAsUser(server, `stat -c '%a %Y' -- '${remotePath}'`);
    assert.strictEqual(stat.stdout.toString().trim(), `640 ${mtime.getTime() / 1000}`);

    const target = path.join(local, 'copy.bin');
    const toFile = resultOf(await send('toFile', { remotePath, localPath: target }));
    assert.strictEqual(toFile.localPath, target);
    assert.strictEqual(toFile.size, data.length);
    assert.strictEqual(toFile.mtime, mtime.getTime() / 1000);
    assert.ok(fs.readFileSync(target).equals(data));
    assert.strictEqual(fs.statSync(target).mode & 0o777, 0o640);
    assert.strictEqual(fs.statSync(target).mtime.getTime(), mtime.getTime());

    const intoDir = await makeTempDir('nodes-into');
    resultOf(await send('toDir', { remotePath, localPath: intoDir }));
    assert.ok(fs.readFileSync(path.join(intoDir, 'from-local.bin')).equals(data));
  });

  it('glob into msg.payload sends one message per file with msg.parts (incoming parts nested)', async function () {
    await loadFlow([connectionDef(server), uploadDef(), downloadDef({ glob: true })], { conn: { password: server.password } });
    const sub = await makeServerDir(server, 'glob');
    const files: Record<string, string> = { 'a.log': 'alpha', 'b.log': 'bravo', 'c.log': 'charlie', 'skip.txt': 'no' };
    for (const [name, content] of Object.entries(files)) {
      resultOf(await send('up', { payload: content, remotePath: `${sub.absolute}/${name}` }));
    }
    const incomingParts = { id: 'outer', index: 2, count: 5, type: 'array' };
    const outcome = await send('down', { remotePath: `${sub.absolute}/*.log`, topic: 'logs', parts: incomingParts }, 3);
    resultOf(outcome);
    const parts = outcome.results;
    assert.strictEqual(parts.length, 3);
    const byName = new Map(parts.map((m) => [path.basename(String(m.remotePath)), m]));
    assert.deepStrictEqual([...byName.keys()].sort(), ['a.log', 'b.log', 'c.log']);
    for (const [name, m] of byName) assert.strictEqual((m.payload as Buffer).toString(), files[name]);
    const ids = new Set(parts.map((m) => (m.parts as { id: string }).id));
    assert.strictEqual(ids.size, 1);
    assert.deepStrictEqual(parts.map((m) => (m.parts as { index: number }).index), [0, 1, 2]);
    for (const m of parts) {
      const p = m.parts as { count: number; type: string; parts: unknown };
      assert.strictEqual(p.count, 3);
      assert.strictEqual(p.type, 'array');
      assert.deepStrictEqual(p.parts, incomingParts);
      assert.strictEqual(m.topic, 'logs');
    }
    assert.ok(parts[2].scp, 'the last part carries msg.scp');
    // The others name only the device that served them (a fleet's flow routes by it), not the file list again.
    const device = { host: server.host, port: server.port, username: server.username };
    assert.deepStrictEqual(parts[0].scp, device);
    const last = parts[2].scp as Record<string, unknown>;
    assert.deepStrictEqual([last.host, last.port, last.username], [device.host, device.port, device.username]);
    assert.strictEqual((last.files as unknown[]).length, 3);
  });

  it('a readable stream as msg.payload is uploaded whole', async function () {
    await loadBoth();
    const chunks = [0, 1, 2, 3].map(() => crypto.randomBytes(100_000));
    const remotePath = `${dir.absolute}/streamed.bin`;
    const up = resultOf(await send('up', { payload: Readable.from(chunks), remotePath }));
    const whole = Buffer.concat(chunks);
    assert.strictEqual(up.bytes, whole.length);
    assert.ok(fs.readFileSync(path.join(dir.absolute, 'streamed.bin')).equals(whole));
  });

  it("overwrite 'skip' leaves an existing remote file and reports transferred: false", async function () {
    await loadFlow([connectionDef(server), uploadDef(), uploadDef({ id: 'upSkip', overwrite: 'skip' })], {
      conn: { password: server.password },
    });
    const remotePath = `${dir.absolute}/skip-me.txt`;
    resultOf(await send('up', { payload: 'original', remotePath }));
    const skipped = resultOf(await send('upSkip', { payload: 'replacement', remotePath }));
    const files = (skipped.scp as { files: Array<{ transferred: boolean }> }).files;
    assert.strictEqual(files.length, 1);
    assert.strictEqual(files[0].transferred, false);
    assert.strictEqual(skipped.bytes, 0);
    assert.strictEqual(fs.readFileSync(path.join(dir.absolute, 'skip-me.txt'), 'utf8'), 'original');
  });
});
