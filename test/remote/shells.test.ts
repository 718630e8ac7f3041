/**
 * The toolbox's shell commands (src/remote/shell-scripts.ts) run by every login shell a device may have
 * (dash, bash, zsh, busybox ash), with GNU coreutils, with a BusyBox userland (its stat, ls, date applets)
 * and with no `stat` at all (the fallback), against a tree of hostile names. The oracle is Node's own
 * lstat of the same files: entries, types, sizes, modes and times must be exactly what the file system says.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { remote, type RemoteEntry } from '../../src/remote';
import { TransferError } from '../../src/errors';
import { makeTempDir } from '../harness';
import { context } from '../transfer/support';
import { SHELLS, busyboxPath, localShellProvider, pathWithoutStat, type LocalShell } from './local-shell';

const LATIN1 = Buffer.from([0x6c, 0x61, 0x74, 0xe9]); // "lat\xe9": not valid UTF-8
const NAMES = ['plain.txt', 'new\nline', "it's $(touch pwned) `id`", '-starts-with-dash', ' spaced  name ', '*', 'tab\there', '.hidden'];

/** The tree every shell lists: hostile names, a symlink, a dangling one, a FIFO, a subdirectory two deep. */
async function makeTree(): Promise<string> {
  const home = await makeTempDir('remote-shells');
  const root = join(home, 'd');
  await fs.mkdir(join(root, 'sub', 'deeper'), { recursive: true });
  for (const [index, name] of NAMES.entries()) await fs.writeFile(join(root, name), Buffer.alloc(index * 7, 0x61));
  await fs.writeFile(Buffer.concat([Buffer.from(`${root}/`), LATIN1]), 'x');
  await fs.symlink('plain.txt', join(root, 'link'));
  await fs.symlink('nowhere', join(root, 'dangling'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  await fs.writeFile(join(root, 'sub', 'deeper', 'z'), 'zz');
  await fs.chmod(join(root, 'plain.txt'), 0o640);
  await fs.utimes(join(root, 'plain.txt'), 1_600_000_000, 1_600_000_000);
  return home;
}

/** What the file system says about each entry below `dir` (the oracle), named as the listing names them. */
function oracle(home: string, relative: string, depth: number, withSymlinkTimes: boolean): RemoteEntry[] {
  const entries: RemoteEntry[] = [];
  const walk = (dirBytes: Buffer, shown: Buffer, level: number): void => {
    for (const name of readdirSync(dirBytes, { encoding: 'buffer' })) {
      const full = Buffer.concat([dirBytes, Buffer.from('/'), name]);
      const path = Buffer.concat([shown, Buffer.from('/'), name]);
      const stats = lstatSync(full);
      const type = stats.isFile() ? 'file' : stats.isDirectory() ? 'directory' : stats.isSymbolicLink() ? 'symlink' : 'other';
      const text = (bytes: Buffer): string | Buffer => (Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes) ? bytes.toString('utf8') : bytes);
      entries.push({
        name: text(name),
        path: text(path),
        type,
        size: type === 'other' ? 0 : stats.size,
        mode: stats.mode & 0o7777,
        mtime: type === 'symlink' && !withSymlinkTimes ? null : Math.floor(stats.mtimeMs / 1000),
      });
      if (type === 'directory' && level < depth) walk(full, path, level + 1);
    }
  };
  walk(Buffer.from(join(home, relative)), Buffer.from(relative), 1);
  return entries.sort((a, b) => Buffer.compare(Buffer.from(a.path as string), Buffer.from(b.path as string)));
}

function bytesOf(name: string | Buffer): Buffer {
  return typeof name === 'string' ? Buffer.from(name) : name;
}

function sorted(entries: RemoteEntry[]): RemoteEntry[] {
  return [...entries].sort((a, b) => Buffer.compare(bytesOf(a.path), bytesOf(b.path)));
}

async function failure(promise: Promise<unknown>): Promise<TransferError & { outcomes?: unknown[] }> {
  try {
    await promise;
  } catch (error) {
    return error as TransferError & { outcomes?: unknown[] };
  }
  assert.fail('expected a failure');
}

const userlands: { label: string; shell: () => Promise<LocalShell>; symlinkTimes: boolean }[] = [
  ...SHELLS.map((shell) => ({ label: `${shell.label} with GNU coreutils`, shell: async () => shell, symlinkTimes: true })),
  { label: 'busybox ash with the BusyBox applets', shell: async () => ({ label: 'busybox', argv: ['/usr/bin/busybox', 'sh', '-c'], path: await busyboxPath() }), symlinkTimes: true },
  { label: 'dash without stat (the fallback)', shell: async () => ({ label: 'dash-nostat', argv: ['/bin/dash', '-c'], path: await pathWithoutStat() }), symlinkTimes: false },
  { label: 'busybox ash without stat (the fallback)', shell: async () => ({ label: 'busybox-nostat', argv: ['/usr/bin/busybox', 'sh', '-c'], path: await pathWithoutStat() }), symlinkTimes: false },
];

for (const userland of userlands) {
  describe(`remote toolbox over the shell: ${userland.label}`, function () {
    this.timeout(30_000);
    let home: string;
    let shell: LocalShell;
    const ctx = (): ReturnType<typeof context> => context(localShellProvider(shell, home), { transport: 'scp' });

    before(async () => {
      shell = await userland.shell();
      home = await makeTree();
    });

    it('lists every name intact (newline, quotes, $(...), not UTF-8, dot names), with the file system\'s types, sizes, modes and times', async () => {
      const result = await remote(ctx(), { operation: 'list', path: Buffer.from('d'), options: { recursive: false, maxDepth: 1, maxEntries: 100 } });
      assert.deepEqual(sorted(result.entries ?? []), oracle(home, 'd', 1, userland.symlinkTimes));
      await assert.rejects(fs.stat(join(home, 'pwned')), 'nothing ran from a name');
      const latin = result.entries?.find((entry) => Buffer.isBuffer(entry.name));
      assert.ok(latin && Buffer.isBuffer(latin.name) && latin.name.equals(LATIN1), 'the name that is not UTF-8 comes as its bytes');
    });

    it('lists recursively down to the depth cap, never through a symlink, and filters, sorts and limits', async () => {
      const all = await remote(ctx(), { operation: 'list', path: Buffer.from('d/'), options: { recursive: true, maxDepth: 3, maxEntries: 100 } });
      assert.deepEqual(sorted(all.entries ?? []), oracle(home, 'd', 3, userland.symlinkTimes));
      const two = await remote(ctx(), { operation: 'list', path: Buffer.from('d'), options: { recursive: true, maxDepth: 2, maxEntries: 100 } });
      assert.ok((two.entries ?? []).some((entry) => entry.path === 'd/sub/deeper') && !(two.entries ?? []).some((entry) => entry.path === 'd/sub/deeper/z'));
      const files = await remote(ctx(), {
        operation: 'list',
        path: Buffer.from('d'),
        options: { recursive: false, maxDepth: 1, maxEntries: 100, pattern: '*.txt', types: ['file'], sort: { by: 'size', descending: true }, limit: 1 },
      });
      assert.deepEqual((files.entries ?? []).map((entry) => entry.name), ['plain.txt']);
      const old = await remote(ctx(), { operation: 'list', path: Buffer.from('d'), options: { recursive: false, maxDepth: 1, maxEntries: 100, minAgeSeconds: 3600 } });
      assert.deepEqual((old.entries ?? []).map((entry) => entry.name), ['plain.txt'], 'only the file dated 2020 is an hour old');
    });

    it('stops a listing over the entry cap (ETOOBIG), refuses a missing (ENOENT) or a file root (ENOTDIR)', async () => {
      assert.equal((await failure(remote(ctx(), { operation: 'list', path: Buffer.from('d'), options: { recursive: true, maxDepth: 8, maxEntries: 5 } }))).code, 'ETOOBIG');
      assert.equal((await failure(remote(ctx(), { operation: 'list', path: Buffer.from('missing'), options: { recursive: false, maxDepth: 1, maxEntries: 5 } }))).code, 'ENOENT');
      assert.equal((await failure(remote(ctx(), { operation: 'list', path: Buffer.from('d/plain.txt'), options: { recursive: false, maxDepth: 1, maxEntries: 5 } }))).code, 'ENOTDIR');
    });

    it('stats a path (a symlink not followed), and answers an empty result for a missing one', async () => {
      const link = await remote(ctx(), { operation: 'stat', path: Buffer.from('d/link') });
      assert.deepEqual(link.entries, oracle(home, 'd', 1, userland.symlinkTimes).filter((entry) => entry.path === 'd/link'));
      const newline = await remote(ctx(), { operation: 'stat', path: Buffer.from('d/new\nline') });
      assert.equal(newline.entries?.[0]?.name, 'new\nline');
      assert.deepEqual((await remote(ctx(), { operation: 'stat', path: Buffer.from('d/none') })).entries, []);
    });

    it('mkdir, chmod, rename, delete and rmdir several paths in one command, with per-path outcomes and codes', async () => {
      const provider = localShellProvider(shell, home);
      const c = context(provider, { transport: 'scp' });
      const made = await remote(c, { operation: 'mkdir', paths: [Buffer.from('w/a/b'), Buffer.from('w/x\ny'), Buffer.from('w/a')], parents: true });
      assert.deepEqual(made.outcomes?.map((o) => ('done' in o ? o.done : o.error.code)), ['created', 'created', 'existed']);
      assert.equal(provider.commands.length, 1, 'one command for three paths');
      await fs.writeFile(join(home, 'w', 'f1'), '1');
      await fs.writeFile(join(home, 'w', 'f2'), '2');
      await remote(c, { operation: 'chmod', paths: [Buffer.from('w/f1'), Buffer.from('w/f2')], mode: 0o600 });
      assert.equal(lstatSync(join(home, 'w', 'f1')).mode & 0o7777, 0o600);
      const clash = await failure(remote(c, { operation: 'rename', pairs: [{ from: Buffer.from('w/f1'), to: Buffer.from('w/f2') }], overwrite: false }));
      assert.equal(clash.code, 'EEXIST');
      assert.equal(await fs.readFile(join(home, 'w', 'f2'), 'utf8'), '2', 'not replaced');
      const moved = await remote(c, { operation: 'rename', pairs: [{ from: Buffer.from('w/f1'), to: Buffer.from('w/f2') }], overwrite: true });
      assert.deepEqual(moved.outcomes?.map((o) => ('done' in o ? o.done : o.error.code)), ['renamed']);
      assert.equal(await fs.readFile(join(home, 'w', 'f2'), 'utf8'), '1');
      const partial = await failure(remote(c, { operation: 'delete', paths: [Buffer.from('w/f2'), Buffer.from('w/a'), Buffer.from('w/none')] }));
      assert.equal(partial.code, 'EISDIR', partial.message);
      assert.deepEqual(
        (partial.outcomes as { done?: string; error?: { code: string } }[]).map((o) => o.done ?? o.error?.code),
        ['deleted', 'EISDIR', 'ENOENT'],
      );
      const rmdir = await failure(remote(c, { operation: 'rmdir', paths: [Buffer.from('w/a/b'), Buffer.from('w/x\ny'), Buffer.from('w')] }));
      assert.deepEqual((rmdir.outcomes as { done?: string; error?: { code: string } }[]).map((o) => o.done ?? o.error?.code), ['removed', 'removed', 'EEXIST']);
    });
  });
}
