/**
 * The ssh2 adapter's self-check: silent with the installed (pinned) ssh2, and naming each private field a
 * changed ssh2 would lack. The accessors read real objects from a connection to a fake server.
 */
import * as assert from 'node:assert/strict';
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import { startFakeServer, type FakeServer } from '../harness';
import { SshConnection } from '../../src/ssh/connection';
import {
  channelShapeProblems,
  clientShapeProblems,
  installedSsh2Version,
  remoteSoftwareVersion,
  reportShapeProblems,
  sendKeepalive,
  sftpExtensions,
  sftpMaxReadLen,
  sftpMaxWriteLen,
  sftpShapeProblems,
  ssh2ShapeProblems,
  TESTED_SSH2_MINOR,
} from '../../src/ssh/ssh2-internals';
import { endpointFor } from './helpers';

describe('ssh2 internals adapter', function () {
  this.timeout(20_000);

  describe('start-up self-check', function () {
    it('finds nothing wrong with the installed ssh2, which is the pinned minor version', function () {
      assert.ok(installedSsh2Version()?.startsWith(`${TESTED_SSH2_MINOR}.`), `installed ${installedSsh2Version()}`);
      assert.deepEqual(ssh2ShapeProblems(), []);
    });

    it('names a different ssh2 version and each missing Client field', function () {
      assert.deepEqual(ssh2ShapeProblems('1.18.0', { _callbacks: undefined, _protocol: undefined, _remoteVer: undefined }), [
        `ssh2 1.18.0 is installed, ${TESTED_SSH2_MINOR}.x was tested`,
      ]);
      assert.deepEqual(clientShapeProblems({ _callbacks: undefined, _protocol: undefined }), ['Client has no _remoteVer']);
      assert.equal(ssh2ShapeProblems('1.17.0', {}).length, 3);
    });

    it('names what a channel or an SFTP session lacks', function () {
      assert.deepEqual(channelShapeProblems({ incoming: { state: 'open' } }), ['channel has no outgoing.state']);
      assert.deepEqual(sftpShapeProblems({ incoming: { state: 'open' }, outgoing: { state: 'open' }, _extensions: {}, _maxReadLen: 1 }), [
        'SFTP session has no _maxWriteLen',
      ]);
    });

    it('warns once per problem', function () {
      const warned: string[] = [];
      const problem = `test problem ${Math.random()}`;
      assert.deepEqual(reportShapeProblems([problem], (detail) => warned.push(detail)), [problem]);
      assert.deepEqual(reportShapeProblems([problem], (detail) => warned.push(detail)), []);
      assert.deepEqual(warned, [problem]);
    });

    it('accessors fall back safely on objects without the fields', function () {
      assert.deepEqual(sftpExtensions({}), {});
      assert.equal(sftpMaxReadLen({}), undefined);
      assert.equal(sftpMaxWriteLen(null), undefined);
    });
  });

  describe('on a real connection', function () {
    let fake: FakeServer;
    let connection: SshConnection;
    before(async function () {
      fake = await startFakeServer(
        ({ channel }) => {
          channel.write('x');
        },
        { ident: 'OpenSSH_9.2', sftp: () => undefined },
      );
      connection = await SshConnection.open(endpointFor({ ...fake, username: 'tester' }, { password: fake.password }));
    });
    after(async function () {
      await connection?.end();
      await fake?.close();
    });

    it('reads the server version, and a keepalive round trip is answered', async function () {
      assert.match(remoteSoftwareVersion(connection.client) ?? '', /^OpenSSH_9\.2/);
      assert.deepEqual(clientShapeProblems(connection.client), []);
      const answered = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 5000);
        assert.ok(sendKeepalive(connection.client, () => {
          clearTimeout(timer);
          resolve(true);
        }));
      });
      assert.ok(answered, 'the server answered the keepalive');
      assert.equal(await connection.checkAlive(3000), true);
    });

    it('a real exec channel and SFTP session have the fields the adapter reads', async function () {
      const channel = await new Promise<ClientChannel>((resolve, reject) =>
        connection.client.exec('x', (error, opened) => (error ? reject(error) : resolve(opened))),
      );
      assert.deepEqual(channelShapeProblems(channel), []);
      channel.close();
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
        connection.client.sftp((error, opened) => (error ? reject(error) : resolve(opened))),
      );
      assert.deepEqual(sftpShapeProblems(sftp), []);
      assert.equal(typeof sftpMaxReadLen(sftp), 'number');
      sftp.end();
    });
  });
});
