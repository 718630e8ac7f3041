/**
 * Rows of issue 16: scheduled pulls in every combination (target × glob/tree × only new × after-action;
 * the table runs each over SCP and SFTP), and a local upload source that changes while it is sent.
 * "payload" is the node's several-files-into-msg.payload download (src/transfer/local/into-memory.ts):
 * its second only-new pull with an unchanged file failed with ENOENT in its scratch folder.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { download, downloadSeveralIntoMemory, upload, type AfterAction, type DownloadRequest, type ProgressEvent, type PullRecord, type TransferResult } from '../../src/transfer';
import { isRoot } from '../harness';
import { sq } from '../transfer/support';
import type { Outcome } from './outcome';
import { AUTO_OVER_SFTP, downloadRequest, failsWith, names, type Row, type RowEnv, succeeds, uploadRequest } from './row';

type Target = 'payload' | 'directory';
type Selection = 'glob' | 'tree';
type After = AfterAction['kind'];

/** in/{a.log, b.log, c.txt} for a glob (`in/*.log`), tree/{a.log, sub/b.log} for a tree; times fixed. */
async function remoteFiles(env: RowEnv, selection: Selection): Promise<void> {
  const files = selection === 'glob' ? 'mkdir in && printf alpha > in/a.log && printf beta > in/b.log && printf other > in/c.txt' : 'mkdir -p tree/sub && printf alpha > tree/a.log && printf beta > tree/sub/b.log';
  await env.sh(`${files} && find . -type f -exec touch -d @1600000000 {} +`);
}

const CHANGED = { glob: 'in/b.log', tree: 'tree/sub/b.log' } as const;
const SELECTED = { glob: ['in/a.log', 'in/b.log'], tree: ['tree/a.log', 'tree/sub/b.log'] } as const;

function memoryRecord(): PullRecord {
  const entries = new Map<string, { size: number; mtime: number }>();
  return { get: (path) => entries.get(path), set: (path, seen) => entries.set(path, seen) };
}

function pullRequest(env: RowEnv, selection: Selection, after: After, record: PullRecord | undefined): DownloadRequest {
  const afterAction: AfterAction = after === 'move' ? { kind: 'move', directory: `${env.remote.relative}/done` } : { kind: after };
  return downloadRequest(env, selection === 'glob' ? `${env.remote.relative}/in/*.log` : `${env.remote.relative}/tree`, {
    glob: selection === 'glob',
    recursive: selection === 'tree',
    afterAction,
    ...(record ? { onlyChanged: { record } } : {}),
  });
}

function pull(env: RowEnv, target: Target, request: DownloadRequest): Promise<TransferResult> {
  return target === 'payload' ? downloadSeveralIntoMemory(env.ctx(), request) : download(env.ctx(), request);
}

/** The word of each file in the result: sent (with what the after-action did) or skipped unchanged. */
function fates(outcome: Outcome): string[] {
  return (outcome.result?.files ?? []).map((file) => {
    const words = file.split(' ');
    const name = words[0].replace('<remote>/', '');
    return [name, ...words.filter((word) => ['sent', 'skipped', 'unchanged', 'removed'].includes(word) || word.startsWith('movedTo=') || word.startsWith('afterError='))].join(' ');
  });
}

