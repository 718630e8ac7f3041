/**
 * When 'auto' may switch to SFTP: only on proof that the server has no scp (exit status 127, "not
 * found", OpenSSH's "This service allows sftp connections only."). A banner or any other text before
 * the protocol is a protocol error (EPROTO): switching on it would let any server steer us, and one bad
 * reply must not move every later job on the connection to SFTP. Over transport 'scp', an SFTP-only
 * account gets the same clear words for downloads as for uploads.
 */
import * as assert from 'node:assert/strict';
import { SshPool } from '../../src/ssh';
import { TransferError } from '../../src/errors';
import { download, upload, type DownloadRequest, type TransportChoice, type UploadRequest } from '../../src/transfer';
import { setPathsVerdict } from '../../src/transfer/transport-memory';
import { type FakeExecHandler, makeServerDir, runAsUser, unfoldUpload } from '../harness';
import { ServerSide } from '../hostile/server-side';
import { type ScriptedSftp, listedTree, startScriptedSftp } from '../hostile/sftp-server';
import { DEFAULT_LIMITS, bufferDownload, context, usePoolTo } from './support';
import { poolForFake } from '../hostile/support';
import { useOwnSshd } from '../support';

const CONTENT = Buffer.from('over scp\n');
const BANNER = 'Welcome to the server! Unauthorised access prohibited.\n';

/** What the scripted exec side does for each kind of command. */
interface ExecScript {
  /** text printed on stdout before the protocol (or the probe's reply) */
  banner?: string;
  /** the exec fails at once: exit status, stdout, stderr */
  fail?: { exitCode: number; stdout?: string; stderr?: string };
}

async function takeLine(side: ServerSide): Promise<string> {
  const bytes: number[] = [];
  for (;;) {
    const [byte] = await side.take(1);
    if (byte === 0x0a) return Buffer.from(bytes).toString('latin1');
    bytes.push(byte);
  }
}

/** A minimal, well-behaved scp (download of one file, upload of one file) and shell (the probe). */
function scriptedExec(script: () => ExecScript, counts: { scp: number }): FakeExecHandler {
  return async ({ command, channel }) => {
    const side = new ServerSide(channel);
    const now = script();
    if (now.fail) {
      if (now.fail.stdout) await side.send(now.fail.stdout);
      if (now.fail.stderr) await side.send(now.fail.stderr, 'stderr');
      side.exit(now.fail.exitCode);
      return;
    }
    if (now.banner) await side.send(now.banner);
    try {
      // A single file's upload is one command: the probe's answer, then scp -t on the same channel.
      const folded = unfoldUpload(command) !== undefined;
      if (command.includes('SCP-PROBE:')) await side.send('SCP-PROBE:n\n');
      if (command.startsWith('scp -f')) {
        counts.scp += 1;
        await side.ack();
        await side.send(`C0644 ${CONTENT.length} x\n`);
        await side.ack();
        await side.send(CONTENT);
        await side.send('\0');
        await side.ack();
      } else if (folded || command.startsWith('scp -t')) {
        counts.scp += 1;
        await side.send('\0');
        const record = await takeLine(side);
        const size = Number(/^C\d{4} (\d+) /.exec(record)?.[1]);
        await side.send('\0');
        await side.take(size + 1);
        await side.send('\0');
        await side.clientEnded();
      }
      side.exit(0);
    } catch {
      side.exit(1);
    }
  };
}

function downloadX(): DownloadRequest {
  return { ...bufferDownload('/srv/x', 1024), limits: DEFAULT_LIMITS };
}

function uploadUp(): UploadRequest {
  return { sources: [{ kind: 'buffer', data: Buffer.from('up\n') }], remotePath: '/srv/up.txt', preserve: false, atomic: false, overwrite: 'overwrite' };
}

