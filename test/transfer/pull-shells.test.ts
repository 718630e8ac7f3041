/**
 * Issue 16's shell commands for SCP-only servers, in every login shell a device may have (dash, bash, zsh,
 * busybox ash) and with a BusyBox userland (test/remote/local-shell.ts runs each command in a local shell):
 * the after-action that never deletes or moves a file changed since its fetch (wc -c, find -newer, touch -t,
 * mv, ln), and the claim steps (mkdir -p, mv, globbing, ln, rmdir). The oracle is the file system itself.
 */
import * as assert from 'node:assert/strict';
import { appendFileSync, promises as fs, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { openClaimOps } from '../../src/transfer/claim/claim-ops';
import { Job } from '../../src/transfer/job/job';
import { afterActionRemote } from '../../src/transfer/scp/after-action-remote';
import { makeTempDir } from '../harness';
import { SHELLS, busyboxPath, localShellProvider, type LocalShell } from '../remote/local-shell';
import { context } from './support';

describe('transfer: the pull scripts of issue 16 in every shell', function () {
  this.timeout(120_000);
  let all: LocalShell[] = [];
  before(async function () {
    all = [...SHELLS, { label: 'BusyBox userland', argv: ['/usr/bin/busybox', 'sh', '-c'], path: await busyboxPath() }];
  });

  /** in/{a.log, -dash.log, b.log} with a fixed mtime; b.log then grows (as if written after its fetch). */
  async function files(home: string): Promise<{ path: Buffer; name: Buffer; size: number; mtime: number }[]> {
    await fs.mkdir(join(home, 'in'));
    const names = ['a.log', '-dash.log', 'b.log'];
    for (const name of names) {
      await fs.writeFile(join(home, 'in', name), name);
      utimesSync(join(home, 'in', name), 1_600_000_000, 1_600_000_000);
    }
    appendFileSync(join(home, 'in', 'b.log'), ' grew');
    return names.map((name) => ({ path: Buffer.from(`in/${name}`), name: Buffer.from(name), size: name.length, mtime: 1_600_000_000 }));
  }

  for (const kind of ['delete', 'move'] as const) {
    it(`${kind}: a file changed since its fetch stays where it is; the others are ${kind === 'delete' ? 'removed' : 'moved'}`, async function () {
      for (const shell of all) {
        const home = await makeTempDir('pull-shells');
        const paths = await files(home);
        const job = new Job(context(localShellProvider(shell, home), { transport: 'scp' }));
        try {
          const action = kind === 'delete' ? ({ kind: 'delete' } as const) : ({ kind: 'move', destination: Buffer.from('done') } as const);
          const { outcomes, stderr } = await afterActionRemote(job, action, paths, 'in');
          assert.deepEqual(outcomes, [0, 0, 'changed'], `${shell.label}: ${stderr}`);
          assert.deepEqual(readdirSync(join(home, 'in')), ['b.log'], `${shell.label}: only the changed file stays, nothing else left behind`);
          assert.equal(await fs.readFile(join(home, 'in', 'b.log'), 'utf8'), 'b.log grew', shell.label);
          if (kind === 'move') assert.deepEqual(readdirSync(join(home, 'done')).sort(), ['-dash.log', 'a.log'], shell.label);
        } finally {
          job.dispose();
        }
      }
    });
  }

  it('claims: make the folder, claim (a file gone is not ours), list folders, put back and remove the folder', async function () {
    for (const shell of all) {
      const home = await makeTempDir('pull-shells-claim');
      await fs.mkdir(join(home, 'in'));
      for (const name of ['x.log', '-y.log', '.z.log']) await fs.writeFile(join(home, 'in', name), name);
      const job = new Job(context(localShellProvider(shell, home), { transport: 'scp' }));
      const ops = await openClaimOps(job, 'scp', 'in');
      try {
        await ops.makeFolder('in/.scp-claims/me~1~ab');
        assert.deepEqual(await ops.claim('in', 'in/.scp-claims/me~1~ab', ['x.log', 'gone.log', '-y.log', '.z.log']), [true, false, true, true], shell.label);
        assert.deepEqual(readdirSync(join(home, 'in', '.scp-claims', 'me~1~ab')).sort(), ['-y.log', '.z.log', 'x.log'], shell.label);
        assert.deepEqual(await ops.folders('in/.scp-claims'), ['me~1~ab'], shell.label);
        assert.deepEqual(await ops.folders('in/nowhere'), [], shell.label);
        await fs.writeFile(join(home, 'in', 'x.log'), 'a new namesake');
        await ops.release('in/.scp-claims/me~1~ab', 'in');
        // A name taken again keeps its claimed file (tried again later); the others are back, the folder stays only for it.
        assert.deepEqual(readdirSync(join(home, 'in')).sort(), ['-y.log', '.scp-claims', '.z.log', 'x.log'], shell.label);
        assert.equal(await fs.readFile(join(home, 'in', 'x.log'), 'utf8'), 'a new namesake', shell.label);
        assert.deepEqual(readdirSync(join(home, 'in', '.scp-claims', 'me~1~ab')), ['x.log'], shell.label);
      } finally {
        ops.close();
        job.dispose();
      }
    }
  });
});