function comboRow(target: Target, selection: Selection, onlyNew: boolean, after: After): Row {
  return {
    name: `pull: ${target} × ${selection} × ${onlyNew ? 'only new (second pull, one file unchanged)' : 'every file'} × after ${after}`,
    setup: async (env) => {
      await remoteFiles(env, selection);
      if (!onlyNew) return;
      const record = memoryRecord();
      env.memo.record = record;
      // The first pull keeps the remote files (its after-action is not the row's); then one file grows.
      await pull(env, target, pullRequest(env, selection, 'keep', record));
      await env.sh(`printf ' more' >> ${CHANGED[selection]} && touch -d @1600000100 ${CHANGED[selection]}`);
    },
    act: (env) => pull(env, target, pullRequest(env, selection, after, env.memo.record as PullRecord | undefined)),
    expect: (outcome) => {
      succeeds(outcome);
      const fetched = onlyNew ? [CHANGED[selection]] : [...SELECTED[selection]];
      const base = (path: string): string => path.split('/').pop() ?? path;
      const afterWord = (path: string): string[] => (after === 'delete' ? ['removed'] : after === 'move' ? [`movedTo=<remote>/done/${base(path)}`] : []);
      assert.deepEqual(
        fates(outcome),
        SELECTED[selection].map((path) => (fetched.includes(path) ? [path, 'sent', ...afterWord(path)] : [path, 'skipped', 'unchanged']).join(' ')),
      );
      // What stays on the server: every file not fetched; a fetched one only with keep (or moved into done/).
      const remoteFilesLeft = names(outcome.remote).filter((name) => /\.(log|txt)$/u.test(name));
      const expectedRemote = [
        ...(selection === 'glob' ? ['in/c.txt'] : []),
        ...SELECTED[selection].filter((path) => after === 'keep' || !fetched.includes(path)),
        ...(after === 'move' ? fetched.map((path) => `done/${base(path)}`) : []),
      ].sort();
      assert.deepEqual(remoteFilesLeft, expectedRemote);
      // A payload carries the content of each fetched file and nothing lands on disk; a directory gets the files.
      if (target === 'payload') {
        assert.deepEqual(outcome.local, []);
        for (const file of outcome.result?.files ?? []) assert.equal(file.split(' ')[5] !== '-', file.includes(' sent'), file);
      } else {
        const local = names(outcome.local).filter((name) => name.endsWith('.log'));
        assert.deepEqual(local, SELECTED[selection].map((path) => (selection === 'glob' ? base(path) : path)).sort());
      }
    },
  };
}

const COMBINATIONS: Row[] = [];
for (const target of ['payload', 'directory'] as const) {
  for (const selection of ['glob', 'tree'] as const) {
    for (const onlyNew of [false, true]) {
      for (const after of ['keep', 'delete', 'move'] as const) COMBINATIONS.push(comboRow(target, selection, onlyNew, after));
    }
  }
}

const BIG = 8 * 1024 * 1024;

/** A local source whose size is not the one its stat gave: ECHANGED naming the local path, on both transports. */
const CHANGED_SOURCE_ROWS: Row[] = [
  {
    name: 'upload: a /proc file (stat says 0 bytes, it has more): ECHANGED naming the local path, nothing on the server',
    auto: AUTO_OVER_SFTP,
    act: (env) => upload(env.ctx(), uploadRequest(`${env.remote.relative}/status`, [{ kind: 'path', path: '/proc/self/stat' }])),
    expect: (outcome) => {
      failsWith('ECHANGED', '/proc/self/stat', 'changed while it was sent', 'more bytes than the 0')(outcome);
      assert.deepEqual(outcome.remote, []);
    },
  },
  {
    name: 'upload: a log appended to while it is sent: ECHANGED naming the local path, nothing at the final name',
    setup: async (env) => fs.writeFile(join(env.source, 'app.log'), Buffer.alloc(BIG, 0x61)),
    act: (env) => {
      let appended = false;
      const onProgress = (): void => {
        if (appended) return;
        appended = true;
        appendFileSync(join(env.source, 'app.log'), 'one more line\n');
      };
      return upload(env.ctx({ onProgress }), uploadRequest(env.remote.relative, [{ kind: 'path', path: join(env.source, 'app.log') }]));
    },
    expect: (outcome) => {
      failsWith('ECHANGED', '<source>/app.log', `more bytes than the ${BIG}`)(outcome);
      assert.deepEqual(outcome.remote, []);
    },
  },
];

