/**
 * Rows for the link options (issue 18): bandwidth limit, verify and resume, each with the targets it
 * meets (a payload, a local file, a tree; into memory, a file, a directory), over SCP and SFTP alike
 * (the table runs every row on both). Resume rows get a leftover journal of their own; the "kept part"
 * rows put a part and its journal record in place as a cut transfer leaves them.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { FileLeftoverJournal, download, upload } from '../../src/transfer';
import { resumeKey } from '../../src/transfer/link/resume/kept-parts';
import type { Outcome } from './outcome';
import { AUTO_OVER_SCP, AUTO_OVER_SFTP, downloadRequest, names, type Row, type RowEnv, succeeds, uploadRequest } from './row';

const LIMIT = { limitKiBps: 2048 };
const CONTENT = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));
const SHA = createHash('sha256').update(CONTENT).digest('hex');
const HALF = 150_000;
const PART = '.f.bin.scp-0123456789abcdef.part';

async function sourceFile(env: RowEnv): Promise<string> {
  const path = join(env.source, 'f.bin');
  await fs.writeFile(path, CONTENT);
  return path;
}

function journalOf(env: RowEnv): FileLeftoverJournal {
  return (env.memo.journal ??= new FileLeftoverJournal(join(env.source, 'journal'))) as FileLeftoverJournal;
}

function fileHas(outcome: Outcome, side: 'remote' | 'local', name: string, sha = SHA): void {
  const entry = outcome[side].find((line) => line.startsWith(`${name}\t`));
  assert.ok(entry?.includes(sha.slice(0, 12)), `${side} ${name} holds the content: ${outcome[side].join('\n')}`);
}

function noPart(outcome: Outcome): void {
  assert.deepEqual([...names(outcome.remote), ...names(outcome.local)].filter((name) => name.endsWith('.part')), []);
}

function everyFileVerified(outcome: Outcome): void {
  assert.ok(outcome.result?.files.every((line) => /sha256=[0-9a-f]{64}/u.test(line)), outcome.result?.files.join('\n'));
}

export const LINK_ROWS: Row[] = [
  {
    name: 'link: bandwidth limit, upload of a local file',
    auto: AUTO_OVER_SFTP,
    act: async (env) => upload(env.ctx(), uploadRequest(`${env.remote.relative}/f.bin`, [{ kind: 'path', path: await sourceFile(env) }], { link: LIMIT })),
    expect: (outcome) => {
      succeeds(outcome);
      fileHas(outcome, 'remote', 'f.bin');
    },
  },
  {
    name: 'link: bandwidth limit, download of a tree into a directory',
    setup: (env) => env.sh(`mkdir -p t/n && printf one > t/a && printf two > t/n/b`),
    act: (env) => download(env.ctx(), downloadRequest(env, `${env.remote.relative}/t`, { recursive: true, link: LIMIT })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.deepEqual(names(outcome.local), ['t', 't/a', 't/n', 't/n/b']);
    },
  },
  {
    name: 'link: verify, upload of a payload and of a tree',
    auto: AUTO_OVER_SCP,
    setup: async (env) => {
      await fs.mkdir(join(env.source, 'tree'));
      await fs.writeFile(join(env.source, 'tree', 'x'), 'x');
      await fs.writeFile(join(env.source, 'tree', 'y'), CONTENT);
    },
    act: (env) => upload(env.ctx(), uploadRequest(env.remote.relative, [{ kind: 'buffer', data: CONTENT, name: 'p.bin' }, { kind: 'path', path: join(env.source, 'tree') }], { link: { verify: true } })),
    expect: (outcome) => {
      succeeds(outcome);
      everyFileVerified(outcome);
      assert.equal(outcome.result?.files.length, 3);
      fileHas(outcome, 'remote', 'p.bin');
    },
  },
  {
    name: 'link: verify, download into memory, to a file and by a pattern into a directory',
    auto: AUTO_OVER_SCP,
    setup: (env) => env.sh(`head -c 1000 /dev/zero > a.log && printf b > b.log`),
    act: async (env) => {
      await download(env.ctx(), downloadRequest(env, `${env.remote.relative}/a.log`, { target: { kind: 'buffer', maxBytes: 2000 }, link: { verify: true } })).then(everyVerified);
      await download(env.ctx(), downloadRequest(env, `${env.remote.relative}/a.log`, { target: { kind: 'file', path: join(env.local, 'one.log') }, link: { verify: true } })).then(everyVerified);
      return download(env.ctx(), downloadRequest(env, `${env.remote.relative}/*.log`, { glob: true, link: { verify: true, limitKiBps: 4096 } }));
    },
    expect: (outcome) => {
      succeeds(outcome);
      everyFileVerified(outcome);
      assert.deepEqual(names(outcome.local), ['a.log', 'b.log', 'one.log']);
    },
  },
  {
    name: 'link: resume, upload of a local file with no kept part starts at 0 and leaves no part',
    act: async (env) => upload(env.ctx({ leftovers: journalOf(env) }), uploadRequest(`${env.remote.relative}/f.bin`, [{ kind: 'path', path: await sourceFile(env) }], { link: { resume: {}, verify: true, ...LIMIT } })),
    expect: (outcome) => {
      succeeds(outcome);
      assert.equal(outcome.result?.resumedFrom, 0);
      everyFileVerified(outcome);
      fileHas(outcome, 'remote', 'f.bin');
      noPart(outcome);
    },
  },
  {
    name: 'link: resume, upload continues a kept part on the server',
    auto: AUTO_OVER_SCP,
    setup: async (env) => {
      env.memo.path = await sourceFile(env);
      // The part as a cut upload leaves it: its first bytes on the server (put there plainly, not resumed)...
      await upload(env.ctx(), uploadRequest(`${env.remote.relative}/${PART}`, [{ kind: 'buffer', data: CONTENT.subarray(0, HALF) }], { atomic: false }));
    },
    act: async (env) => {
      const path = env.memo.path as string;
      const stats = await fs.stat(path);
      const remotePath = `${env.remote.relative}/f.bin`;
      // ...and recorded in the journal.
      await journalOf(env).record([{ path: Buffer.from(`${env.remote.relative}/${PART}`), kind: 'part', part: { key: resumeKey('upload', env.channels.label, resolve(path), Buffer.from(remotePath)), side: 'remote', size: stats.size, mtime: Math.floor(stats.mtimeMs), since: Date.now() } }]);
      return upload(env.ctx({ leftovers: journalOf(env) }), uploadRequest(remotePath, [{ kind: 'path', path }], { link: { resume: {} } }));
    },
    expect: (outcome) => {
      succeeds(outcome);
      assert.equal(outcome.result?.resumedFrom, HALF);
      assert.equal(outcome.result?.bytes, CONTENT.length - HALF);
      fileHas(outcome, 'remote', 'f.bin');
      noPart(outcome);
    },
  },
  {
    name: 'link: resume, download to a file continues a kept local part',
    setup: async (env) => {
      await upload(env.ctx(), uploadRequest(`${env.remote.relative}/f.bin`, [{ kind: 'buffer', data: CONTENT }]));
      await env.sh('touch -d @1600000000 f.bin');
    },
    act: async (env) => {
      const target = join(env.local, 'f.bin');
      const part = join(env.local, PART);
      await fs.writeFile(part, CONTENT.subarray(0, HALF));
      const remotePath = `${env.remote.relative}/f.bin`;
      await journalOf(env).record([{ path: Buffer.from(part), kind: 'part', part: { key: resumeKey('download', env.channels.label, Buffer.from(remotePath), resolve(target)), side: 'local', size: CONTENT.length, mtime: 1600000000, since: Date.now() } }]);
      return download(env.ctx({ leftovers: journalOf(env) }), downloadRequest(env, remotePath, { target: { kind: 'file', path: target }, link: { resume: {}, verify: true } }));
    },
    expect: (outcome) => {
      succeeds(outcome);
      assert.equal(outcome.result?.resumedFrom, HALF);
      assert.equal(outcome.result?.bytes, CONTENT.length - HALF);
      everyFileVerified(outcome);
      fileHas(outcome, 'local', 'f.bin');
      noPart(outcome);
    },
  },
  {
    name: 'link: resume is ignored for a payload upload and a pattern download (no resumedFrom)',
    auto: AUTO_OVER_SCP,
    setup: (env) => env.sh('printf a > a.txt'),
    act: async (env) => {
      await upload(env.ctx({ leftovers: journalOf(env) }), uploadRequest(`${env.remote.relative}/p.txt`, [{ kind: 'buffer', data: Buffer.from('p') }], { link: { resume: {} } })).then((result) => assert.equal(result.resumedFrom, undefined));
      return download(env.ctx({ leftovers: journalOf(env) }), downloadRequest(env, `${env.remote.relative}/*.txt`, { glob: true, link: { resume: {} } }));
    },
    expect: (outcome) => {
      succeeds(outcome);
      assert.equal(outcome.result?.resumedFrom, undefined);
      assert.deepEqual(names(outcome.local), ['a.txt', 'p.txt']);
    },
  },
];

function everyVerified(result: { files: { sha256?: string }[] }): void {
  assert.ok(result.files.every((file) => /^[0-9a-f]{64}$/u.test(file.sha256 ?? '')), JSON.stringify(result.files));
}
