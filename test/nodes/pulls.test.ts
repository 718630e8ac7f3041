/**
 * Scheduled pulls through the scp download node (real sshd): several files as msg.parts of type object
 * that a join node turns into {name: Buffer}, the size cap per target, "create the directory", the
 * after-action with its directory from the message, and only new or changed files with the record in
 * Node-RED's user directory (msg.reset clears it). Over both transports where the node decides anything.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { useSharedSshd } from '../support/servers';
import { allNodes, connectionDef, downloadDef, errorCode, helper, nodeRedUserDir, resultOf, send, sinks, useNodeRed, type Msg } from './support';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const sequenceNodes = require('@node-red/nodes/core/sequence/17-split.js') as unknown;

interface FileResult {
  remotePath: string;
  transferred: boolean;
  unchanged?: boolean;
  removed?: boolean;
  movedTo?: string;
}

function scpOf(msg: Msg): { files: FileResult[]; fetched: number; skipped: number } {
  return msg.scp as { files: FileResult[]; fetched: number; skipped: number };
}

describe('nodes: scheduled pulls (real sshd)', function () {
  this.timeout(60_000);
  useNodeRed();
  const server = useSharedSshd();

  async function load(transport: string, download: Record<string, unknown>, extra: Record<string, unknown>[] = []): Promise<void> {
    await helper.load([...allNodes, sequenceNodes], [connectionDef(server, { transport }), downloadDef(download), ...extra, ...sinks()], {
      conn: { password: server.password },
    });
  }

  for (const transport of ['scp', 'sftp'] as const) {
    it(`${transport}: several files as msg.parts of type object: a join builds {name: Buffer}; each part has remotePath, size, mode, mtime`, async function () {
      const remote = await makeServerDir(server, `nodes-parts-${transport}`);
      await runAsUser(server, `cd '${remote.absolute}' && printf alpha > a.csv && printf beta > b.csv && chmod 640 b.csv && touch -d @1600000000 a.csv b.csv`);
      const parts: Msg[] = [];
      await load(transport, { glob: true, partsAsObject: true, wires: [['joiner', 'seen']] }, [
        { id: 'joiner', type: 'join', z: 'tab', mode: 'auto', build: 'object', property: 'payload', propertyType: 'msg', key: 'topic', joiner: '\\n', joinerType: 'str', accumulate: false, timeout: '', count: '', wires: [['out']] },
        { id: 'seen', type: 'helper', z: 'tab' },
      ]);
      helper.getNode('seen').on('input', (msg: Msg) => parts.push(msg));
      const joined = resultOf(await send('down', { remotePath: `${remote.absolute}/*.csv` }));
      const payload = joined.payload as Record<string, Buffer>;
      assert.deepStrictEqual(Object.keys(payload).sort(), ['a.csv', 'b.csv']);
      assert.strictEqual(payload['a.csv'].toString(), 'alpha');
      assert.strictEqual(payload['b.csv'].toString(), 'beta');
      assert.deepStrictEqual(
        parts.map((part) => [part.remotePath, part.size, part.mode, part.mtime, (part.parts as { type: string; key: string }).type, (part.parts as { key: string }).key]),
        [
          [`${remote.absolute}/a.csv`, 5, 0o644, 1600000000, 'object', 'a.csv'],
          [`${remote.absolute}/b.csv`, 4, 0o640, 1600000000, 'object', 'b.csv'],
        ],
      );
    });
  }

  it('size cap: none by default for a file target, 256 MiB by default for msg.payload (ETOOBIG before reading)', async function () {
    const remote = await makeServerDir(server, 'nodes-cap');
    const big = `${remote.absolute}/big.bin`;
    await runAsUser(server, `truncate -s 257M '${big}'`);
    const local = await makeTempDir('nodes-cap');
    await load('scp', { maxSize: '' });
    const refused = await send('down', { remotePath: big });
    assert.strictEqual(errorCode(refused), 'ETOOBIG');
    await helper.unload();
    await load('scp', { maxSize: '', target: 'file' });
    const fetched = resultOf(await send('down', { remotePath: big, localPath: path.join(local, 'big.bin') }));
    assert.strictEqual(fetched.size, 257 * 1024 * 1024);
    assert.strictEqual(fs.statSync(path.join(local, 'big.bin')).size, 257 * 1024 * 1024);
    fs.rmSync(path.join(local, 'big.bin'));
  });

  it('create the directory: a missing local folder is made when the node says so, ENOENT otherwise', async function () {
    const remote = await makeServerDir(server, 'nodes-mkdir');
    await runAsUser(server, `printf x > '${remote.absolute}/x.txt'`);
    const local = path.join(await makeTempDir('nodes-mkdir'), 'incoming', 'today');
    await load('scp', { target: 'directory', glob: true });
    assert.strictEqual(errorCode(await send('down', { remotePath: `${remote.absolute}/*.txt`, localPath: local })), 'ENOENT');
    await helper.unload();
    await load('scp', { target: 'directory', glob: true, createDirectory: true });
    resultOf(await send('down', { remotePath: `${remote.absolute}/*.txt`, localPath: local }));
    assert.strictEqual(fs.readFileSync(path.join(local, 'x.txt'), 'utf8'), 'x');
  });

  for (const transport of ['scp', 'sftp'] as const) {
    it(`${transport}: move to a directory from msg.done: movedTo per file; an empty one is EINVAL and fetches nothing`, async function () {
      const remote = await makeServerDir(server, `nodes-move-${transport}`);
      await runAsUser(server, `cd '${remote.absolute}' && printf 1 > one.log && printf 2 > two.log`);
      const local = await makeTempDir(`nodes-move-${transport}`);
      await load(transport, { target: 'directory', glob: true, afterAction: 'move', moveTo: 'done', moveToType: 'msg' });
      const bad = await send('down', { remotePath: `${remote.absolute}/*.log`, localPath: local, done: '' });
      assert.strictEqual(errorCode(bad), 'EINVAL');
      assert.deepStrictEqual(fs.readdirSync(local), []);
      const moved = resultOf(await send('down', { remotePath: `${remote.absolute}/*.log`, localPath: local, done: `${remote.absolute}/archive` }));
      assert.deepStrictEqual(
        scpOf(moved).files.map((file) => file.movedTo),
        [`${remote.absolute}/archive/one.log`, `${remote.absolute}/archive/two.log`],
      );
      const listed = await runAsUser(server, `cd '${remote.absolute}' && ls -A . archive`);
      assert.strictEqual(listed.stdout.toString(), '.:\narchive\n\narchive:\none.log\ntwo.log\n');
    });

    it(`${transport}: only new files into msg.payload: unchanged skipped (record in the user directory), appended fetched, msg.reset fetches again`, async function () {
      const remote = await makeServerDir(server, `nodes-only-new-${transport}`);
      const log = `${remote.absolute}/app.log`;
      await runAsUser(server, `printf 'one\\n' > '${log}'`);
      await load(transport, { onlyNew: true });
      const recordsBefore = fs.existsSync(path.join(nodeRedUserDir(), 'scp-pulls')) ? fs.readdirSync(path.join(nodeRedUserDir(), 'scp-pulls')).length : 0;
      const first = resultOf(await send('down', { remotePath: log }));
      assert.strictEqual((first.payload as Buffer).toString(), 'one\n');
      assert.deepStrictEqual([scpOf(first).fetched, scpOf(first).skipped], [1, 0]);
      const records = fs.readdirSync(path.join(nodeRedUserDir(), 'scp-pulls'));
      assert.strictEqual(records.length, recordsBefore + 1, 'one record file for this connection, device and path');
      const second = resultOf(await send('down', { remotePath: log }));
      assert.strictEqual(second.payload, null);
      assert.deepStrictEqual([scpOf(second).fetched, scpOf(second).skipped, scpOf(second).files[0].unchanged], [0, 1, true]);
      await runAsUser(server, `printf 'two\\n' >> '${log}'`);
      const third = resultOf(await send('down', { remotePath: log }));
      assert.strictEqual((third.payload as Buffer).toString(), 'one\ntwo\n');
      const reset = resultOf(await send('down', { remotePath: log, reset: true }));
      assert.strictEqual((reset.payload as Buffer).toString(), 'one\ntwo\n');
      assert.strictEqual(scpOf(reset).fetched, 1);
    });
  }
});
