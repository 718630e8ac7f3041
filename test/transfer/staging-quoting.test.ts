/**
 * The staging move (`mv -f -- S/a S/b D/`) of an atomic multi-file SCP upload names the target directory
 * on a shell command line. Target directories whose names a shell would split, expand or run must get
 * every file, with its content, and run nothing: a marker file that an injected command would create
 * stays absent. (Without quoting, `mv` moves into the wrong place or fails, and the $(...) runs.)
 */
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { upload } from '../../src/transfer';
import { makeServerDir, runAsUser } from '../harness';
import { context, randomData, sha256, sq, useSharedPool } from './support';

describe('transfer: staging move into directories with shell-hostile names (scp)', function () {
  const shared = useSharedPool();
  const topLevel: string[] = [];

  after(async function () {
    // Directories made in the home itself (a leading dash needs a path that starts with it).
    for (const name of topLevel) await runAsUser(shared.server, `chmod -R u+rwx -- ${sq(name)}; rm -r -- ${sq(name)}`);
  });

  it('uploads several files atomically into each directory with exact contents and no command run', async function () {
    const dir = await makeServerDir(shared.server, 'staging-quoting');
    const marker = `${dir.absolute}/pwned`;
    const dash = `-dash-${crypto.randomBytes(4).toString('hex')} dir`;
    topLevel.push(dash);
    // Each is the upload's target directory (made beforehand: several sources need an existing one).
    const targets = [
      `${dir.relative}/it's a 'quoted' dir`,
      `${dir.relative}/$(touch ${marker})`,
      `${dir.relative}/\`touch ${marker}\``,
      `${dir.relative}/sp  ace;touch ${marker}`,
      `${dir.relative}/a&&touch ${marker}||b`,
      `${dir.relative}/"dq" \${HOME} \\back $USER`,
      `${dir.relative}/glob*`,
      `${dir.relative}/[gh]?ob`,
      `${dir.relative}/ lead and trail `,
      `${dir.relative}/tab\there`,
      dash,
    ];
    // Decoys a glob would match instead: an unquoted `glob*/` or `[gh]?ob/` moves into one of these.
    const decoys = [`${dir.relative}/globx`, `${dir.relative}/hlob`];
    const made = await runAsUser(shared.server, [...targets, ...decoys].map((target) => `mkdir -p -- ${sq(target)}`).join(' && '));
    assert.equal(made.code, 0, made.stderr.toString());

    // Every target is tried, and the marker checked, before any failure is reported.
    const problems: string[] = [];
    for (const target of targets) {
      try {
        await uploadAndCheck(target);
      } catch (error) {
        problems.push(`${target}: ${(error as Error).message}`);
      }
    }
    const pwned = await runAsUser(shared.server, `ls -A -- ${sq(dir.absolute)}`);
    assert.ok(!pwned.stdout.toString().split('\n').includes('pwned'), 'a target directory name ran a command on the server');
    assert.deepEqual(problems, []);
    const decoyContents = await runAsUser(shared.server, decoys.map((decoy) => `ls -A -- ${sq(decoy)}`).join('; '));
    assert.equal(decoyContents.stdout.toString(), '', 'a glob in the target name moved files into another directory');
  });

  async function uploadAndCheck(target: string): Promise<void> {
    const files = new Map([
      ['one.txt', Buffer.from(`first file in ${target}`)],
      ['two words.bin', randomData(70_000)],
      ["th'ree", randomData(3)],
    ]);
    const result = await upload(context(shared.channels, { transport: 'scp' }), {
      sources: [...files].map(([name, data]) => ({ kind: 'buffer' as const, data, name })),
      remotePath: target,
      preserve: false,
      atomic: true,
      overwrite: 'overwrite',
    });
    assert.equal(result.transport, 'scp');
    assert.deepEqual(
      result.files.map((file) => file.remotePath),
      [...files.keys()].map((name) => `${target}/${name}`),
    );
    for (const [name, data] of files) {
      const onServer = await runAsUser(shared.server, `cat -- ${sq(`${target}/${name}`)}`);
      assert.equal(onServer.code, 0, `${target}/${name} is missing: ${onServer.stderr.toString()}`);
      assert.equal(sha256(onServer.stdout), sha256(data), `${target}/${name}`);
    }
    // Exactly the three files: no staging directory left, nothing moved in as a subdirectory.
    const listing = await runAsUser(shared.server, `ls -A -- ${sq(target)}`);
    assert.deepEqual(listing.stdout.toString().split('\n').filter(Boolean).sort(), [...files.keys()].sort(), target);
  }
});
