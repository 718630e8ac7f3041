/**
 * A scheduled pull with "delete" when sshd is SIGKILLed in the middle: every remote file that is gone
 * has a complete local copy, nothing partial sits in the local folder, and after the server comes back
 * the next pull fetches what is still there and deletes it.
 */
import assert from 'assert';
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { connectionDef, downloadDef, freezeSessions, loadFlow, track, useNodeRed, type DoneTracker } from './support';
import { eventually, useOwnSshd } from '../support';

/** part-1.log is small and comes first (the glob is sorted); the others are large enough to be mid-flight. */
const FILES = 4;
const FILE_SIZE = 32 * 1024 * 1024;
const IDLE_TIMEOUT_S = 300;

/**
 * Resolves once `file` exists locally (a download places a file only when complete); fails at once when
 * the message is answered first, and after `limitMs` when nothing comes.
 */
async function placed(file: string, tracker: DoneTracker, limitMs = 60_000): Promise<void> {
  await eventually(
    `${file} to be placed`,
    () => {
      if (fs.existsSync(file)) return true;
      if (tracker.completions.length > 0) throw new Error(`the pull was answered before ${file} was placed: ${tracker.completions[0].error?.message ?? 'it succeeded'}`);
      return false;
    },
    { limitMs, everyMs: 2 },
  );
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe('faults: sshd killed in the middle of a pull with delete', function () {
  this.timeout(120_000);
  useNodeRed();
  const server = useOwnSshd({ throwawayUser: true, restartAfterEach: true });

  for (const transport of ['scp', 'sftp'] as const) {
    it(`${transport}: every remote file gone has its complete local copy; the rest is fetched and deleted after the restart`, async function () {
      const dir = await makeServerDir(server, `faults-pull-kill-${transport}`);
      const made = await runAsUser(
        server,
        `cd '${dir.absolute}' && head -c 1024 /dev/urandom > part-1.log && for i in $(seq 2 ${FILES}); do head -c ${FILE_SIZE} /dev/urandom > part-$i.log; done && sha256sum part-*.log`,
      );
      assert.strictEqual(made.code, 0, made.stderr);
      const hashes = new Map(
        made.stdout
          .toString()
          .trim()
          .split('\n')
          .map((line) => {
            const [hash, name] = line.split(/\s+/);
            return [name, hash] as const;
          }),
      );
      assert.strictEqual(hashes.size, FILES);
      const local = await makeTempDir(`faults-pull-kill-${transport}`);
      await loadFlow(
        [
          connectionDef(server, { username: server.username, idleTimeout: IDLE_TIMEOUT_S, transport }),
          downloadDef({ target: 'directory', glob: true, afterAction: 'delete' }),
        ],
        { conn: { password: server.password } },
      );
      const down = track('down');
      const pattern = `${dir.absolute}/part-*.log`;
      // Kill once the first (small) file is complete: the next, large one is then in flight.
      down.node.receive({ remotePath: pattern, localPath: local });
      await placed(path.join(local, 'part-1.log'), down);
      const frozen = freezeSessions(server.port);
      assert.ok(frozen.count > 0, 'found the session processes');
      await server.kill();
      const [first] = await down.wait(1);
      assert.ok(first.error, 'the pull cut off by the kill fails');

      const remoteAfterKill = new Set((await runAsUser(server, `ls -A '${dir.absolute}'`)).stdout.toString().split('\n').filter(Boolean));
      const localAfterKill = fs.readdirSync(local).sort();
      for (const name of localAfterKill) assert.strictEqual(sha256(path.join(local, name)), hashes.get(name), `${name}: a local copy must be complete`);
      for (const name of hashes.keys()) {
        if (!remoteAfterKill.has(name)) assert.ok(localAfterKill.includes(name), `${name} is gone remotely without a local copy`);
      }
      assert.ok(localAfterKill.includes('part-1.log') && localAfterKill.length < FILES, `the kill came mid-pull: ${localAfterKill.join(', ')}`);

      await server.restart();
      down.node.receive({ remotePath: pattern, localPath: local });
      const [, second] = await down.wait(2);
      assert.strictEqual(second.error, undefined, `the pull after the restart: ${second.error?.message}`);
      assert.deepStrictEqual((await runAsUser(server, `ls -A '${dir.absolute}'`)).stdout.toString(), '', 'everything fetched was deleted');
      assert.deepStrictEqual(fs.readdirSync(local).sort(), [...hashes.keys()].sort());
      for (const [name, hash] of hashes) assert.strictEqual(sha256(path.join(local, name)), hash, name);
    });
  }
});
