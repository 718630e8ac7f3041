/** Upload rows of the conformance table: what lands on the server, and what the job says. */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { upload } from '../../src/transfer';
import { runAsUser } from '../harness';
import type { Outcome } from './outcome';
import { abortingAtOneMiB, AUTO_OVER_SCP, AUTO_OVER_SFTP, failsWith, names, type Row, type RowEnv, succeeds, uploadRequest } from './row';

const MTIME = 1_600_000_000;

/**
 * The local tree the upload rows send (the shape of test/transfer/tree-support's, with content that is
 * the same for both transports): tree/{a.bin 0640, empty.txt 0600, run.sh 0755, nested/ 0750 {b.txt 0604,
 * deeper/ 0700 {c.bin}}, empty/}.
 */
async function makeLocalTree(root: string): Promise<void> {
  const at = (rel: string): string => join(root, 'tree', rel);
  await fs.mkdir(at('nested/deeper'), { recursive: true });
  await fs.mkdir(at('empty'));
  const put = async (rel: string, data: Buffer, mode: number): Promise<void> => {
    await fs.writeFile(at(rel), data);
    await fs.chmod(at(rel), mode);
    await fs.utimes(at(rel), MTIME + 10, MTIME);
  };
  await put('a.bin', Buffer.alloc(100_000, 'a'), 0o640);
  await put('empty.txt', Buffer.alloc(0), 0o600);
  await put('run.sh', Buffer.from('#!/bin/sh\necho hi\n'), 0o755);
  await put('nested/b.txt', Buffer.from('bee'), 0o604);
  await put('nested/deeper/c.bin', Buffer.alloc(3000, 'c'), 0o644);
  await fs.chmod(at('nested/deeper'), 0o700);
  await fs.chmod(at('nested'), 0o750);
  for (const dir of ['nested/deeper', 'nested', 'empty', '']) await fs.utimes(at(dir), MTIME + 20, MTIME + 5);
}

/** A row's setup: the local tree, then `command` in the remote folder (what stands in the tree's way there). */
function localTreeAnd(command: string): (env: RowEnv) => Promise<void> {
  return async (env) => {
    await makeLocalTree(env.source);
    await env.sh(command);
  };
}

const buffer = (text: string, name?: string) => ({ kind: 'buffer' as const, data: Buffer.from(text), ...(name ? { name } : {}) });
const tree = (env: RowEnv) => ({ kind: 'path' as const, path: join(env.source, 'tree') });
const TREE_FILES = ['tree/a.bin', 'tree/empty.txt', 'tree/nested/b.txt', 'tree/nested/deeper/c.bin', 'tree/run.sh'];

function remoteNames(outcome: Outcome): string[] {
  return names(outcome.remote);
}

/** The expectation of a row that succeeds and leaves exactly `expected` in the remote folder. */
function leavesRemote(...expected: string[]): (outcome: Outcome) => void {
  return (outcome) => {
    succeeds(outcome);
    assert.deepEqual(remoteNames(outcome), expected);
  };
}

/** A name with a newline, sent into a directory: the listing shows it escaped. */
function newlineNameRow(atomic: boolean): Row {
  return {
    name: `upload: a name with a newline (into a directory, ${atomic ? '' : 'not '}atomic)`,
    auto: AUTO_OVER_SFTP,
    act: (env) => upload(env.ctx(), uploadRequest(env.remote.relative, [buffer('nl', 'two\nlines.txt')], atomic ? {} : { atomic: false })),
    expect: leavesRemote('two\\nlines.txt'),
  };
}

/** An existing remote file "old.txt" (0600, "old") for the overwrite rows. */
async function oldFile(env: RowEnv): Promise<void> {
  await env.sh("printf old > old.txt && chmod 600 old.txt");
}

function overwriteRow(overwrite: 'overwrite' | 'skip' | 'fail', atomic: boolean, expect: (outcome: Outcome) => void): Row {
  return {
    name: `upload: overwrite "${overwrite}" onto an existing 0600 file (atomic ${atomic})`,
    auto: AUTO_OVER_SFTP,
    setup: oldFile,
    act: (env) => upload(env.ctx(), uploadRequest(`${env.remote.relative}/old.txt`, [buffer('new content')], { overwrite, atomic })),
    expect,
  };
}

