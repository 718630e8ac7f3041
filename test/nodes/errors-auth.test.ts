/**
 * Authentication methods and every failure a flow branches on, seen where a flow sees them: a Catch node's
 * msg.error.code (Node-RED copies err.code there), and the message text key (inside the test helper RED._
 * returns the key itself).
 */
import assert from 'assert';
import fs from 'fs';
import net from 'net';
import path from 'path';
import { makeServerDir, runAsUser } from '../harness';
import {
  connectionDef,
  downloadDef,
  errorCode,
  helper,
  loadFlow,
  nodeRedUserDir,
  resultOf,
  send,
  uploadDef,
  useNodeRed,
} from './support';
import { useServerDir, useSharedSshd } from '../support';

async function closedPort(): Promise<number> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  return port;
}

describe('nodes: authentication and error codes (real sshd)', function () {
  useNodeRed();
  const server = useSharedSshd();
  const dir = useServerDir(server, 'nodes-errors');

  async function uploadWith(credentials: Record<string, string>, connection: Record<string, unknown> = {}): Promise<void> {
    await loadFlow([connectionDef(server, connection), uploadDef()], { conn: credentials });
    const remotePath = `${dir.absolute}/auth-${Object.keys(credentials).join('-') || 'none'}.txt`;
    resultOf(await send('up', { payload: 'authenticated', remotePath }));
    const check = await runAsUser(server, `cat -- '${remotePath}'`);
    assert.strictEqual(check.stdout.toString(), 'authenticated');
  }

  describe('authentication', function () {
    it('password', async function () {
      await uploadWith({ password: server.password });
    });
    it('private key pasted with CRLF line endings (normalised)', async function () {
      await uploadWith({ privateKey: server.clientKey.replace(/\n/g, '\r\n') });
    });
    it('encrypted private key with its passphrase', async function () {
      await uploadWith({ privateKey: server.clientKeyEncrypted, passphrase: server.clientKeyPassphrase });
    });
    it('private key file path', async function () {
      await uploadWith({}, { privateKeyPath: server.clientKeyPath });
    });
    it('trust on first use stores the key in the user directory and uses it again', async function () {
      await uploadWith({ password: server.password }, { hostKeyPolicy: 'tofu' });
      const store = fs.readFileSync(path.join(nodeRedUserDir(), 'scp-known-hosts.json'), 'utf8');
      assert.ok(store.includes(`${server.port}`), 'the store names the server');
      const fingerprint = server.hostKeyFingerprints[0].replace(/^SHA256:/, '');
      assert.ok(store.includes(fingerprint), 'the store holds the server key fingerprint');
      await helper.unload();
      await uploadWith({ password: server.password }, { hostKeyPolicy: 'tofu' });
    });
  });

  describe('error codes via a Catch node', function () {
    it('wrong password → EAUTH', async function () {
      await loadFlow([connectionDef(server), uploadDef()], { conn: { password: `${server.password}-wrong` } });
      const outcome = await send('up', { payload: 'x', remotePath: `${dir.absolute}/never.txt` });
      assert.strictEqual(errorCode(outcome), 'EAUTH');
      assert.strictEqual((outcome.error?.error as { message: string }).message, 'Error: scp-upload.errors.EAUTH');
      assert.strictEqual(outcome.results.length, 0);
    });

    it('wrong passphrase → EAUTH', async function () {
      await loadFlow([connectionDef(server), uploadDef()], {
        conn: { privateKey: server.clientKeyEncrypted, passphrase: 'not-the-passphrase' },
      });
      const outcome = await send('up', { payload: 'x', remotePath: `${dir.absolute}/never.txt` });
      assert.strictEqual(errorCode(outcome), 'EAUTH');
    });

    it('pinned fingerprint that does not match → EHOSTKEY', async function () {
      await loadFlow([connectionDef(server, { hostFingerprints: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }), uploadDef()], {
        conn: { password: server.password },
      });
      const outcome = await send('up', { payload: 'x', remotePath: `${dir.absolute}/never.txt` });
      assert.strictEqual(errorCode(outcome), 'EHOSTKEY');
    });

    it('missing remote file → ENOENT', async function () {
      await loadFlow([connectionDef(server), downloadDef()], { conn: { password: server.password } });
      const outcome = await send('down', { remotePath: `${dir.absolute}/does-not-exist.txt` });
      assert.strictEqual(errorCode(outcome), 'ENOENT');
      assert.strictEqual((outcome.error?.error as { message: string }).message, 'Error: scp-download.errors.ENOENT');
    });

    it('a directory where a file is expected → EISDIR', async function () {
      await loadFlow([connectionDef(server), downloadDef()], { conn: { password: server.password } });
      const outcome = await send('down', { remotePath: dir.absolute });
      assert.strictEqual(errorCode(outcome), 'EISDIR');
    });

    it('a directory the user may not write → EACCES, nothing created', async function () {
      const locked = await makeServerDir(server, 'locked');
      await runAsUser(server, `chmod 555 -- '${locked.absolute}'`);
      await loadFlow([connectionDef(server), uploadDef()], { conn: { password: server.password } });
      const outcome = await send('up', { payload: 'x', remotePath: `${locked.absolute}/file.txt` });
      assert.strictEqual(errorCode(outcome), 'EACCES');
      const listing = await runAsUser(server, `ls -A -- '${locked.absolute}'`);
      assert.strictEqual(listing.stdout.toString(), '');
    });

    it('nothing listening → ECONNREFUSED', async function () {
      const port = await closedPort();
      await loadFlow([connectionDef(server, { port }), uploadDef()], { conn: { password: server.password } });
      const outcome = await send('up', { payload: 'x', remotePath: 'x.txt' });
      assert.strictEqual(errorCode(outcome), 'ECONNREFUSED');
    });

    it('a file larger than the size limit into msg.payload → ETOOBIG', async function () {
      await loadFlow([connectionDef(server), uploadDef(), downloadDef({ maxSize: 0.001 })], { conn: { password: server.password } });
      const remotePath = `${dir.absolute}/two-kib.bin`;
      resultOf(await send('up', { payload: Buffer.alloc(2048, 1), remotePath }));
      const outcome = await send('down', { remotePath });
      assert.strictEqual(errorCode(outcome), 'ETOOBIG');
    });

    it('overwrite "fail" on an existing remote file → EEXIST, content kept', async function () {
      await loadFlow([connectionDef(server), uploadDef(), uploadDef({ id: 'upFail', overwrite: 'fail' })], {
        conn: { password: server.password },
      });
      const remotePath = `${dir.absolute}/keep.txt`;
      resultOf(await send('up', { payload: 'first', remotePath }));
      const outcome = await send('upFail', { payload: 'second', remotePath });
      assert.strictEqual(errorCode(outcome), 'EEXIST');
      assert.strictEqual((await runAsUser(server, `cat -- '${remotePath}'`)).stdout.toString(), 'first');
    });

    it('no remote path → EINVAL with its own message key, no connection made', async function () {
      await loadFlow([connectionDef(server), uploadDef(), downloadDef()], { conn: { password: server.password } });
      const up = await send('up', { payload: 'x' });
      assert.strictEqual(errorCode(up), 'EINVAL');
      assert.strictEqual((up.error?.error as { message: string }).message, 'Error: scp-upload.errors.noRemotePath');
      const down = await send('down', { remotePath: '' });
      assert.strictEqual((down.error?.error as { message: string }).message, 'Error: scp-download.errors.noRemotePath');
    });

    it('a payload that is neither Buffer, string nor stream → EINVAL badPayload', async function () {
      await loadFlow([connectionDef(server), uploadDef()], { conn: { password: server.password } });
      const outcome = await send('up', { payload: { not: 'content' }, remotePath: 'x.txt' });
      assert.strictEqual(errorCode(outcome), 'EINVAL');
      assert.strictEqual((outcome.error?.error as { message: string }).message, 'Error: scp-upload.errors.badPayload');
    });

    it('a file target without a local path → EINVAL noLocalPath', async function () {
      await loadFlow([connectionDef(server), downloadDef({ target: 'file' })], { conn: { password: server.password } });
      const outcome = await send('down', { remotePath: 'x.txt' });
      assert.strictEqual((outcome.error?.error as { message: string }).message, 'Error: scp-download.errors.noLocalPath');
    });

    it('invalid algorithms JSON on the connection → EINVAL', async function () {
      await loadFlow([connectionDef(server, { algorithms: '{"cipher": [' }), uploadDef()], { conn: { password: server.password } });
      const outcome = await send('up', { payload: 'x', remotePath: 'x.txt' });
      assert.strictEqual(errorCode(outcome), 'EINVAL');
    });

    it('a flow node without a connection → EINVAL noConnection', async function () {
      await loadFlow([uploadDef({ connection: '' })]);
      const outcome = await send('up', { payload: 'x', remotePath: 'x.txt' });
      assert.strictEqual((outcome.error?.error as { message: string }).message, 'Error: scp-upload.errors.noConnection');
    });
  });
});
