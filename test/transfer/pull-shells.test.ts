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
import { downloadClaimed } from '../../src/transfer/claim/claims';
import { Job } from '../../src/transfer/job/job';
import { afterActionRemote } from '../../src/transfer/scp/after-action-remote';
import { makeTempDir } from '../harness';
import { SHELLS, busyboxPath, localShellProvider, type LocalShell } from '../remote/local-shell';
import type { DownloadRequest, TransferResult } from '../../src/transfer/types';
import { context, directoryDownload } from './support';

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

  for (const kind of ['delete', 'move'] as const) {
    it(`${kind}: names find could read as its expression ('!', '(', '-') are checked, not taken as unchanged`, async function () {
      for (const shell of all) {
        const home = await makeTempDir('pull-shells-find');
        // Same size as fetched; the first three were written after the fetch (newer mtime), the others not.
        const names = ['!', '(', '-', '!same', '(same'];
        for (const name of names) {
          await fs.writeFile(join(home, name), 'x');
          utimesSync(join(home, name), 1_600_000_000, name.endsWith('same') ? 1_600_000_000 : 1_700_000_000);
        }
        const paths = names.map((name) => ({ path: Buffer.from(name), name: Buffer.from(name), size: 1, mtime: 1_600_000_000 }));
        const job = new Job(context(localShellProvider(shell, home), { transport: 'scp' }));
        try {
          const action = kind === 'delete' ? ({ kind: 'delete' } as const) : ({ kind: 'move', destination: Buffer.from('done') } as const);
          const { outcomes, stderr } = await afterActionRemote(job, action, paths, '.');
          assert.deepEqual(outcomes, ['changed', 'changed', 'changed', 0, 0], `${shell.label}: ${stderr}`);
          const left = readdirSync(home).filter((name) => name !== 'done');
          assert.deepEqual(left.sort(), ['!', '(', '-'], `${shell.label}: the changed files stay under their names, nothing set aside`);
          if (kind === 'move') assert.deepEqual(readdirSync(join(home, 'done')).sort(), ['!same', '(same'], shell.label);
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
        assert.deepEqual(await ops.release('in/.scp-claims/me~1~ab', 'in'), ['x.log'], shell.label);
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

  it('claims: a claimed file whose name a writer took meanwhile is reported (ECHANGED, where it is kept), never hidden silently', async function () {
    for (const shell of all) {
      const home = await makeTempDir('pull-shells-kept');
      await fs.mkdir(join(home, 'in'));
      for (const name of ['x.log', 'y.log']) await fs.writeFile(join(home, 'in', name), name);
      const ctx = context(localShellProvider(shell, home), { transport: 'scp' });
      let folder = '';
      // The pull itself is played here (the claim steps run in the real shell): x.log changed while fetched
      // and the writer made a new x.log by name meanwhile; y.log was fetched and deleted.
      const once = async (_ctx: unknown, request: DownloadRequest): Promise<TransferResult> => {
        const base = { transport: 'scp' as const, directories: [], bytes: 0, durationMs: 0, rate: 0 };
        if (request.survey) return { ...base, files: ['x.log', 'y.log'].map((name) => ({ remotePath: `in/${name}`, size: 5, mode: 0o644, mtime: 1_600_000_000, transferred: false })) };
        folder = request.remotePath.slice(0, request.remotePath.lastIndexOf('/'));
        await fs.writeFile(join(home, 'in', 'x.log'), 'a new namesake');
        await fs.rm(join(home, folder, 'y.log'));
        return {
          ...base,
          files: [
            { remotePath: `${folder}/x.log`, size: 5, mode: 0o644, transferred: false, skipped: 'notStable' },
            { remotePath: `${folder}/y.log`, size: 5, mode: 0o644, transferred: true, removed: true },
          ],
        };
      };
      const result = await downloadClaimed(ctx, directoryDownload('in/*.log', home, { glob: true, afterAction: { kind: 'delete' }, claim: { instance: 'me', timeoutSeconds: 600 } }), once);
      const x = result.files.find((file) => file.remotePath === 'in/x.log');
      assert.equal(x?.afterError?.code, 'ECHANGED', shell.label);
      assert.ok(x?.afterError?.message.includes(`${folder}/x.log`), `${shell.label}: ${x?.afterError?.message}`);
      assert.equal(result.files.find((file) => file.remotePath === 'in/y.log')?.afterError, undefined, shell.label);
      assert.equal(await fs.readFile(join(home, folder, 'x.log'), 'utf8'), 'x.log', `${shell.label}: the claimed file is where the message says`);
      assert.equal(await fs.readFile(join(home, 'in', 'x.log'), 'utf8'), 'a new namesake', shell.label);
    }
  });
});
