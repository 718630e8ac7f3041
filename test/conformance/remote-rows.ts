/**
 * The remote toolbox's rows of the conformance table (issue 16): every operation over SFTP requests and
 * over shell commands (transport "scp") against the real sshd, which must give the same entries, the
 * same per-path outcomes, the same error codes and summaries, and leave the same tree behind. Server
 * texts (the detail of an error) are the server's own words and differ by program; codes and summaries not.
 */
import * as assert from 'node:assert/strict';
import type { ChannelProvider } from '../../src/ssh/types';
import { remote, type RemoteEntry, type RemoteRequest, type RemoteResult } from '../../src/remote';
import type { TransportUsed } from '../../src/transfer';
import { TransferError } from '../../src/errors';
import { type SshdServer, makeServerDir } from '../harness';
import { useSharedPool } from '../transfer/support';
import { normalise, remoteView, showName, type Places } from './outcome';
import { envFor, type RowEnv } from './row';

export interface RemoteOutcome {
  entries?: string[];
  outcomes?: string[];
  error?: { code: string; summary: string; path: string };
  /** the row's remote directory afterwards */
  tree: string[];
}

export interface RemoteRow {
  name: string;
  setup?(env: RowEnv): Promise<void>;
  request(env: RowEnv): RemoteRequest;
  expect(outcome: RemoteOutcome): void;
}

/** Everything below the row's directory, dated 2020-09-13 (symlinks too): times compare across runs. */
const FIX_TIMES = 'find . -mindepth 1 -exec touch -h -d @1600000000 {} + ; touch -d @1600000000 .';

const B = (text: string): Buffer => Buffer.from(text);

function text(name: string | Buffer): string {
  return typeof name === 'string' ? showName(Buffer.from(name)) : `bytes:${name.toString('hex')}`;
}

function entryLine(entry: RemoteEntry, places: Places): string {
  return `${normalise(text(entry.path), places)}\t${entry.type} ${entry.size} ${entry.mode.toString(8)} ${entry.mtime ?? '-'}`;
}

async function runRow(row: RemoteRow, transport: TransportUsed, server: SshdServer, channels: ChannelProvider): Promise<RemoteOutcome> {
  const dir = await makeServerDir(server, `remote-${transport}`);
  const env = envFor({ transport, server, channels, remote: dir, local: '', source: '' });
  const places: Places = { remoteAbsolute: dir.absolute, remoteRelative: dir.relative, local: '\0', source: '\0', transport };
  await row.setup?.(env);
  const outcome: Omit<RemoteOutcome, 'tree'> = {};
  try {
    const result: RemoteResult = await remote(env.ctx({ transport }), row.request(env));
    if (result.entries) outcome.entries = result.entries.map((entry) => entryLine(entry, places));
    if (result.outcomes) outcome.outcomes = result.outcomes.map((o) => `${normalise(text(o.path), places)} ${'done' in o ? o.done : o.error.code}`);
  } catch (error) {
    if (!(error instanceof TransferError)) throw error;
    outcome.error = { code: error.code, summary: normalise(error.summary, places), path: normalise(error.path ?? '', places) };
    const outcomes = (error as { outcomes?: { path: string | Buffer; done?: string; error?: { code: string } }[] }).outcomes;
    if (outcomes) outcome.outcomes = outcomes.map((o) => `${normalise(text(o.path), places)} ${o.done ?? o.error?.code}`);
  }
  await env.sh('chmod -R u+rwx . 2>/dev/null; true');
  return { ...outcome, tree: (await remoteView(server, dir.relative, false)).map((line) => normalise(line, places)) };
}

const inDir = (env: RowEnv, path: string): Buffer => B(`${env.remote.relative}/${path}`);
const list = (env: RowEnv, path: string, options: Partial<Extract<RemoteRequest, { operation: 'list' }>['options']> = {}): RemoteRequest => ({
  operation: 'list',
  path: inDir(env, path),
  options: { recursive: false, maxDepth: 1, maxEntries: 1000, ...options },
});

function fails(code: string): (outcome: RemoteOutcome) => void {
  return (outcome) => assert.equal(outcome.error?.code, code, JSON.stringify(outcome));
}

function paths(lines: string[] | undefined): string[] {
  return (lines ?? []).map((line) => line.split('\t')[0] as string);
}

/** The job fails with `code`, each path's outcome as listed and, when given, `tree` left in the row's folder. */
function failsPerPath(code: string, outcomes: string[], tree?: string[]): (outcome: RemoteOutcome) => void {
  return (outcome) => {
    fails(code)(outcome);
    assert.deepEqual(outcome.outcomes, outcomes);
    if (tree) assert.deepEqual(paths(outcome.tree), tree);
  };
}

