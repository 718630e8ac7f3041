/**
 * Hostile replies to the folded single-file upload command (src/transfer/scp/folded-upload.ts: the
 * probe's answer, then `scp -t`, then, atomic, the placing answer, on one channel), through `upload()`
 * over an SshPool to a scripted server. Per row: the code and a clean message naming the host; a reply
 * that refuses or is not understood before the file's record means no record was sent at all; whatever
 * the server may have created under a temporary name is removed by a separate `rm -f` of exactly that
 * name; the pool is back to one connection and no channel; SFTP is asked for only on proof that the
 * server has no scp (transport auto).
 */
import assert from 'assert';
import { TransferError } from '../../src/errors';
import { SshPool } from '../../src/ssh';
import { forgetTransport, upload, type OverwritePolicy, type TransportChoice } from '../../src/transfer';
import { setPathsVerdict } from '../../src/transfer/transport-memory';
import { FOLDED_PREFIX, foldedProbeCount, startFakeServer, unfoldUpload, type FakeServer } from '../harness';
import { ServerSide } from './server-side';
import { eventually } from '../support';
import { assertCleanMessage, poolForFake } from './support';

const CONTENT = Buffer.from('hello');
/** The remote path of every row: an existing directory (the answer says so) that receives f.txt. */
const REMOTE = '/srv/dir';
const TEMPORARY = /^rm -f -- '\/srv\/dir\/\.f\.txt\.scp-[0-9a-f]{16}\.part'$/u;

type Script = (side: ServerSide, command: string) => Promise<void>;

interface Row {
  name: string;
  script: Script;
  code: string;
  message: RegExp;
  overwrite?: OverwritePolicy;
  /** the client sent the file (record and data) */
  sent?: boolean;
  /** the server may have left the temporary: the client must remove it with its own command */
  removes?: boolean;
  /** proof of no scp: auto uses SFTP (and 'scp' says there is no usable scp) */
  noScp?: boolean;
}

/** The honest start: the directory exists, the file does not; scp's first \0. */
async function answer(side: ServerSide, command: string): Promise<void> {
  assert.strictEqual(foldedProbeCount(command), 2);
  await side.send('SCP-PROBE:dn\n');
  await side.send('\0');
}

/** Takes a file record and its data as scp -t does, acknowledging both. */
async function takeFile(side: ServerSide): Promise<void> {
  let line = '';
  while (!line.endsWith('\n')) line += (await side.take(1)).toString('latin1');
  const size = Number(/^C\d{4} (\d+) /u.exec(line)?.[1]);
  await side.send('\0');
  await side.take(size + 1);
  await side.send('\0');
}

/** The server sends `text` in place of the honest answer and waits for the client to give up. */
function replies(text: string): Script {
  return async (side) => {
    await side.send(text);
    await side.clientEnded();
  };
}

/** The server sends `text` (on stdout, or `stderr` first on stderr) and its scp exits with `code`. */
function repliesAndExits(text: string, code: number, stderr?: string): Script {
  return async (side) => {
    await side.send(text);
    if (stderr !== undefined) await side.send(stderr, 'stderr');
    side.exit(code);
  };
}

/**
 * The honest answer and a good file exchange; after the client's end, `stderr` (if any) on stderr, then the
 * placing answer `placed` (none when empty) and the exit status `code`.
 */
function placingAnswer(placed: string, { code = 0, stderr }: { code?: number; stderr?: string } = {}): Script {
  return async (side, command) => {
    await answer(side, command);
    await takeFile(side);
    await side.clientEnded();
    if (stderr !== undefined) await side.send(stderr, 'stderr');
    if (placed) await side.send(placed);
    side.exit(code);
  };
}

