/**
 * The moment the server creates a temporary name and the moment we hear about it are apart: an abort in
 * between must still remove it. Scripted servers create the name (an SCP staging folder on its D record,
 * an SFTP temporary file on OPEN) and then never answer; the job is aborted, and must remove the name
 * before it fails. The servers' helper commands (probe, rm) run for real with /bin/sh on this machine.
 */
import assert from 'assert';
import { promises as fs } from 'fs';
import path from 'path';
import { utils, type SFTPWrapper } from 'ssh2';
import type { TransferError } from '../../src/errors';
import { upload, type UploadRequest } from '../../src/transfer';
import { makeTempDir, startFakeServer, type FakeExecRequest, type FakeServer } from '../harness';
import { runLocally } from '../faults/support';
import { context, directProvider, type TestProvider } from './support';
import { eventually } from '../support';

const { STATUS_CODE } = utils.sftp;

function twoFiles(root: string): UploadRequest {
  return {
    sources: [
      { kind: 'buffer', data: Buffer.from('one'), name: 'one.txt' },
      { kind: 'buffer', data: Buffer.from('two'), name: 'two.txt' },
    ],
    remotePath: root,
    preserve: false,
    atomic: true,
    overwrite: 'overwrite',
  };
}

/** An scp sink that creates the folder a D record names, then never acknowledges it. */
function holdingSink(root: string) {
  return ({ channel }: FakeExecRequest): void => {
    channel.write(Buffer.from([0]));
    let pending = '';
    channel.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      const match = /^D\d{4} 0 (.+)\n/u.exec(pending);
      if (match) void fs.mkdir(path.join(root, match[1]));
    });
  };
}

/** An SFTP server: the target folder exists, other stats find nothing, OPEN creates the file and never answers. */
function holdingSftp(root: string) {
  return ({ sftp }: { sftp: SFTPWrapper }): void => {
    const stat = (reqid: number, name: string): void => {
      if (name === root) sftp.attrs(reqid, { mode: 0o40755, uid: 0, gid: 0, size: 0, atime: 0, mtime: 0 });
      else sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
    };
    sftp.on('STAT', stat);
    sftp.on('LSTAT', stat);
    sftp.on('OPEN', (_reqid: number, name: string) => void fs.writeFile(name, 'partial'));
    sftp.on('REMOVE', (reqid: number, name: string) => {
      fs.unlink(name).then(
        () => sftp.status(reqid, STATUS_CODE.OK),
        () => sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE),
      );
    });
  };
}

describe('transfer: a temporary name the server created before it answered is removed on abort', function () {
  this.timeout(30_000);
  let fake: FakeServer | undefined;
  let channels: TestProvider | undefined;

  afterEach(async () => {
    await channels?.close();
    await fake?.close();
  });

  async function abortOnceThere(root: string, transport: 'scp' | 'sftp', pattern: RegExp): Promise<void> {
    const controller = new AbortController();
    channels = await directProvider(fake as FakeServer);
    const job = upload(context(channels, { transport, signal: controller.signal }), twoFiles(root));
    const failed = assert.rejects(job, (error: TransferError) => error.code === 'EABORTED');
    await eventually(`an entry matching ${pattern} in ${root}`, async () => (await fs.readdir(root)).some((name) => pattern.test(name)));
    controller.abort();
    await failed;
    assert.deepStrictEqual(await fs.readdir(root), [], 'the temporary name the server created was not removed');
  }

  it('scp: the staging folder made from an unanswered D record', async function () {
    const root = await makeTempDir('race-scp');
    const sink = holdingSink(root);
    fake = await startFakeServer((request) => (request.command.startsWith('scp ') ? sink(request) : runLocally(request)));
    await abortOnceThere(root, 'scp', /^\.scp-[0-9a-f]{16}\.part$/u);
  });

  it('sftp: the temporary file made by an unanswered OPEN', async function () {
    const root = await makeTempDir('race-sftp');
    fake = await startFakeServer(() => undefined, { sftp: holdingSftp(root) });
    await abortOnceThere(root, 'sftp', /^\.one\.txt\.scp-[0-9a-f]{16}\.part$/u);
  });
});