export const REMOTE_ROWS: RemoteRow[] = [
  {
    name: 'remote list: hostile names, a symlink, a dangling one, a dot file; types, sizes, modes, times',
    setup: (env) =>
      env.sh(
        `mkdir d d/sub && printf 12345 > d/a.txt && chmod 640 d/a.txt && printf x > 'd/new\nline' && printf y > "d/it's \\$(id)" && : > d/.hidden && ln -s a.txt d/link && ln -s nowhere d/dangling && mkfifo d/fifo && ${FIX_TIMES}`,
      ),
    request: (env) => list(env, 'd'),
    expect: (outcome) => {
      assert.deepEqual(outcome.entries, [
        "<remote>/d/.hidden\tfile 0 644 1600000000",
        "<remote>/d/a.txt\tfile 5 640 1600000000",
        "<remote>/d/dangling\tsymlink 7 777 1600000000",
        "<remote>/d/fifo\tother 0 644 1600000000",
        "<remote>/d/it's $(id)\tfile 1 644 1600000000",
        "<remote>/d/link\tsymlink 5 777 1600000000",
        "<remote>/d/new\\nline\tfile 1 644 1600000000",
        "<remote>/d/sub\tdirectory 4096 755 1600000000",
      ]);
    },
  },
  {
    name: 'remote list: recursive to a depth, glob, type, sort by mtime descending, limit',
    setup: (env) =>
      env.sh(
        'mkdir -p t/x/y t/z && printf 1 > t/a.log && printf 22 > t/x/b.log && printf 333 > t/x/y/c.log && printf 4444 > t/z/d.txt && ln -s x t/linkdir && ' +
          'touch -d @1600000100 t/a.log && touch -d @1600000300 t/x/b.log && touch -d @1600000200 t/x/y/c.log',
      ),
    request: (env) => list(env, 't', { recursive: true, maxDepth: 2, pattern: '*.log', types: ['file'], sort: { by: 'mtime', descending: true }, limit: 5 }),
    expect: (outcome) => assert.deepEqual(paths(outcome.entries), ['<remote>/t/x/b.log', '<remote>/t/a.log'], 'c.log is three levels down; never through linkdir'),
  },
  {
    name: 'remote list: minimum age keeps the old file only; sort by size ascending',
    setup: (env) => env.sh('mkdir m && printf 1 > m/old1 && printf 123 > m/old3 && touch -d @1600000000 m/old1 m/old3 && printf new > m/fresh'),
    request: (env) => list(env, 'm', { minAgeSeconds: 3600, sort: { by: 'size', descending: false } }),
    expect: (outcome) => assert.deepEqual(paths(outcome.entries), ['<remote>/m/old1', '<remote>/m/old3']),
  },
  { name: 'remote list: a missing directory is ENOENT', request: (env) => list(env, 'none'), expect: fails('ENOENT') },
  { name: 'remote list: a file is ENOTDIR', setup: (env) => env.sh(': > f'), request: (env) => list(env, 'f'), expect: fails('ENOTDIR') },
  {
    name: 'remote list: over the entry cap is ETOOBIG',
    setup: (env) => env.sh('mkdir many && cd many && for i in 1 2 3 4 5 6 7 8 9 10 11 12; do : > f$i; done'),
    request: (env) => list(env, 'many', { maxEntries: 10 }),
    expect: fails('ETOOBIG'),
  },
  {
    name: 'remote list: an unreadable subdirectory of a recursive listing is EACCES naming it',
    setup: (env) => env.sh('mkdir -p r/closed && : > r/closed/f && chmod 000 r/closed'),
    request: (env) => list(env, 'r', { recursive: true, maxDepth: 4 }),
    expect: (outcome) => {
      fails('EACCES')(outcome);
      assert.equal(outcome.error?.path, '<remote>/r/closed');
    },
  },
  {
    name: 'remote stat: a file, a symlink (not followed) and a missing path (no entry)',
    setup: (env) => env.sh(`printf abc > s && ln -s s sl && ${FIX_TIMES}`),
    request: (env) => ({ operation: 'stat', path: inDir(env, 'sl') }),
    expect: (outcome) => assert.deepEqual(outcome.entries, ['<remote>/sl\tsymlink 1 777 1600000000']),
  },
  { name: 'remote stat: missing is no entry, not an error', request: (env) => ({ operation: 'stat', path: inDir(env, 'none') }), expect: (outcome) => assert.deepEqual(outcome.entries, []) },
  {
    name: 'remote delete: a file, a symlink, a directory (EISDIR) and a missing path (ENOENT) in one message',
    setup: (env) => env.sh('printf 1 > f && ln -s f l && mkdir d'),
    request: (env) => ({ operation: 'delete', paths: [inDir(env, 'f'), inDir(env, 'l'), inDir(env, 'd'), inDir(env, 'none')] }),
    expect: failsPerPath('EISDIR', ['<remote>/f deleted', '<remote>/l deleted', '<remote>/d EISDIR', '<remote>/none ENOENT'], ['d']),
  },
  {
    name: 'remote delete: in a read-only directory is EACCES, the file stays',
    setup: (env) => env.sh('mkdir ro && : > ro/f && chmod 555 ro'),
    request: (env) => ({ operation: 'delete', paths: [inDir(env, 'ro/f')] }),
    expect: (outcome) => {
      fails('EACCES')(outcome);
      assert.ok(paths(outcome.tree).includes('ro/f'));
    },
  },
  {
    name: 'remote rename: never onto an existing name (EEXIST), never onto a directory (EISDIR), a missing source ENOENT',
    setup: (env) => env.sh('printf 1 > a && printf 2 > b && printf 3 > c && mkdir dir'),
    request: (env) => ({ operation: 'rename', pairs: [{ from: inDir(env, 'a'), to: inDir(env, 'b') }, { from: inDir(env, 'c'), to: inDir(env, 'dir') }, { from: inDir(env, 'none'), to: inDir(env, 'x') }], overwrite: false }),
    expect: failsPerPath('EEXIST', ['<remote>/a EEXIST', '<remote>/c EISDIR', '<remote>/none ENOENT'], ['a', 'b', 'c', 'dir']),
  },
  {
    name: 'remote rename: with overwrite replaces the file; a name with a newline moves into a directory',
    setup: (env) => env.sh("printf 1 > a && printf 2 > b && printf n > 'x\ny' && mkdir into"),
    request: (env) => ({ operation: 'rename', pairs: [{ from: inDir(env, 'a'), to: inDir(env, 'b') }, { from: inDir(env, 'x\ny'), to: inDir(env, 'into/x\ny') }], overwrite: true }),
    expect: (outcome) => {
      assert.deepEqual(outcome.outcomes, ['<remote>/a renamed', '<remote>/x\\ny renamed']);
      assert.deepEqual(paths(outcome.tree), ['b', 'into', 'into/x\\ny']);
    },
  },
  {
    name: 'remote mkdir: with parents, an existing directory (existed), a file in the way (EEXIST)',
    setup: (env) => env.sh('mkdir old && : > file'),
    request: (env) => ({ operation: 'mkdir', paths: [inDir(env, 'n/e/w'), inDir(env, 'old'), inDir(env, 'file')], parents: true }),
    expect: failsPerPath('EEXIST', ['<remote>/n/e/w created', '<remote>/old existed', '<remote>/file EEXIST'], ['file', 'n', 'n/e', 'n/e/w', 'old']),
  },
  {
    name: 'remote mkdir: without parents a missing parent is ENOENT; under a file ENOTDIR',
    setup: (env) => env.sh(': > file'),
    request: (env) => ({ operation: 'mkdir', paths: [inDir(env, 'no/parent'), inDir(env, 'file/sub')], parents: false }),
    expect: failsPerPath('ENOENT', ['<remote>/no/parent ENOENT', '<remote>/file/sub ENOTDIR']),
  },
  {
    name: 'remote rmdir: empty removed, not empty EEXIST, a file ENOTDIR, missing ENOENT',
    setup: (env) => env.sh('mkdir e full && : > full/f && : > file'),
    request: (env) => ({ operation: 'rmdir', paths: [inDir(env, 'e'), inDir(env, 'full'), inDir(env, 'file'), inDir(env, 'none')] }),
    expect: failsPerPath('EEXIST', ['<remote>/e removed', '<remote>/full EEXIST', '<remote>/file ENOTDIR', '<remote>/none ENOENT']),
  },
  {
    name: 'remote chmod: several paths (setuid kept), a missing one ENOENT',
    setup: (env) => env.sh(': > a && mkdir d'),
    request: (env) => ({ operation: 'chmod', paths: [inDir(env, 'a'), inDir(env, 'd'), inDir(env, 'none')], mode: 0o4750 }),
    expect: (outcome) => {
      fails('ENOENT')(outcome);
      assert.deepEqual(outcome.outcomes, ['<remote>/a changed', '<remote>/d changed', '<remote>/none ENOENT']);
      assert.ok(outcome.tree.some((line) => line.startsWith('a\tf 4750 ')), outcome.tree.join('\n'));
    },
  },
];

/** The remote rows as a describe block of their own (called from conformance.test.ts). */
export function describeRemoteRows(): void {
  describe('conformance: the remote toolbox, the same over SFTP requests and shell commands (real sshd)', function () {
    this.timeout(60_000);
    const shared = useSharedPool();
    for (const row of REMOTE_ROWS) {
      it(row.name, async () => {
        const outcomes = {} as Record<TransportUsed, RemoteOutcome>;
        for (const transport of ['scp', 'sftp'] as const) outcomes[transport] = await runRow(row, transport, shared.server, shared.channels);
        const problems: string[] = [];
        try {
          assert.deepEqual(outcomes.scp, outcomes.sftp);
        } catch (error) {
          problems.push(`shell commands (actual) and SFTP (expected) differ: ${(error as Error).message}`);
        }
        for (const transport of ['scp', 'sftp'] as const) {
          try {
            row.expect(outcomes[transport]);
          } catch (error) {
            problems.push(`${transport} breaks the row's expectation: ${(error as Error).message}`);
          }
        }
        if (problems.length > 0) throw new Error(`${row.name}\n${problems.join('\n\n')}\n${JSON.stringify(outcomes, null, 2)}`);
      });
    }
  });
}
