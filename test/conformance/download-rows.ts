/** Download rows of the conformance table: what lands on this machine, and what the job says. */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { download } from '../../src/transfer';
import { DEFAULT_LIMITS } from '../transfer/support';
import type { Outcome } from './outcome';
import { abortingAtOneMiB, AUTO_OVER_SCP, AUTO_OVER_SFTP, downloadRequest, failsWith, names, type Row, type RowEnv, succeeds } from './row';

/** A remote tree with known modes and times: tree/{a.txt 0640, run.sh 0755, nested/b.txt, nested/deeper/c.txt, empty/}. */
async function remoteTree(env: RowEnv): Promise<void> {
  await env.sh(
    [
      'mkdir -p tree/nested/deeper tree/empty',
      'printf alpha > tree/a.txt && chmod 640 tree/a.txt',
      'printf "#!/bin/sh\\n" > tree/run.sh && chmod 755 tree/run.sh',
      'printf bee > tree/nested/b.txt',
      "head -c 300000 /dev/zero | tr '\\0' z > tree/nested/deeper/c.txt",
      'chmod 750 tree/nested && chmod 700 tree/nested/deeper',
      'find tree -depth -exec touch -d @1600000000 {} +',
    ].join(' && '),
  );
}

const TREE = ['tree', 'tree/a.txt', 'tree/empty', 'tree/nested', 'tree/nested/b.txt', 'tree/nested/deeper', 'tree/nested/deeper/c.txt', 'tree/run.sh'];

function localNames(outcome: Outcome): string[] {
  return names(outcome.local);
}

/** An existing local file "old.txt" (0600, "old") and a remote "old.txt" ("new") for the overwrite rows. */
async function oldFiles(env: RowEnv): Promise<void> {
  await env.sh('printf new > old.txt');
  await fs.writeFile(join(env.local, 'old.txt'), 'old', { mode: 0o600 });
}

function overwriteRow(overwrite: 'overwrite' | 'skip' | 'fail', expect: (outcome: Outcome) => void): Row {
  return {
    name: `download: overwrite "${overwrite}" onto an existing local file`,
    auto: AUTO_OVER_SFTP,
    setup: oldFiles,
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/old.txt`, { overwrite })),
    expect,
  };
}

function limitRow(name: string, limits: Partial<typeof DEFAULT_LIMITS> & { maxDirectories?: number }, code = 'ETOOBIG'): Row {
  return {
    name: `download: limit ${name}`,
    setup: remoteTree,
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/tree`, { recursive: true, limits: { ...DEFAULT_LIMITS, ...limits } })),
    expect: failsWith(code),
  };
}