export const UPLOAD_ROWS: Row[] = [
  {
    name: 'upload: one buffer to a new file name',
    auto: AUTO_OVER_SFTP,
    act: (env) => upload(env.ctx(), uploadRequest(`${env.remote.relative}/one.txt`, [buffer('one')])),
    expect: leavesRemote('one.txt'),
  },
  {
    name: 'upload: one named buffer into an existing directory',
    auto: AUTO_OVER_SFTP,
    act: (env) => upload(env.ctx(), uploadRequest(env.remote.relative, [buffer('named', 'named.txt')], { atomic: false })),
    expect: leavesRemote('named.txt'),
  },
  {
    name: 'upload: a local tree, preserve (modes and times), overwrite "fail"',
    auto: AUTO_OVER_SCP,
    times: true,
    setup: (env) => makeLocalTree(env.source),
    act: (env) => upload(env.ctx(), uploadRequest(env.remote.relative, [tree(env)], { preserve: true, overwrite: 'fail' })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(remoteNames(outcome), ['tree', ...TREE_FILES, 'tree/empty', 'tree/nested', 'tree/nested/deeper'].sort());
    },
  },
  {
    name: 'upload: a local tree without preserve, not atomic',
    setup: (env) => makeLocalTree(env.source),
    act: (env) => upload(env.ctx(), uploadRequest(env.remote.relative, [tree(env)], { atomic: false })),
    expect: succeeds,
  },
  overwriteRow('overwrite', true, succeeds),
  overwriteRow('overwrite', false, succeeds),
  overwriteRow('skip', true, (outcome) => {
    succeeds(outcome);
    assert.match(outcome.result?.files[0] ?? '', / skipped /);
  }),
  overwriteRow('fail', true, failsWith('EEXIST', '<remote>/old.txt')),
  overwriteRow('fail', false, failsWith('EEXIST', '<remote>/old.txt')),
  {
    name: 'upload: a tree with overwrite "fail" where one file exists: EEXIST before anything is sent',
    setup: localTreeAnd('mkdir -p tree/nested && printf old > tree/nested/b.txt'),
    act: (env) => upload(env.ctx(), uploadRequest(env.remote.relative, [tree(env)], { overwrite: 'fail' })),
    expect: failsWith('EEXIST', '<remote>/tree/nested/b.txt'),
  },
  {
    name: 'upload: atomic placement leaves no temporary name and replaces in one step',
    auto: AUTO_OVER_SFTP,
    setup: async (env) => {
      await env.sh('printf old > placed.txt && ln placed.txt hardlink.txt');
    },
    // With atomic placement the old inode is replaced (the hard link keeps the old content).
    act: (env) => upload(env.ctx(), uploadRequest(`${env.remote.relative}/placed.txt`, [buffer('new')])),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(remoteNames(outcome), ['hardlink.txt', 'placed.txt']);
      assert.notEqual(outcome.remote[0].split(' ')[3], outcome.remote[1].split(' ')[3], 'the link keeps the old content');
    },
  },
  {
    name: 'upload: target is a directory (a directory in the way of the file)',
    auto: AUTO_OVER_SFTP,
    setup: (env) => env.sh('mkdir -p x.txt/inner'),
    act: (env) => upload(env.ctx(), uploadRequest(env.remote.relative, [buffer('x', 'x.txt')])),
    expect: failsWith('EISDIR', '<remote>/x.txt'),
  },
  {
    name: 'upload: a file in the way of a directory of the tree',
    setup: localTreeAnd('mkdir tree && printf file > tree/nested'),
    act: (env) => upload(env.ctx(), uploadRequest(env.remote.relative, [tree(env)])),
    expect: failsWith('ENOTDIR', '<remote>/tree/nested'),
  },
  {
    name: 'upload: missing remote directory',
    auto: AUTO_OVER_SFTP,
    act: (env) => upload(env.ctx(), uploadRequest(`${env.remote.relative}/missing/x.txt`, [buffer('x')])),
    expect: failsWith('ENOENT', '<remote>/missing'),
  },
  {
    name: 'upload: missing local source',
    act: (env) => upload(env.ctx(), uploadRequest(env.remote.relative, [{ kind: 'path', path: join(env.source, 'nothing-here') }])),
    expect: failsWith('ENOENT'),
  },
  {
    name: 'upload: permission denied at the target directory (0555)',
    auto: AUTO_OVER_SFTP,
    setup: (env) => env.sh('mkdir ro && chmod 555 ro'),
    act: (env) => upload(env.ctx(), uploadRequest(`${env.remote.relative}/ro`, [buffer('x', 'x.txt')])),
    restore: (env) => env.sh('chmod 755 ro'),
    expect: failsWith('EACCES', '<remote>/ro'),
  },
  {
    // The case: SCP left only empty directories, SFTP six finished files.
    name: 'upload: permission denied mid-tree (an existing read-only subdirectory)',
    setup: localTreeAnd('mkdir -p tree/nested && chmod 555 tree/nested'),
    act: (env) => upload(env.ctx(), uploadRequest(env.remote.relative, [tree(env)])),
    restore: (env) => env.sh('chmod 755 tree/nested'),
    expect: (outcome) => {
      failsWith('EACCES', '<remote>/tree/nested')(outcome);
      // What could be written before the failure is there, finished (the walk goes in name order).
      assert.ok(remoteNames(outcome).includes('tree/a.bin'), outcome.remote.join('\n'));
    },
  },
  {
    name: 'upload: disk full on the server (a small tmpfs)',
    auto: AUTO_OVER_SCP,
    needsRoot: true,
    setup: async (env) => {
      const owner = (await runAsUser(env.server, 'echo "$(id -u):$(id -g)"')).stdout.toString().trim();
      await env.sh('mkdir full');
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=262144,mode=0755', 'tmpfs', `${env.remote.absolute}/full`]);
      execFileSync('chown', [owner, `${env.remote.absolute}/full`]);
    },
    act: (env) => upload(env.ctx(), uploadRequest(`${env.remote.relative}/full/big.bin`, [{ kind: 'buffer', data: Buffer.alloc(2 * 1024 * 1024, 7) }])),
    cleanup: async (env) => void execFileSync('umount', ['-l', `${env.remote.absolute}/full`]),
    expect: (outcome) => {
      failsWith('ENOSPC', '<remote>/full/big.bin')(outcome);
      assert.deepEqual(remoteNames(outcome), ['full']);
    },
  },
  {
    name: 'upload: a remote name that is not UTF-8',
    auto: AUTO_OVER_SCP,
    act: (env) =>
      upload(env.ctx(), {
        ...uploadRequest('', [buffer('latin1')]),
        remotePathBytes: Buffer.concat([Buffer.from(`${env.remote.relative}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]),
      }),
    expect: () => undefined,
    protocolDifference: {
      why: "ssh2's SFTP client sends paths as UTF-8 text: a name that is not UTF-8 travels over SCP only (the help says so)",
      check: (scp, sftp) => {
        succeeds(scp);
        assert.deepEqual(remoteNames(scp), ['0x636166e92e747874']);
        failsWith('EINVAL', 'UTF-8', '<remote>/caf\\xe9.txt')(sftp);
        assert.deepEqual(sftp.remote, []);
      },
    },
  },
  {
    // Neither transport expands a leading "~" (OpenSSH's scp and sftp-server take it as a name): with an
    // expansion the file would land in the row's folder in the home directory.
    name: 'upload: a path that starts with "~/" names a directory called "~"',
    auto: AUTO_OVER_SFTP,
    act: (env) => upload(env.ctx(), uploadRequest(`~/${env.remote.relative}/x.txt`, [buffer('x')])),
    expect: (outcome) => {
      failsWith('ENOENT')(outcome);
      assert.deepEqual(outcome.remote, []);
    },
  },
  newlineNameRow(true),
  newlineNameRow(false),
  {
    name: 'upload: abort mid-transfer (AbortSignal): EABORTED, nothing left',
    auto: AUTO_OVER_SCP,
    act: (env) => upload(abortingAtOneMiB(env), uploadRequest(env.remote.relative, [{ kind: 'buffer', data: Buffer.alloc(16 * 1024 * 1024, 3), name: 'big.bin' }])),
    expect: (outcome) => {
      failsWith('EABORTED')(outcome);
      assert.deepEqual(remoteNames(outcome), []);
    },
  },
];