describe('transfer: auto falls back to SFTP only on proof that there is no scp', function () {
  this.timeout(30_000);
  let server: ScriptedSftp;
  let pool: SshPool;
  let next: ExecScript = {};
  const counts = { scp: 0 };

  before(async () => {
    server = await startScriptedSftp(scriptedExec(() => next, counts));
    server.tree = listedTree({ '/srv': { type: 'dir' }, '/srv/x': { type: 'file', content: Buffer.from('over sftp\n') } });
    pool = poolForFake(server.fake);
  });
  after(async () => {
    await pool?.close();
    await server?.fake.close();
  });
  beforeEach(() => {
    next = {};
    // These cases are about SCP's replies: the same-paths probe (test/transfer/auto-sftp.test.ts) would open an
    // SFTP session of its own, so the pool starts each one as if it had found SFTP's paths to differ.
    setPathsVerdict(pool, { kind: 'differ' });
  });

  async function rejectsWithoutFallback(job: Promise<unknown>, code: string, message: RegExp): Promise<void> {
    const sessions = server.sessions;
    await assert.rejects(job, (error: TransferError) => {
      assert.ok(error instanceof TransferError, String(error));
      assert.equal(error.code, code, error.message);
      assert.match(error.message, message);
      assert.match(error.message, /127\.0\.0\.1/);
      return true;
    });
    assert.equal(server.sessions, sessions, 'an SFTP session was opened: auto switched transports');
  }

  it('a banner line before the SCP protocol: download is EPROTO under auto, and the next job still uses SCP', async () => {
    const channels = pool;
    next = { banner: BANNER };
    await rejectsWithoutFallback(download(context(channels, { transport: 'auto' }), downloadX()), 'EPROTO', /not an SCP record.*Welcome/);
    next = {};
    const scpBefore = counts.scp;
    const result = await download(context(channels, { transport: 'auto' }), downloadX());
    assert.equal(result.transport, 'scp');
    assert.deepEqual(result.files[0].data, CONTENT);
    assert.equal(counts.scp, scpBefore + 1);
  });

  it('a banner line before the SCP protocol: upload is EPROTO under auto, and the next upload still uses SCP', async () => {
    // The probe's marker comes after the banner (found), scp -t's first reply does not.
    next = { banner: BANNER };
    await rejectsWithoutFallback(upload(context(pool, { transport: 'auto' }), uploadUp()), 'EPROTO', /did not answer with the SCP protocol.*Welcome/);
    next = {};
    const result = await upload(context(pool, { transport: 'auto' }), uploadUp());
    assert.equal(result.transport, 'scp');
  });

  it('a probe answered with text but no marker is EPROTO, not a reason to switch', async () => {
    next = { fail: { exitCode: 0, stdout: BANNER } };
    await rejectsWithoutFallback(upload(context(pool, { transport: 'auto' }), uploadUp()), 'EPROTO', /unexpected reply to a file test/);
  });

  it('a failed exit without a word of the protocol (exit 1, no proof) is EPROTO, not a switch', async () => {
    next = { fail: { exitCode: 1, stderr: 'something else went wrong\n' } };
    await rejectsWithoutFallback(download(context(pool, { transport: 'auto' }), downloadX()), 'EPROTO', /something else went wrong/);
  });

  for (const [label, fail] of [
    ['exit 127, "scp: not found"', { exitCode: 127, stderr: 'sh: 1: scp: not found\n' }],
    ['the SFTP-only refusal', { exitCode: 1, stdout: 'This service allows sftp connections only.\n' }],
  ] as const) {
    it(`proof of no scp (${label}): auto downloads over SFTP, and remembers it for that provider`, async () => {
      // A provider object of its own, so nothing learned earlier counts.
      const channels = { label: pool.label, exec: pool.exec.bind(pool), sftp: pool.sftp.bind(pool) };
      next = { fail };
      const first = await download(context(channels, { transport: 'auto' }), downloadX());
      assert.equal(first.transport, 'sftp');
      assert.equal(first.files[0].data?.toString(), 'over sftp\n');
      const execs = server.fake.commands.length;
      const second = await download(context(channels, { transport: 'auto' }), downloadX());
      assert.equal(second.transport, 'sftp');
      assert.equal(server.fake.commands.length, execs, 'the remembered decision skips SCP');
    });

    it(`proof of no scp (${label}): transport scp says "the server has no usable scp" for downloads`, async () => {
      next = { fail };
      await rejectsWithoutFallback(download(context(pool, { transport: 'scp' as TransportChoice }), downloadX()), 'EPROTO', /the server has no usable scp/);
    });
  }
});

describe('transfer: an SFTP-only account on the real sshd (ForceCommand internal-sftp)', function () {
  const sshd = useOwnSshd({ config: ['ForceCommand internal-sftp'] });
  const pool = usePoolTo(sshd);

  it("'auto' falls back to SFTP; 'scp' says the server has no usable scp, for downloads as for uploads", async function () {
    const dir = await makeServerDir(sshd, 'sftp-only');
    const made = await runAsUser(sshd, `printf 'sftp only' > ${dir.relative}/f.txt`);
    assert.equal(made.code, 0, made.stderr);
    const viaAuto = await download(context(pool, { transport: 'auto' }), bufferDownload(`${dir.relative}/f.txt`, 100));
    assert.equal(viaAuto.transport, 'sftp');
    assert.equal(viaAuto.files[0].data?.toString(), 'sftp only');

    const messages: string[] = [];
    for (const job of [
      download(context(pool, { transport: 'scp' }), bufferDownload(`${dir.relative}/f.txt`, 100)),
      upload(context(pool, { transport: 'scp' }), { ...uploadUp(), remotePath: `${dir.relative}/up.txt` }),
    ]) {
      await assert.rejects(job, (error: TransferError) => {
        assert.equal(error.code, 'EPROTO', error.message);
        messages.push(error.message);
        return true;
      });
    }
    for (const message of messages) {
      assert.match(message, /the server has no usable scp/);
      assert.doesNotMatch(message, /malformed|T record/i);
    }
  });
});