/** A recursive download of the remote tree with tree/`path` unreadable (mode 000) for the row, `mode` again after it. */
function unreadableInTreeRow(what: string, path: string, mode: number, expect: (outcome: Outcome) => void): Row {
  return {
    name: `download: permission denied mid-tree (${what})`,
    setup: async (env) => {
      await remoteTree(env);
      await env.sh(`chmod 000 tree/${path}`);
    },
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/tree`, { recursive: true })),
    restore: (env) => env.sh(`chmod ${mode.toString(8)} tree/${path}`),
    expect,
  };
}

/** Files for the glob rows; each holds its own name. */
const GLOB_FILES = ['log 1', 'log_1', 'logx1', '.hidden', '.also', 'a*b', 'axb', 'back\\slash', 'backslash', 'plain'];

function globRow(pattern: string, expected: string[]): Row {
  return {
    name: `download: glob ${JSON.stringify(pattern)}`,
    setup: (env) => env.sh(GLOB_FILES.map((file) => `printf %s '${file.replace(/'/g, `'\\''`)}' > '${file.replace(/'/g, `'\\''`)}'`).join(' && ')),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/${pattern}`, { glob: true, overwrite: 'fail' })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(localNames(outcome), expected);
    },
  };
}

export const DOWNLOAD_ROWS: Row[] = [
  {
    name: 'download: one file into a buffer',
    auto: AUTO_OVER_SFTP,
    setup: (env) => env.sh('printf buffered > one.txt'),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/one.txt`, { target: { kind: 'buffer', maxBytes: 100 } })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.equal(outcome.result?.bytes, 8);
    },
  },
  {
    name: 'download: one file into a directory, preserve',
    auto: AUTO_OVER_SFTP,
    times: true,
    setup: (env) => env.sh('printf kept > kept.txt && chmod 604 kept.txt && touch -d @1600000000 kept.txt'),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/kept.txt`, { preserve: true })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.equal(outcome.local.length, 1);
      assert.match(outcome.local[0], /^kept\.txt\tf 604 4 [0-9a-f]{12} 1600000000$/);
    },
  },
  {
    name: 'download: one file to a local file path',
    auto: AUTO_OVER_SFTP,
    setup: (env) => env.sh('printf named > src.txt'),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/src.txt`, { target: { kind: 'file', path: join(env.local, 'dst.txt') } })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(localNames(outcome), ['dst.txt']);
    },
  },
  {
    name: 'download: a tree, recursive, preserve',
    auto: AUTO_OVER_SCP,
    times: true,
    setup: remoteTree,
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/tree`, { recursive: true, preserve: true, overwrite: 'fail' })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(localNames(outcome), TREE);
    },
  },
  {
    name: 'download: a tree, recursive, without preserve',
    setup: remoteTree,
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/tree`, { recursive: true })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(localNames(outcome), TREE);
    },
  },
  overwriteRow('overwrite', succeeds),
  overwriteRow('skip', (outcome) => {
    succeeds(outcome);
    assert.match(outcome.result?.files[0] ?? '', / skipped /);
  }),
  overwriteRow('fail', failsWith('EEXIST', '<local>/old.txt')),
  limitRow('maxFileBytes', { maxFileBytes: 100_000 }),
  limitRow('maxTotalBytes', { maxTotalBytes: 100_000 }),
  limitRow('maxFiles', { maxFiles: 2 }),
  limitRow('maxDepth', { maxDepth: 1 }),
  limitRow('maxDirectories', { maxDirectories: 2 }),
  {
    name: 'download: limit of a buffer target (maxBytes)',
    auto: AUTO_OVER_SFTP,
    setup: (env) => env.sh('head -c 5000 /dev/zero > big.bin'),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/big.bin`, { target: { kind: 'buffer', maxBytes: 4999 } })),
    expect: failsWith('ETOOBIG', '<remote>/big.bin'),
  },
  {
    name: 'download: missing remote file',
    auto: AUTO_OVER_SCP,
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/missing.txt`)),
    expect: failsWith('ENOENT', '<remote>/missing.txt'),
  },
  {
    name: 'download: target is a directory (a remote directory without recursive)',
    auto: AUTO_OVER_SCP,
    setup: remoteTree,
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/tree`)),
    expect: failsWith('EISDIR', '<remote>/tree'),
  },
  {
    name: 'download: a local directory in the way of the file',
    auto: AUTO_OVER_SFTP,
    setup: async (env) => {
      await env.sh('printf x > x.txt');
      await fs.mkdir(join(env.local, 'x.txt', 'inner'), { recursive: true });
    },
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/x.txt`)),
    expect: failsWith('EISDIR', '<local>/x.txt'),
  },
  {
    name: 'download: permission denied on the file',
    auto: AUTO_OVER_SFTP,
    setup: (env) => env.sh('printf secret > secret.txt && chmod 000 secret.txt'),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/secret.txt`)),
    restore: (env) => env.sh('chmod 644 secret.txt'),
    expect: (outcome) => {
      failsWith('EACCES', '<remote>/secret.txt')(outcome);
      assert.deepEqual(outcome.local, []);
    },
  },
  unreadableInTreeRow('an unreadable subdirectory', 'nested', 0o750, (outcome) => {
    failsWith('EACCES', '<remote>/tree/nested')(outcome);
    assert.ok(localNames(outcome).includes('tree/a.txt'), outcome.local.join('\n'));
  }),
  unreadableInTreeRow('an unreadable file', 'nested/b.txt', 0o644, failsWith('EACCES', '<remote>/tree/nested/b.txt')),
  {
    name: 'download: disk full on this machine (a small tmpfs)',
    auto: AUTO_OVER_SCP,
    needsRoot: true,
    setup: async (env) => {
      await env.sh('head -c 2097152 /dev/zero > big.bin');
      await fs.mkdir(join(env.local, 'full'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=262144,mode=0755', 'tmpfs', join(env.local, 'full')]);
    },
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/big.bin`, { target: { kind: 'directory', path: join(env.local, 'full') } })),
    cleanup: async (env) => void execFileSync('umount', ['-l', join(env.local, 'full')]),
    expect: (outcome) => {
      failsWith('ENOSPC', '<local>/full/big.bin')(outcome);
      assert.deepEqual(outcome.local.map((entry) => entry.split('\t')[0]), ['full']);
    },
  },
  {
    name: 'download: a remote name that is not UTF-8, inside a tree',
    auto: AUTO_OVER_SCP,
    setup: (env) => env.sh("mkdir d && printf latin1 > \"d/caf$(printf '\\351').txt\" && printf ok > d/ok.txt"),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/d`, { recursive: true })),
    expect: () => undefined,
    protocolDifference: {
      why:
        'an SCP record brings one name at a time (what came before the bad name is kept); an SFTP listing is checked whole before anything ' +
        "from it is fetched (the hostile-listing guarantee), and ssh2's SFTP client decodes names as UTF-8 (the bad byte shows as U+FFFD)",
      check: (scp, sftp) => {
        for (const side of [scp, sftp]) {
          failsWith('EPROTO', 'not valid UTF-8', '<remote>/d')(side);
          assert.ok(!side.local.some((entry) => entry.startsWith('d/0x')), 'the bad name never becomes a local file');
        }
        assert.ok(scp.error?.message.includes('caf\\xe9.txt'), scp.error?.message);
        assert.deepEqual(sftp.local.filter((entry) => entry.includes('\tf ')), [], 'nothing of the listing is fetched over SFTP');
      },
    },
  },
  {
    name: 'download: abort mid-transfer (AbortSignal): EABORTED, nothing left',
    auto: AUTO_OVER_SCP,
    setup: (env) => env.sh('head -c 33554432 /dev/zero > big.bin'),
    act: (env) => download(abortingAtOneMiB(env), downloadRequest(env, `${env.remote.relative}/big.bin`)),
    expect: (outcome) => {
      failsWith('EABORTED')(outcome);
      assert.deepEqual(outcome.local, []);
    },
  },
  // Issue 8: `log[ _]1` failed over SCP and worked over SFTP; `.*` failed over SCP with EISDIR (`.` and `..`);
  // backslashes differed. One glob engine (src/glob.ts) now serves both.
  globRow('log[ _]1', ['log 1', 'log_1']),
  globRow('.*', ['.also', '.hidden']),
  globRow('log?1', ['log 1', 'log_1', 'logx1']),
  globRow('a\\*b', ['a*b']),
  globRow('back\\\\slash', ['back\\\\slash']),
  globRow('back\\slash', ['backslash']),
  {
    name: 'download: a single file whose name holds a newline',
    auto: { like: 'sftp', via: 'sftp' },
    setup: (env) => env.sh("printf nl > 'two\nlines.txt'"),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/two\nlines.txt`)),
    expect: () => undefined,
    protocolDifference: {
      why: 'an SCP record is one line: a name with a newline cannot be named in it (the help says to use SFTP)',
      check: (scp, sftp) => {
        failsWith('EINVAL', 'newline')(scp);
        assert.deepEqual(scp.local, []);
        succeeds(sftp);
        assert.deepEqual(localNames(sftp), ['two\\nlines.txt']);
      },
    },
  },
  {
    name: 'download: a glob that matches a name with a newline',
    // Right: SFTP fetches it under its own name (as a single-file download does); SCP cannot name it in a
    // record and fails with EINVAL naming it, never writing it under another name. Today OpenSSH's scp sends
    // the name vis-encoded ("two\\^Jlines.txt") and it lands under that name; SFTP refuses the listed name.
    awaits: 'names with a newline in a glob or tree: decoding the name OpenSSH scp vis-encodes, and letting SFTP listings carry it',
    setup: (env) => env.sh("printf nl > 'two\nlines.txt' && printf ok > 'one.txt'"),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/*.txt`, { glob: true })),
    expect: () => undefined,
    protocolDifference: {
      why: 'an SCP record is one line: a name with a newline cannot be named in it',
      check: (scp, sftp) => {
        failsWith('EINVAL', 'newline')(scp);
        assert.ok(!scp.local.some((entry) => entry.startsWith('two')), 'never under another name');
        succeeds(sftp);
        assert.deepEqual(localNames(sftp), ['one.txt', 'two\\nlines.txt']);
      },
    },
  },
  {
    name: 'download: one file by its name, then delete it',
    auto: AUTO_OVER_SFTP,
    setup: (env) => env.sh('printf one > a.log && printf stays > b.log'),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/a.log`, { afterAction: { kind: 'delete' } })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(localNames(outcome), ['a.log']);
      assert.deepEqual(names(outcome.remote), ['b.log']);
      assert.ok(outcome.result?.files[0]?.endsWith(' removed'), String(outcome.result?.files));
    },
  },
  {
    name: 'download: one file by its name, then move it where the name is taken (a suffix)',
    auto: AUTO_OVER_SFTP,
    setup: (env) => env.sh('mkdir done && printf new > a.log && printf old > done/a.log'),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/a.log`, { afterAction: { kind: 'move', directory: `${env.remote.relative}/done` } })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(names(outcome.remote), ['done', 'done/a.log', 'done/a.log.1']);
      assert.deepEqual(outcome.result?.files.map((file) => file.split(' ').pop()), ['movedTo=<remote>/done/a.log.1']);
    },
  },
  {
    // Neither transport expands a leading "~" (OpenSSH's scp and sftp-server take it as a name): with an
    // expansion the file would be found in the home directory.
    name: 'download: a path that starts with "~/" names a directory called "~"',
    auto: AUTO_OVER_SCP,
    setup: (env) => env.sh('printf here > f.txt'),
    act: (env) => download(env.ctx(), downloadRequest(env, `~/${env.remote.relative}/f.txt`)),
    expect: (outcome) => {
      failsWith('ENOENT')(outcome);
      assert.deepEqual(outcome.local, []);
    },
  },
  {
    name: 'download: a glob, then delete each remote file fetched',
    auto: AUTO_OVER_SCP,
    setup: (env) => env.sh('printf one > a.log && printf two > b.log && printf stays > c.txt'),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/*.log`, { glob: true, afterAction: { kind: 'delete' } })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(localNames(outcome), ['a.log', 'b.log']);
      assert.deepEqual(names(outcome.remote), ['c.txt']);
      assert.ok(outcome.result?.files.every((file) => file.endsWith(' removed')), String(outcome.result?.files));
    },
  },
  {
    name: 'download: a glob, then move each remote file into a new directory (a taken name gets a suffix)',
    setup: (env) => env.sh('mkdir -p in done && printf new > in/a.log && printf b > in/b.log && printf old > done/a.log'),
    act: (env) =>
      download(env.ctx(), downloadRequest(env, `${env.remote.relative}/in/*.log`, { glob: true, afterAction: { kind: 'move', directory: `${env.remote.relative}/done/more` } })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(names(outcome.remote), ['done', 'done/a.log', 'done/more', 'done/more/a.log', 'done/more/b.log', 'in']);
      assert.deepEqual(
        outcome.result?.files.map((file) => file.split(' ').pop()),
        ['movedTo=<remote>/done/more/a.log', 'movedTo=<remote>/done/more/b.log'],
      );
    },
  },
  {
    name: 'download: a glob, move where the name is taken: a suffix, never overwriting',
    setup: (env) => env.sh('mkdir -p in done && printf new > in/a.log && printf old > done/a.log && printf older > done/a.log.1'),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/in/*.log`, { glob: true, afterAction: { kind: 'move', directory: `${env.remote.relative}/done` } })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(names(outcome.remote), ['done', 'done/a.log', 'done/a.log.1', 'done/a.log.2', 'in']);
      assert.deepEqual(outcome.result?.files.map((file) => file.split(' ').pop()), ['movedTo=<remote>/done/a.log.2']);
    },
  },
  {
    name: 'download: delete refused by the server: the job fails with its code, the local copy stays',
    setup: (env) => env.sh('mkdir ro && printf data > ro/x.log && chmod 555 ro'),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/ro/*.log`, { glob: true, afterAction: { kind: 'delete' } })),
    restore: (env) => env.sh('chmod 755 ro'),
    expect: (outcome) => {
      failsWith('EACCES', 'x.log')(outcome);
      assert.deepEqual(localNames(outcome), ['x.log']);
      assert.deepEqual(names(outcome.remote), ['ro', 'ro/x.log']);
    },
  },
  {
    name: 'download: only new or changed files (the local copy, preserved, decides)',
    times: true,
    setup: async (env) => {
      await env.sh('printf same > same.log && printf grows > grows.log && touch -d @1600000000 same.log grows.log');
      await download(env.ctx(), downloadRequest(env, `${env.remote.relative}/*.log`, { glob: true, preserve: true }));
      await env.sh('printf more >> grows.log && touch -d @1600000100 grows.log');
    },
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/*.log`, { glob: true, preserve: true, onlyChanged: {} })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(
        outcome.result?.files.map((file) => file.split(' ').filter((word) => word === 'sent' || word === 'skipped' || word === 'unchanged').join(' ')),
        ['sent', 'skipped unchanged'],
      );
      assert.deepEqual(outcome.local, outcome.remote);
    },
  },
];
