/**
 * sshd SIGKILLed while a 50 MiB upload and a 50 MiB download are in flight through the nodes: both
 * messages fail with ECONNRESET, nothing partial sits at either final path, and after the server comes
 * back on the same port the next messages succeed on a new connection without a redeploy. The upload's
 * temporary file, which nobody could remove while the server was down, is recorded in the user
 * directory's leftover journal and removed by the next message.
 */
import assert from 'assert';
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { parseJournal } from '../../src/transfer/leftovers/journal-file';
import {
  collectCaught,
  connectionDef,
  downloadDef,
  freezeSessions,
  inFlight,
  loadFlow,
  track,
  uploadDef,
  useNodeRed,
  userDirectory,
} from './support';
import { useOwnSshd } from '../support';

const SIZE = 50 * 1024 * 1024;
/** Far above anything the test waits for: a failure must come from noticing the drop, not from this timer. */
const IDLE_TIMEOUT_S = 300;
const NOTICE_DROP_MS = 20_000;

/** Resolves with `promise`, or rejects with `why` when it has not settled after `ms`. */
function within<T>(promise: Promise<T>, ms: number, why: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(why)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

describe('faults: sshd killed mid-transfer, then restarted', function () {
  this.timeout(90_000);
  useNodeRed();
  const server = useOwnSshd({ throwawayUser: true, restartAfterEach: true });

  for (const transport of ['scp', 'sftp'] as const) {
    it(`${transport}: fails both in-flight messages with ECONNRESET, leaves no partial file, and the next messages succeed`, async function () {
      const dir = await makeServerDir(server, `faults-kill-${transport}`);
      const localDir = await makeTempDir('faults-kill-local');
      const sourceName = 'source.bin';
      const made = await runAsUser(server, `head -c ${SIZE} /dev/urandom > '${dir.absolute}/${sourceName}' && sha256sum '${dir.absolute}/${sourceName}'`);
      assert.strictEqual(made.code, 0, made.stderr);
      const sourceHash = made.stdout.toString().split(' ')[0];
      const logOffset = server.logs().length;

      await loadFlow(
        [connectionDef(server, { username: server.username, idleTimeout: IDLE_TIMEOUT_S, transport }), uploadDef(), downloadDef({ target: 'file', preserve: false })],
        { conn: { password: server.password } },
      );
      const up = track('up');
      const down = track('down');
      const caught = collectCaught();
      const uploadPath = `${dir.absolute}/upload.bin`;
      const downloadSource = `${dir.absolute}/${sourceName}`;
      const localTarget = path.join(localDir, 'download.bin');

      // Kill as soon as both transfers have moved data but neither has finished.
      const moving = Promise.all([inFlight(up, uploadPath, SIZE), inFlight(down, downloadSource, SIZE)]);
      up.node.receive({ payload: crypto.randomBytes(SIZE), remotePath: uploadPath });
      down.node.receive({ remotePath: downloadSource, localPath: localTarget });
      await moving;
      // Freeze the server's session processes so both transfers are certainly mid-stream when it dies.
      const frozen = freezeSessions(server.port);
      assert.ok(frozen.count > 0, 'found the session processes');
      assert.deepStrictEqual([up.completions.length, down.completions.length], [0, 0], 'a transfer finished before the server froze');
      await server.kill();

      const why = (what: string): string =>
        `the ${what} was not answered within ${NOTICE_DROP_MS} ms of the kill (idle timeout ${IDLE_TIMEOUT_S} s): the dropped connection went unnoticed`;
      const [[upDone], [downDone]] = await Promise.all([
        within(up.wait(1), NOTICE_DROP_MS, why('upload')),
        within(down.wait(1), NOTICE_DROP_MS, why('download')),
      ]);
      assert.strictEqual(upDone.error?.code, 'ECONNRESET', `upload: ${upDone.error?.message ?? 'succeeded'}`);
      assert.strictEqual(downDone.error?.code, 'ECONNRESET', `download: ${downDone.error?.message ?? 'succeeded'}`);
      // What a Catch node in the flow sees: the same code on msg.error.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepStrictEqual(caught.map((msg) => (msg.error as { code?: unknown }).code), ['ECONNRESET', 'ECONNRESET']);

      // Remote: nothing at the final path; the temp file stays (the server died before we could remove it).
      const remoteList = await runAsUser(server, `ls -A '${dir.absolute}'`);
      const remoteNames = remoteList.stdout.toString().split('\n').filter(Boolean);
      assert.ok(!remoteNames.includes('upload.bin'), `a partial upload sits at the final path: ${remoteNames.join(', ')}`);
      const leftover = remoteNames.filter((name) => /^\.upload\.bin\.scp-[0-9a-f]{16}\.part$/.test(name));
      assert.strictEqual(leftover.length, 1, `the killed upload's temporary file: ${remoteNames.join(', ')}`);
      // ... and the journal in Node-RED's user directory names it.
      const journalDir = path.join(userDirectory(), 'scp-leftovers');
      const journal = fs.readdirSync(journalDir).map((name) => fs.readFileSync(path.join(journalDir, name), 'utf8'));
      const recorded = journal.flatMap((text) => parseJournal(text).items);
      assert.deepStrictEqual(
        recorded.map((entry) => entry.path.toString()),
        [`${dir.absolute}/${leftover[0]}`],
      );
      // Local: the client is alive, so neither the final file nor a temp file may remain.
      assert.deepStrictEqual(fs.readdirSync(localDir), [], 'the local target dir must be empty');

      await server.restart();

      const small = crypto.randomBytes(64 * 1024);
      up.node.receive({ payload: small, remotePath: `${dir.absolute}/after.bin` });
      const [, upAgain] = await up.wait(2);
      assert.strictEqual(upAgain.error, undefined, `upload after restart: ${upAgain.error?.message}`);
      const check = await runAsUser(server, `cat '${dir.absolute}/after.bin'`);
      assert.ok(check.stdout.equals(small), 'the upload after the restart arrived intact');
      // The next message on that server removed the temporary file the lost connection left behind.
      const afterList = await runAsUser(server, `ls -A '${dir.absolute}'`);
      assert.deepStrictEqual(afterList.stdout.toString().split('\n').filter(Boolean).sort(), ['after.bin', sourceName]);
      assert.deepStrictEqual(fs.readdirSync(journalDir), [], 'the journal is empty once its names are removed');

      down.node.receive({ remotePath: downloadSource, localPath: localTarget });
      const [, downAgain] = await down.wait(2);
      assert.strictEqual(downAgain.error, undefined, `download after restart: ${downAgain.error?.message}`);
      const got = crypto.createHash('sha256').update(fs.readFileSync(localTarget)).digest('hex');
      assert.strictEqual(got, sourceHash, 'the download after the restart is intact');
      assert.deepStrictEqual(fs.readdirSync(localDir), ['download.bin'], 'no temp file beside the download');
      // The server's log shows a second authenticated session: a new connection, not a revived one.
      const accepted = server.logs().slice(logOffset).match(/Accepted password for/g) ?? [];
      assert.ok(accepted.length >= 2, `expected a new connection after the restart, log has ${accepted.length} logins`);
    });
  }
});
