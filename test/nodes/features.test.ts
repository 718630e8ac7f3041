/**
 * The remaining features end to end through the nodes: local directory trees both ways, a remote path given
 * as raw bytes, a jump host (another scp-connection), and a jump-host loop refused.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { makeServerDir, makeTempDir, runAsUser, sharedSshd, startSshd, type SshdServer } from '../harness';
import { connectionDef, downloadDef, helper, loadFlow, resultOf, send, uploadDef, useNodeRed } from './support';

describe('nodes: directories, raw-byte names, jump hosts (real sshd)', function () {
  useNodeRed();
  let server: SshdServer;

  before(async function () {
    server = await sharedSshd();
  });

  it('uploads a local directory tree and downloads it back recursively into a local directory', async function () {
    const local = await makeTempDir('nodes-tree');
    const tree: Record<string, string> = { 'top.txt': 'top', 'sub/inner.txt': 'inner', 'sub/deeper/leaf.bin': 'leaf\u0000bytes' };
    for (const [relative, content] of Object.entries(tree)) {
      fs.mkdirSync(path.join(local, 'outbox', path.dirname(relative)), { recursive: true });
      fs.writeFileSync(path.join(local, 'outbox', relative), content);
    }
    const remote = await makeServerDir(server, 'nodes-tree');
    await loadFlow(
      [connectionDef(server), uploadDef({ preserve: true }), downloadDef({ target: 'directory', recursive: true })],
      { conn: { password: server.password } },
    );
    const up = resultOf(await send('up', { localPath: path.join(local, 'outbox'), remotePath: remote.absolute }));
    assert.strictEqual(up.bytes, Object.values(tree).reduce((sum, content) => sum + Buffer.byteLength(content), 0));
    for (const [relative, content] of Object.entries(tree)) {
      const check = await runAsUser(server, `cat -- '${remote.absolute}/outbox/${relative}'`);
      assert.strictEqual(check.stdout.toString(), content, relative);
    }
    const into = await makeTempDir('nodes-tree-back');
    const down = resultOf(await send('down', { remotePath: `${remote.absolute}/outbox`, localPath: into }));
    assert.strictEqual(down.localPath, into);
    assert.strictEqual((down.scp as { files: unknown[] }).files.length, 3);
    for (const [relative, content] of Object.entries(tree)) {
      assert.strictEqual(fs.readFileSync(path.join(into, 'outbox', relative), 'utf8'), content, relative);
    }
  });

  it('a remote path given as a Buffer keeps bytes that are not UTF-8', async function () {
    const remote = await makeServerDir(server, 'nodes-bytes');
    await loadFlow([connectionDef(server), uploadDef()], { conn: { password: server.password } });
    const name = Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]); // "name\xff\xfe.bin"
    const remotePath = Buffer.concat([Buffer.from(`${remote.absolute}/`), name]);
    const up = resultOf(await send('up', { payload: 'raw', remotePath }));
    assert.ok(Buffer.isBuffer(up.remotePath) && (up.remotePath as Buffer).equals(remotePath));
    const listing = await runAsUser(server, `find '${remote.absolute}' -mindepth 1 -printf '%f\\0'`);
    assert.ok(listing.stdout.equals(Buffer.concat([name, Buffer.from([0])])), `found ${JSON.stringify(listing.stdout.toString('latin1'))}`);
  });

  it('goes through a jump host (another scp-connection)', async function () {
    const remote = await makeServerDir(server, 'nodes-jump');
    const jump = connectionDef(server, { id: 'jump', name: 'the jump host' });
    // the target is reached from the jump host's side: the same sshd, seen from 127.0.0.1
    await loadFlow([jump, connectionDef(server, { jumpHost: 'jump' }), uploadDef()], {
      conn: { password: server.password },
      jump: { privateKey: server.clientKey },
    });
    const count = (pattern: RegExp): number => (server.logs().match(pattern) ?? []).length;
    const keyLogins = count(/Accepted publickey for /g);
    const passwordLogins = count(/Accepted password for /g);
    resultOf(await send('up', { payload: 'via jump', remotePath: `${remote.absolute}/jumped.txt` }));
    // the jump connection logs in with the key, the target (through it) with the password
    assert.strictEqual(count(/Accepted publickey for /g), keyLogins + 1);
    assert.strictEqual(count(/Accepted password for /g), passwordLogins + 1);
    assert.strictEqual((await runAsUser(server, `cat -- '${remote.absolute}/jumped.txt'`)).stdout.toString(), 'via jump');
  });

  it('a jump-host loop is refused with EINVAL (Test connection naming itself as its jump host)', async function () {
    await loadFlow([connectionDef(server)], { conn: { password: server.password } });
    const response = await helper
      .request()
      .post('/scp-connection/conn/test')
      // (typed: another jump host is another destination, where the stored password is not used)
      .send({ ...connectionDef(server), jumpHost: 'conn', credentials: { password: server.password } })
      .expect(200);
    const report = response.body as { reached: boolean; error?: { code: string; message: string } };
    assert.strictEqual(report.reached, false);
    assert.strictEqual(report.error?.code, 'EINVAL');
    assert.match(report.error?.message ?? '', /jump host/);
  });

  it("transport 'auto' falls back to SFTP on an sftp-only server (msg.scp.transport)", async function () {
    const sftpOnly = await startSshd({ config: ['ForceCommand internal-sftp'] });
    try {
      const remote = await makeServerDir(sftpOnly, 'nodes-sftp');
      await loadFlow([connectionDef(sftpOnly), uploadDef(), downloadDef()], { conn: { password: sftpOnly.password } });
      const remotePath = `${remote.absolute}/over-sftp.txt`;
      const up = resultOf(await send('up', { payload: 'sftp content', remotePath }));
      assert.strictEqual((up.scp as { transport: string }).transport, 'sftp');
      const down = resultOf(await send('down', { remotePath }));
      assert.strictEqual((down.payload as Buffer).toString(), 'sftp content');
      assert.strictEqual((down.scp as { transport: string }).transport, 'sftp');
    } finally {
      await helper.unload();
      await sftpOnly.stop();
    }
  });

  it("transport 'scp' is used as chosen", async function () {
    const remote = await makeServerDir(server, 'nodes-scp-only');
    await loadFlow([connectionDef(server, { transport: 'scp' }), uploadDef()], { conn: { password: server.password } });
    const up = resultOf(await send('up', { payload: 'scp', remotePath: `${remote.absolute}/scp.txt` }));
    assert.strictEqual((up.scp as { transport: string }).transport, 'scp');
  });
});
