/**
 * The SCP hostile table's guarantees, over SFTP: `download()` with transport 'sftp' against a scripted
 * SFTP server (sftp-server.ts) whose listings, links, files and answers are hostile. Each row must fail
 * with its code and a clean message naming the host (or, for rows a careful client survives, succeed
 * with exactly the expected files), write nothing outside the target, leave no partial or temporary
 * file, close every handle it opened, and leave the pool usable for the next download.
 *
 * The name rows match "the server listed ...": the listing's own name check must catch them before any
 * local path is built (the local safety net would catch some with another message, but not a name
 * with a newline or bytes that are not UTF-8, which would then be written under a mangled name).
 */
import assert from 'assert';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { TransferErrorCode } from '../../src/errors';
import { download, type DownloadLimits, type DownloadRequest } from '../../src/transfer';
import type { Leftover } from './cases';
import { eventually, useScriptedSftpServer } from '../support';
import { type ListEntry, type ListPiece, type SftpNode, type SftpTree, listedTree } from './sftp-server';
import { assertArena, assertRowFailure, makeArena } from './support';
import { directoryDownload } from '../transfer/support';

type RequestKind = 'exact' | 'glob' | 'tree';
const REMOTE: Record<RequestKind, string> = { exact: '/srv/x', glob: '/srv/*.log', tree: '/srv/data' };
const LIMITS: DownloadLimits = { maxFileBytes: 1 << 30, maxTotalBytes: 1 << 30, maxFiles: 1000, maxDepth: 16 };
const STALL_MS = 300;

interface SftpCase {
  name: string;
  request: RequestKind;
  tree: SftpTree;
  /** the failure; undefined: the download succeeds and leaves exactly `leaves` */
  code?: TransferErrorCode;
  message?: RegExp;
  limits?: Partial<DownloadLimits>;
  idleTimeoutMs?: number;
  leaves?: Record<string, Leftover>;
}

const dir = (extra: Partial<Extract<SftpNode, { type: 'dir' }>> = {}): SftpNode => ({ type: 'dir', ...extra });
const file = (text: string | Buffer, extra: Partial<Extract<SftpNode, { type: 'file' }>> = {}): SftpNode => ({
  type: 'file',
  content: Buffer.isBuffer(text) ? text : Buffer.from(text),
  ...extra,
});

/** /srv/data listing exactly `entries` (one piece, after `.` and `..`), plus whatever else `more` holds. */
function dataListing(entries: ListEntry[], more: Record<string, SftpNode> = {}): SftpTree {
  return listedTree({
    '/srv': dir(),
    '/srv/data': dir({ pieces: () => [[{ name: '.' }, { name: '..' }], entries][Symbol.iterator]() as Iterator<ListPiece> }),
    ...more,
  });
}

/** /srv listing `entries` for the glob rows. */
function srvListing(entries: ListEntry[], more: Record<string, SftpNode> = {}): SftpTree {
  return listedTree({ '/srv': dir({ pieces: () => [entries][Symbol.iterator]() as Iterator<ListPiece> }), ...more });
}

function* endless(piece: (index: number) => ListEntry[]): Iterator<ListPiece> {
  for (let index = 0; ; index += 1) yield piece(index);
}

const GOOD = file('good\n');
const DATA = { data: { dir: true } } as const;

/** /srv/data listed without end, piece after piece from `piece`: the listing entry cap (500) stops it. */
function endlessListing(name: string, piece: (index: number) => ListEntry[]): SftpCase {
  return {
    name,
    request: 'tree',
    tree: listedTree({ '/srv': dir(), '/srv/data': dir({ pieces: () => endless(piece) }) }),
    limits: { maxListingEntries: 500 },
    code: 'ETOOBIG',
    message: /lists more than 500 entries/,
    leaves: DATA,
  };
}

