/**
 * Issue 16: with delete or move after the pull, a file still being written is never lost. A remote writer
 * appends numbered lines to the file, by name, the whole time a pull of it is in flight (the file is big
 * enough to take a while); afterwards every line the writer wrote must be in the local copy or still on the
 * server, and the file's result says what happened: removed (only if nothing changed after the fetch) or
 * `afterError` ECHANGED. Over SCP and SFTP, against the real sshd.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { download, type AfterAction } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { startWriter } from './writer';
import { DEFAULT_LIMITS, context, sq, useSharedPool } from './support';

/** Lines seeded before the pull: 10 MB, so the transfer is in flight for a while. */
const SEEDED = 1_000_000;

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: a pull of a file a writer appends to, over ${transport}`, function () {
    this.timeout(180_000);
    const shared = useSharedPool();

    /** The contents of every file below `dir` on the server, as the server's user reads them. */
    async function remoteContents(dir: string): Promise<{ names: string[]; text: string }> {
      const listed = await runAsUser(shared.server, `cd ${sq(dir)} && find . -type f | sort`);
      const names = listed.stdout.toString().split('\n').filter((name) => name !== '');
      const catted = await runAsUser(shared.server, `cd ${sq(dir)} && find . -type f -exec cat {} +`);
      return { names, text: catted.stdout.toString() };
    }

    for (const kind of ['delete', 'move'] as const) {
      it(`${kind} after the pull: every line written is in the local copy or still on the server; the result says why`, async function () {
        const remote = await makeServerDir(shared.server, `pull-writer-${kind}-${transport}`);
        await runAsUser(shared.server, `cd ${sq(remote.relative)} && mkdir in && seq -f '%09g' 0 ${SEEDED - 1} > in/app.log`);
        const local = await makeTempDir(`pull-writer-${transport}`);
        const afterAction: AfterAction = kind === 'delete' ? { kind: 'delete' } : { kind: 'move', directory: `${remote.relative}/done` };
        const writer = await startWriter(shared.server, `${remote.absolute}/in/app.log`, SEEDED);
        let written: number;
        let result;
        try {
          result = await download(context(shared.channels, { transport }), {
            remotePath: `${remote.relative}/in/*.log`,
            target: { kind: 'directory', path: local },
            recursive: false,
            glob: true,
            preserve: false,
            overwrite: 'overwrite',
            limits: DEFAULT_LIMITS,
            afterAction,
          });
        } finally {
          written = await writer.stop();
        }
        const fetched = await fs.readFile(join(local, 'app.log'), 'utf8');
        const server = await remoteContents(remote.relative);
        const seen = new Set([...fetched.split('\n'), ...server.text.split('\n')]);
        const missing: number[] = [];
        for (let line = 0; line < written; line += 1) if (!seen.has(String(line).padStart(9, '0'))) missing.push(line);
        assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${written} lines lost (server has ${server.names.join(', ')})`);
        assert.ok(written > SEEDED, 'the writer appended while the pull ran');
        assert.ok(fetched.length >= SEEDED * 10, 'the local copy holds at least the seeded lines');
        const [file] = result.files;
        // Removed or moved only when nothing changed after the fetch (the writer may have been starved until then).
        if (file.afterError) {
          assert.equal(file.afterError.code, 'ECHANGED', file.afterError.message);
          assert.ok(server.names.some((name) => name.startsWith('./in/app.log')), server.names.join(', '));
        } else {
          assert.ok(kind === 'delete' ? file.removed : file.movedTo, JSON.stringify(file));
        }
        process.stdout.write(`      (${transport} ${kind}: ${written - SEEDED} lines appended; ${file.afterError ? `kept, ${file.afterError.code}` : 'removed or moved'}; server: ${server.names.join(', ')})\n`);
      });
    }
  });
}