/** Appends to a remote file as the server's user, synchronously (from inside a progress callback). */
function appendNow(env: RowEnv, file: string, text: string): void {
  const command = `printf %s ${sq(text)} >> ${sq(`${env.remote.absolute}/${file}`)}`;
  const runuser = ['/usr/sbin/runuser', '/sbin/runuser'].find((candidate) => existsSync(candidate));
  if (isRoot() && runuser) execFileSync(runuser, ['-u', env.server.username, '--', '/bin/sh', '-c', command]);
  else execFileSync('/bin/sh', ['-c', command]);
}

/** What a pull leaves alone while files are still being written, and claims, the same over both transports. */
const WRITTEN_ROWS: Row[] = [
  ...(['delete', 'move'] as const).map(
    (after): Row => ({
      name: `pull: a file that changed after its fetch is not ${after === 'delete' ? 'deleted' : 'moved'}: afterError ECHANGED, it stays`,
      setup: (env) => env.sh('mkdir in && printf first > in/a.log && printf quiet > in/b.log'),
      act: (env) => {
        let appended = false;
        const onProgress = (event: ProgressEvent): void => {
          if (appended || event.type !== 'fileEnd' || !event.path.endsWith('/a.log')) return;
          appended = true;
          appendNow(env, 'in/a.log', ' and more');
        };
        return download(env.ctx({ onProgress }), pullRequest(env, 'glob', after, undefined));
      },
      expect: (outcome) => {
        succeeds(outcome);
        assert.deepEqual(fates(outcome), ['in/a.log sent afterError=ECHANGED', `in/b.log sent ${after === 'delete' ? 'removed' : 'movedTo=<remote>/done/b.log'}`]);
        assert.deepEqual(names(outcome.remote).filter((name) => name.endsWith('.log')), after === 'delete' ? ['in/a.log'] : ['done/b.log', 'in/a.log']);
        assert.match(outcome.remote.find((entry) => entry.startsWith('in/a.log\t')) ?? '', /\tf \d+ 14 /u, 'the remote file keeps what was appended');
        assert.match(outcome.local.find((entry) => entry.startsWith('a.log\t')) ?? '', /\tf \d+ 5 /u, 'the local copy is what was fetched');
      },
    }),
  ),
  {
    name: 'pull: minimum age leaves a file modified just now; the old one is fetched and deleted',
    setup: (env) => env.sh('mkdir in && printf old > in/old.log && touch -d @1600000000 in/old.log && printf fresh > in/fresh.log'),
    act: (env) => download(env.ctx(), { ...pullRequest(env, 'glob', 'delete', undefined), settle: { minimumAgeSeconds: 3600 } }),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(fates(outcome), ['in/fresh.log skipped', 'in/old.log sent removed']);
      assert.ok(outcome.result?.files[0].includes('skipped'), String(outcome.result?.files));
      assert.deepEqual(names(outcome.remote).filter((name) => name.endsWith('.log')), ['in/fresh.log']);
    },
  },
  {
    name: 'pull: claim: files of a dead instance (stale claim folder) are put back and fetched; nothing stays claimed',
    setup: (env) => env.sh('mkdir -p in/.scp-claims/dead~1600000000~00ff && printf orphan > in/.scp-claims/dead~1600000000~00ff/old.log && printf new > in/new.log'),
    act: (env) => download(env.ctx(), { ...pullRequest(env, 'glob', 'delete', undefined), claim: { instance: 'this-one', timeoutSeconds: 600 } }),
    // (the table's normaliser reads the "scp" of the folder's name as the transport's name)
    vary: (outcome) => ({ ...outcome, remote: outcome.remote.map((entry) => entry.replace('.<transport>-claims', '.scp-claims')) }),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(fates(outcome), ['in/new.log sent removed', 'in/old.log sent removed']);
      assert.deepEqual(names(outcome.remote), ['in', 'in/.scp-claims']);
      assert.deepEqual(names(outcome.local), ['new.log', 'old.log']);
    },
  },
];

export const PULL_ROWS: Row[] = [...COMBINATIONS, ...CHANGED_SOURCE_ROWS, ...WRITTEN_ROWS];