const CASES: SftpCase[] = [
  // ---------------------------------------------------------------------------------------- names
  { name: 'traversal name ../x', request: 'tree', tree: dataListing([{ name: '../x', node: GOOD }]), code: 'EPROTO', message: /the server listed the name '\.\.'|the server listed a name containing '\/'/, leaves: DATA },
  { name: 'traversal into the sibling canary', request: 'tree', tree: dataListing([{ name: '../../canary/pwned', node: GOOD }]), code: 'EPROTO', message: /the server listed a name containing '\/'/, leaves: DATA },
  { name: 'absolute name /tmp/x', request: 'tree', tree: dataListing([{ name: '/tmp/x', node: GOOD }]), code: 'EPROTO', message: /the server listed a name containing '\/'/, leaves: DATA },
  { name: 'name with a slash a/b', request: 'tree', tree: dataListing([{ name: 'a/b', node: GOOD }]), code: 'EPROTO', message: /the server listed a name containing '\/'/, leaves: DATA },
  { name: 'empty name', request: 'tree', tree: dataListing([{ name: '', node: GOOD }]), code: 'EPROTO', message: /the server listed an empty name/, leaves: DATA },
  { name: 'over-long name (300 bytes)', request: 'tree', tree: dataListing([{ name: 'a'.repeat(300), node: GOOD }]), code: 'EPROTO', message: /the server listed a name longer than 255 bytes/, leaves: DATA },
  {
    name: 'name that is not valid UTF-8 (raw bytes ff fe)',
    request: 'tree',
    tree: dataListing([{ name: 'bad-XY.txt', raw: Buffer.from('bad-\xff\xfe.txt', 'latin1'), node: GOOD }]),
    code: 'EPROTO',
    message: /the server listed a name that is not valid UTF-8/,
    leaves: DATA,
  },
  { name: 'name with a newline', request: 'tree', tree: dataListing([{ name: 'a\nb', node: GOOD }]), code: 'EPROTO', message: /the server listed a name containing a newline/, leaves: DATA },
  {
    name: 'a hostile name after good ones: nothing of the listing is fetched',
    request: 'tree',
    tree: dataListing([{ name: 'a-good.txt', node: GOOD }, { name: 'z\nevil', node: GOOD }]),
    code: 'EPROTO',
    message: /the server listed/,
    leaves: DATA,
  },
  {
    name: 'glob: a matching name with a slash',
    request: 'glob',
    tree: srvListing([{ name: 'good.log', node: GOOD }, { name: 'a/x.log', node: GOOD }]),
    code: 'EPROTO',
    message: /the server listed a name containing '\/'/,
  },
  {
    name: 'glob: an odd name that does not match is ignored',
    request: 'glob',
    tree: srvListing([{ name: 'good.log' }, { name: 'odd\nname.txt', node: GOOD }], { '/srv/good.log': GOOD }),
    leaves: { 'good.log': { content: Buffer.from('good\n') } },
  },
  {
    name: '. and .. in a listing are skipped',
    request: 'tree',
    tree: dataListing([{ name: '.', node: dir() }, { name: '..', node: dir() }, { name: 'good.txt' }], { '/srv/data/good.txt': GOOD }),
    leaves: { ...DATA, 'data/good.txt': { content: Buffer.from('good\n') } },
  },
  {
    name: 'the same name listed twice',
    request: 'tree',
    tree: dataListing([{ name: 'twice.txt' }, { name: 'twice.txt' }], { '/srv/data/twice.txt': GOOD }),
    code: 'EPROTO',
    message: /the same name twice/,
    leaves: DATA,
  },

  // ---------------------------------------------------------------------------------------- links
  {
    name: 'a link to a file outside the tree arrives as a plain file inside the target',
    request: 'tree',
    tree: dataListing([{ name: 'link' }], { '/srv/data/link': { type: 'link', target: '/etc/secret' }, '/etc': dir(), '/etc/secret': file('remote secret\n') }),
    leaves: { ...DATA, 'data/link': { content: Buffer.from('remote secret\n') } },
  },
  {
    name: 'a dangling link is skipped',
    request: 'tree',
    tree: dataListing([{ name: 'gone' }, { name: 'good.txt' }], { '/srv/data/gone': { type: 'link', target: '/nowhere' }, '/srv/data/good.txt': GOOD }),
    leaves: { ...DATA, 'data/good.txt': { content: Buffer.from('good\n') } },
  },
  {
    name: 'a link loop (loop -> /srv/data) stops at the depth cap',
    request: 'tree',
    tree: (() => {
      const loopDir = dir({ pieces: () => [[{ name: 'loop' }]][Symbol.iterator]() as Iterator<ListPiece> });
      const tree = listedTree({ '/srv': dir(), '/srv/data': loopDir, '/srv/data/loop': { type: 'link', target: '/srv/data' } });
      return tree;
    })(),
    limits: { maxDepth: 3 },
    code: 'ETOOBIG',
    message: /deeper than 3 levels/,
    leaves: { ...DATA, 'data/loop': { dir: true }, 'data/loop/loop': { dir: true } },
  },
  {
    name: 'a link named like a traversal',
    request: 'tree',
    tree: dataListing([{ name: '..', node: { type: 'link', target: '/' } }, { name: 'good.txt' }], { '/srv/data/good.txt': GOOD }),
    leaves: { ...DATA, 'data/good.txt': { content: Buffer.from('good\n') } },
  },

  // ------------------------------------------------------------------------------- endless listings
  endlessListing('endless listing (fresh names in every piece)', (i) => Array.from({ length: 50 }, (_, j) => ({ name: `f${i}-${j}`, node: GOOD }))),
  endlessListing('endless listing of empty pieces', () => []),
  {
    name: 'endless sibling directories (directory cap)',
    request: 'tree',
    tree: (path) => {
      if (path === '/srv' || path === '/srv/data') return dir({ pieces: () => [Array.from({ length: 100 }, (_, i) => ({ name: `d${String(i).padStart(3, '0')}`, node: dir() }))][Symbol.iterator]() as Iterator<ListPiece> });
      if (/^\/srv\/data\/d\d{3}$/.test(path)) return dir({ pieces: () => [][Symbol.iterator]() });
      return undefined;
    },
    limits: { maxDirectories: 5 },
    code: 'ETOOBIG',
    message: /more than the limit of 5 directories.*\/srv\/data\/d004/,
    leaves: { ...DATA, 'data/d000': { dir: true }, 'data/d001': { dir: true }, 'data/d002': { dir: true }, 'data/d003': { dir: true } },
  },
  {
    name: 'endless depth',
    request: 'tree',
    tree: (path) => (path === '/srv' || path.startsWith('/srv/data') ? dir({ pieces: () => [[{ name: 'd', node: dir() }]][Symbol.iterator]() as Iterator<ListPiece> }) : undefined),
    limits: { maxDepth: 3 },
    code: 'ETOOBIG',
    leaves: { ...DATA, 'data/d': { dir: true }, 'data/d/d': { dir: true } },
  },

  // ------------------------------------------------------------------------------------------ files
  {
    name: 'a file that grows while read: exactly the announced size arrives',
    request: 'exact',
    tree: listedTree({ '/srv': dir(), '/srv/x': file('', { size: 10, read: (offset, length) => Buffer.alloc(Math.min(length, 64 * 1024), 0x61 + (offset % 26)) }) }),
    leaves: { x: { content: Buffer.alloc(10, 0x61) } },
  },
  {
    name: 'a file that shrinks while read',
    request: 'exact',
    tree: listedTree({ '/srv': dir(), '/srv/x': file('only ten b', { size: 100 }) }),
    code: 'EPROTO',
    message: /ended after 10 of 100 bytes/,
  },
  {
    name: 'announced size over the cap',
    request: 'exact',
    tree: listedTree({ '/srv': dir(), '/srv/x': file('', { size: 2 ** 40 }) }),
    code: 'ETOOBIG',
  },
  {
    name: 'a directory where a file was asked for',
    request: 'exact',
    tree: listedTree({ '/srv': dir(), '/srv/x': dir() }),
    code: 'EISDIR',
  },

  // ----------------------------------------------------------------------------------------- stalls
  {
    name: 'stall in the middle of the data',
    request: 'exact',
    tree: listedTree({ '/srv': dir(), '/srv/x': file('', { size: 100, read: (offset) => (offset === 0 ? Buffer.from('only some') : 'stall') }) }),
    idleTimeoutMs: STALL_MS,
    code: 'ETIMEDOUT',
  },
  {
    name: 'stall on a listing',
    request: 'tree',
    tree: listedTree({ '/srv': dir(), '/srv/data': dir({ stall: 'list' }) }),
    idleTimeoutMs: STALL_MS,
    code: 'ETIMEDOUT',
    leaves: DATA,
  },
  {
    name: 'stall on stat',
    request: 'exact',
    tree: listedTree({ '/srv': dir(), '/srv/x': file('x', { stall: 'stat' }) }),
    idleTimeoutMs: STALL_MS,
    code: 'ETIMEDOUT',
  },
  {
    name: 'stall on open',
    request: 'exact',
    tree: listedTree({ '/srv': dir(), '/srv/x': file('x', { stall: 'open' }) }),
    idleTimeoutMs: STALL_MS,
    code: 'ETIMEDOUT',
  },
];