const ROWS: Row[] = [
  { name: 'a banner line before the probe answer', script: replies('Welcome to the box\nSCP-PROBE:dn\n\0'), code: 'EPROTO', message: /did not answer with the SCP protocol.*Welcome to the box/ },
  { name: 'a banner glued to the probe answer', script: replies('WelcomeSCP-PROBE:dn\n\0'), code: 'EPROTO', message: /did not answer with the SCP protocol.*Welcome/ },
  { name: 'endless text and never the answer', script: async (side) => void (await side.flood(Buffer.alloc(4096, 0x78), 1024 * 1024)), code: 'EPROTO', message: /more than 16384 bytes before the answer/ },
  { name: 'text and exit 0 instead of the answer', script: repliesAndExits('I am not a shell\n', 0), code: 'EPROTO', message: /unexpected reply to a file test.*I am not a shell/ },
  { name: 'an answer with too few letters', script: replies('SCP-PROBE:d\n\0'), code: 'EPROTO', message: /unexpected reply to a file test/ },
  { name: 'an answer with letters that mean nothing', script: replies('SCP-PROBE:dq\n\0'), code: 'EPROTO', message: /unexpected reply to a file test/ },
  { name: 'an answer that lies: a directory where the file goes', script: replies('SCP-PROBE:dd\n\0'), code: 'EISDIR', message: /directory is in the way/ },
  { name: 'an answer that says the file exists, with overwrite "fail"', overwrite: 'fail', script: replies('SCP-PROBE:df\n\0'), code: 'EEXIST', message: /remote file exists/ },
  { name: 'no scp after the answer (exit 127)', noScp: true, script: repliesAndExits('SCP-PROBE:dn\n', 127, 'sh: 1: scp: not found\n'), code: 'EPROTO', message: /no usable scp/ },
  { name: 'the SFTP-only refusal instead of the answer', noScp: true, script: repliesAndExits('This service allows sftp connections only.\n', 1), code: 'EPROTO', message: /no usable scp/ },
  { name: "text instead of scp's first reply, after the answer", script: replies('SCP-PROBE:dn\nhello there\n'), code: 'EPROTO', message: /did not answer with the SCP protocol.*hello there/ },
  {
    name: 'an exit in the middle of the data',
    sent: true,
    removes: true,
    script: async (side, command) => {
      await answer(side, command);
      let line = '';
      while (!line.endsWith('\n')) line += (await side.take(1)).toString('latin1');
      await side.send('\0');
      await side.take(2);
      side.exit(1);
    },
    code: 'ECONNRESET|EPROTO',
    message: /\/srv\/dir/,
  },
  { name: 'a good exchange and no placing answer', sent: true, removes: true, script: placingAnswer(''), code: 'EPROTO', message: /unexpected reply to a rename.*no answer/ },
  { name: 'a placing answer that means nothing', sent: true, removes: true, script: placingAnswer('SCP-PLACED:zz\n'), code: 'EPROTO', message: /unexpected reply to a rename/ },
  { name: 'a placing answer "nothing was there" after a good exchange', sent: true, script: placingAnswer('SCP-PLACED:n\n'), code: 'EPROTO', message: /could not move the uploaded file into place/ },
  { name: 'placing refused: the file exists (overwrite "fail")', overwrite: 'fail', sent: true, script: placingAnswer('SCP-PLACED:e\n'), code: 'EEXIST', message: /remote file exists.*\/srv\/dir\/f\.txt/ },
  { name: 'placing refused: a directory appeared at the final path', sent: true, script: placingAnswer('SCP-PLACED:d\n'), code: 'EISDIR', message: /directory is in the way.*\/srv\/dir\/f\.txt/ },
  {
    name: 'scp fails at the end (exit 1) and the shell says it removed the temporary',
    sent: true,
    script: placingAnswer('SCP-PLACED:x\n', { code: 1, stderr: 'scp: /srv/dir/.f.txt: close failed\n' }),
    code: 'EPROTO',
    message: /exit status 1.*close failed/,
  },
];