describe('hostile SFTP server: the SCP table guarantees over SFTP', function () {
  this.timeout(30_000);
  const { server, pool } = useScriptedSftpServer();

  function requestFor(row: SftpCase, target: string): DownloadRequest {
    return directoryDownload(REMOTE[row.request], target, { recursive: row.request === 'tree', glob: row.request === 'glob', limits: { ...LIMITS, ...row.limits } });
  }

  async function poolStillWorks(): Promise<void> {
    server.tree = listedTree({ '/srv': dir(), '/srv/ok.txt': file('still fine\n') });
    const arena = await makeArena();
    const result = await download(
      { channels: pool, transport: 'sftp', idleTimeoutMs: 5000 },
      { remotePath: '/srv/ok.txt', target: { kind: 'directory', path: arena.target }, recursive: false, glob: false, preserve: false, overwrite: 'fail', limits: LIMITS },
    );
    assert.strictEqual(result.transport, 'sftp');
    assert.deepStrictEqual(await fs.readFile(join(arena.target, 'ok.txt'), 'utf8'), 'still fine\n');
  }

  for (const row of CASES) {
    it(`${row.name} -> ${row.code ?? 'succeeds'}`, async () => {
      const arena = await makeArena();
      server.tree = row.tree;
      let caught: unknown;
      try {
        await download({ channels: pool, transport: 'sftp', idleTimeoutMs: row.idleTimeoutMs ?? 5000 }, requestFor(row, arena.target));
      } catch (error) {
        caught = error;
      }
      if (row.code === undefined) {
        assert.strictEqual(caught, undefined, `expected success, got ${String(caught)}`);
      } else {
        assertRowFailure(caught, row);
      }
      await assertArena(arena, row.leaves);
      // The session the connection keeps for single-file jobs may stay open (its one channel), no job on it.
      const kept = (): number => pool.sharedSftp().sessions;
      await eventually('every remote handle closed and only the kept session open', () => server.openHandles() === 0 && pool.stats().channels === kept());
      assert.strictEqual(server.openHandles(), 0, 'a remote handle was left open');
      assert.deepStrictEqual({ ...pool.stats(), maxChannelsSeen: 0 }, { connections: 1, channels: kept(), queued: 0, maxChannelsSeen: 0 });
      assert.strictEqual(pool.sharedSftp().jobs, 0);
      await poolStillWorks();
    });
  }

  it('the fake server saw no handler errors, and one connection carried every case', () => {
    assert.deepStrictEqual(server.fake.handlerErrors, []);
    assert.strictEqual(server.fake.connectionCount(), 1);
  });
});