describe('hostile SCP server: replies to the folded single-file upload', function () {
  this.timeout(30_000);
  let fake: FakeServer;
  let pool: SshPool;
  let script: Script = async () => undefined;
  let received: Buffer[] = [];
  let sftpRequests = 0;

  before(async () => {
    fake = await startFakeServer(
      async ({ command, channel }) => {
        if (!unfoldUpload(command)) {
          // the clean-up after a failure (rm -f of the temporary): done
          channel.exit(0);
          channel.end();
          return;
        }
        channel.on('data', (chunk: Buffer) => received.push(chunk));
        const side = new ServerSide(channel);
        try {
          await script(side, command);
        } catch {
          // the client cut the session short
        }
        side.exit(1);
      },
      {
        sftp: ({ sftp }) => {
          sftpRequests += 1;
          sftp.end();
        },
      },
    );
    pool = poolForFake(fake);
  });
  after(async () => {
    await pool?.close();
    await fake?.close();
  });

  async function channelsFreed(): Promise<void> {
    await eventually('the pool has no channel open', () => pool.stats().channels === 0);
    assert.deepStrictEqual({ ...pool.stats(), maxChannelsSeen: 0 }, { connections: 1, channels: 0, queued: 0, maxChannelsSeen: 0 });
  }

  async function run(row: Row, transport: TransportChoice): Promise<{ error: TransferError | undefined; commands: string[] }> {
    script = row.script;
    received = [];
    // what auto learned from an earlier row (no scp: use SFTP) must not decide this one
    forgetTransport(pool);
    // and the same-paths probe (test/transfer/auto-sftp.test.ts) is not what these rows test: as if it found SFTP's paths to differ
    setPathsVerdict(pool, { kind: 'differ' });
    const before = fake.commands.length;
    let error: TransferError | undefined;
    try {
      await upload(
        { channels: pool, transport, idleTimeoutMs: 3000 },
        { sources: [{ kind: 'buffer', data: CONTENT, name: 'f.txt' }], remotePath: REMOTE, preserve: false, atomic: true, overwrite: row.overwrite ?? 'overwrite' },
      );
    } catch (caught) {
      error = caught as TransferError;
    }
    await channelsFreed();
    return { error, commands: fake.commands.slice(before) };
  }

  for (const row of ROWS) {
    it(`${row.name}: ${row.code}`, async () => {
      const sftpBefore = sftpRequests;
      const { error, commands } = await run(row, 'scp');
      assert.ok(error instanceof TransferError, `expected ${row.code}, got ${String(error)}`);
      assert.match(error.code, new RegExp(`^(?:${row.code})$`), error.message);
      assert.match(error.message, row.message);
      assertCleanMessage(error.message);
      assert.ok(commands[0].startsWith(FOLDED_PREFIX), `the first command is the folded one: ${commands[0]}`);
      const cleanups = commands.slice(1);
      if (row.removes) {
        assert.strictEqual(cleanups.length, 1, JSON.stringify(cleanups));
        assert.match(cleanups[0], TEMPORARY);
      } else {
        assert.deepStrictEqual(cleanups, [], 'nothing left to remove');
      }
      if (!row.sent) assert.doesNotMatch(Buffer.concat(received).toString('latin1'), /(^|\n)C\d{4} /u, 'a file record was sent');
      assert.strictEqual(sftpRequests, sftpBefore, 'SFTP was asked for');
    });

    if (!row.sent) {
      it(`${row.name}, transport auto: ${row.noScp ? 'falls back to SFTP' : 'no fallback'}`, async () => {
        const sftpBefore = sftpRequests;
        const { error } = await run(row, 'auto');
        assert.ok(error instanceof TransferError, String(error));
        if (row.noScp) {
          // the scripted SFTP subsystem ends at once: that the client asked for it is the point
          assert.ok(sftpRequests > sftpBefore, 'auto did not turn to SFTP');
        } else {
          assert.match(error.code, new RegExp(`^(?:${row.code})$`), error.message);
          assert.strictEqual(sftpRequests, sftpBefore, 'auto switched transports on a hostile reply');
        }
      });
    }
  }

  it('the honest exchange: one command, the record names the temporary, the placing answer places it', async () => {
    const row: Row = { name: 'honest', code: '', message: /./, script: placingAnswer('SCP-PLACED:0\n') };
    const { error, commands } = await run(row, 'scp');
    assert.strictEqual(error, undefined, error?.message);
    assert.strictEqual(commands.length, 1, JSON.stringify(commands));
    assert.match(Buffer.concat(received).toString('latin1'), /^C0644 5 \.f\.txt\.scp-[0-9a-f]{16}\.part\nhello\0$/u);
  });
});
