/**
 * The remote toolbox against hostile servers, both ways it talks: the SFTP table (a scripted sftp
 * subsystem: sftp-server.ts) and the shell table (an exec channel that prints whatever the row says in
 * place of our command's records). Names with '/', '.' or '..', empty or 4 KiB long, a time of -1 or 2^63,
 * a size or mode that is not a number: EPROTO, cleaned. Listings that never end (fresh names, empty pieces,
 * endless candidates, a billion entries): stopped by the entry cap (ETOOBIG) or the byte cap (EPROTO).
 * Stalls: ETIMEDOUT. Names with control characters are real names: they come through intact. Per row: the
 * code, a clean message naming the host, every SFTP handle closed, the pool left without a channel.
 */
import assert from 'assert';
import type { TransferErrorCode } from '../../src/errors';
import { TransferError } from '../../src/errors';
import { remote, type RemoteRequest, type RemoteResult } from '../../src/remote';
import type { SshPool } from '../../src/ssh';
import { startFakeServer, type FakeServer } from '../harness';
import { type ListEntry, type ListPiece, type ScriptedSftp, type SftpNode, listedTree } from './sftp-server';
import { assertCleanMessage, poolForFake } from './support';
import { useScriptedSftpServer } from '../support';

const IDLE_MS = 400;
const LIST: RemoteRequest = { operation: 'list', path: Buffer.from('/srv/d'), options: { recursive: true, maxDepth: 8, maxEntries: 50 } };

interface Row {
  name: string;
  request?: RemoteRequest;
  code?: TransferErrorCode;
  message?: RegExp;
  /** for rows a careful client survives */
  check?(result: RemoteResult): void;
}

async function outcome(pool: SshPool, transport: 'scp' | 'sftp', request: RemoteRequest): Promise<RemoteResult | TransferError> {
  try {
    return await remote({ channels: pool, transport, idleTimeoutMs: IDLE_MS }, request);
  } catch (error) {
    assert.ok(error instanceof TransferError, String(error));
    return error;
  }
}

function judge(row: Row, got: RemoteResult | TransferError): void {
  if (row.code) {
    assert.ok(got instanceof TransferError, `expected ${row.code}, got ${JSON.stringify(got)}`);
    assert.equal(got.code, row.code, got.message);
    assertCleanMessage(got.message);
    if (row.message) assert.match(got.message, row.message);
  } else {
    assert.ok(!(got instanceof TransferError), `expected success, got ${(got as Error).message}`);
    row.check?.(got);
  }
}

// --------------------------------------------------------------------------------------------- SFTP

const dir = (extra: Partial<Extract<SftpNode, { type: 'dir' }>> = {}): SftpNode => ({ type: 'dir', ...extra });
const small: SftpNode = { type: 'file', content: Buffer.from('x') };

function listing(entries: ListEntry[]): ScriptedSftp['tree'] {
  return listedTree({ '/srv': dir(), '/srv/d': dir({ pieces: () => [[{ name: '.' }, { name: '..' }], entries][Symbol.iterator]() as Iterator<ListPiece> }) });
}

function* endless(piece: (index: number) => ListEntry[]): Iterator<ListPiece> {
  for (let index = 0; ; index += 1) yield piece(index);
}

const SFTP_ROWS: (Row & { tree: ScriptedSftp['tree'] })[] = [
  { name: 'a name with a slash', tree: listing([{ name: '../x', node: small }]), code: 'EPROTO', message: /listed a name containing '\/'/ },
  { name: 'an absolute name', tree: listing([{ name: '/etc/passwd', node: small }]), code: 'EPROTO', message: /listed a name containing '\/'/ },
  { name: 'an empty name', tree: listing([{ name: '', node: small }]), code: 'EPROTO', message: /listed an empty name/ },
  { name: 'a 4 KiB name', tree: listing([{ name: 'a'.repeat(4096), node: small }]), code: 'EPROTO', message: /longer than 255 bytes/ },
  { name: 'a size past 2^53 (not a whole number of bytes JavaScript can hold)', tree: listing([{ name: 'big', node: { type: 'file', content: Buffer.alloc(0), size: 2 ** 60 } }]), code: 'EPROTO', message: /a size/ },
  {
    name: 'control characters in a name: a real name, intact',
    tree: listing([{ name: 'esc\u001b[31mred\nline', node: small }]),
    check: (result) => assert.deepEqual(result.entries?.map((entry) => entry.name), ['esc\u001b[31mred\nline']),
  },
  { name: '. and .. are skipped', tree: listing([{ name: '.' }, { name: '..' }, { name: 'ok', node: small }]), check: (result) => assert.deepEqual(result.entries?.map((e) => e.name), ['ok']) },
  {
    name: 'a listing that never ends (fresh names)',
    tree: listedTree({ '/srv': dir(), '/srv/d': dir({ pieces: () => endless((i) => [{ name: `f${i}`, node: small }]) }) }),
    code: 'ETOOBIG',
  },
  { name: 'a listing of empty pieces for ever', tree: listedTree({ '/srv': dir(), '/srv/d': dir({ pieces: () => endless(() => []) }) }), code: 'ETOOBIG' },
  {
    name: 'a billion entries in one piece after another (100 per piece)',
    tree: listedTree({ '/srv': dir(), '/srv/d': dir({ pieces: () => endless((i) => Array.from({ length: 100 }, (_, j) => ({ name: `e${i}-${j}`, node: small }))) }) }),
    code: 'ETOOBIG',
  },
  {
    name: 'endless depth: every directory holds another',
    tree: (path) => (path === '/srv' || path.startsWith('/srv/d') ? dir({ pieces: () => [[{ name: 'deeper', node: dir() }]][Symbol.iterator]() as Iterator<ListPiece> }) : undefined),
    check: (result) => assert.equal(result.entries?.length, 8, 'the depth cap'),
  },
  { name: 'a stalled listing', tree: listedTree({ '/srv': dir(), '/srv/d': dir({ stall: 'list' }) }), code: 'ETIMEDOUT' },
  { name: 'a stalled stat', request: { operation: 'stat', path: Buffer.from('/srv/d') }, tree: listedTree({ '/srv': dir(), '/srv/d': dir({ stall: 'stat' }) }), code: 'ETIMEDOUT' },
];

describe('hostile SFTP servers: the remote toolbox', function () {
  this.timeout(30_000);
  const { server, pool } = useScriptedSftpServer();

  for (const row of SFTP_ROWS) {
    it(`${row.name}: ${row.code ?? 'survived'}`, async () => {
      server.tree = row.tree;
      judge(row, await outcome(pool, 'sftp', row.request ?? LIST));
      // A stalled request's handle is closed unwaited; give the close a moment to arrive before counting.
      for (let i = 0; i < 50 && server.openHandles() > 0; i += 1) await new Promise((resolve) => setImmediate(resolve));
      if (!row.name.includes('stalled')) assert.equal(server.openHandles(), 0, 'every handle closed');
      assert.equal(pool.stats().queued, 0);
    });
  }
});

// -------------------------------------------------------------------------------------------- shell

/** What the fake server prints for our command: bytes, or a generator of chunks (endless rows). */
type Script = { out: () => Iterable<Buffer>; exit?: number; stall?: boolean };

const MARK = Buffer.from('SCP-REMOTE:s\0');
const rec = (text: string | Buffer): Buffer => Buffer.concat([Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1'), Buffer.from([0])]);
/** One directory block of the stat tier: D, the candidates, the stat lines. */
function block(dirName: string, lines: { name: string | Buffer; meta: string }[]): Buffer {
  const names = lines.map((line) => Buffer.concat([Buffer.from(`${dirName}/`), Buffer.isBuffer(line.name) ? line.name : Buffer.from(line.name)]));
  return Buffer.concat([
    rec(`D${dirName}`),
    ...names.map((name) => rec(Buffer.concat([Buffer.from('N'), name]))),
    rec(Buffer.concat([Buffer.from('S'), ...names.flatMap((name, i) => [Buffer.from(`${lines[i]?.meta} `), name, Buffer.from('\n')])])),
  ]);
}
const once = (...parts: Buffer[]): (() => Iterable<Buffer>) => () => [Buffer.concat(parts)];
const END = rec('E');
const FILE = '81a4 1 1700000000';

const SHELL_ROWS: (Row & { script: Script })[] = [
  { name: "a name with '/'", script: { out: once(MARK, block('/srv/d', [{ name: 'a/b', meta: FILE }]), END) }, code: 'EPROTO', message: /name containing '\/'/ },
  { name: "the name '..'", script: { out: once(MARK, block('/srv/d', [{ name: '..', meta: '41ed 4096 1700000000' }]), END) }, code: 'EPROTO', message: /the name '\.\.'/ },
  { name: 'a name outside the directory listed', script: { out: once(MARK, rec('D/srv/d'), rec('N/etc/passwd'), rec(`S${FILE} /etc/passwd\n`), END) }, code: 'EPROTO', message: /outside its directory/ },
  { name: 'a 4 KiB name', script: { out: once(MARK, block('/srv/d', [{ name: 'n'.repeat(4096), meta: FILE }]), END) }, code: 'EPROTO', message: /longer than 255 bytes/ },
  {
    name: 'an mtime of -1 (a real file dated 1969): the entry, with its time',
    script: { out: once(MARK, block('/srv/d', [{ name: 'f', meta: '81a4 1 -1' }]), rec('T0'), END) },
    check: (result) => assert.deepEqual(result.entries?.map((entry) => entry.mtime), [-1]),
  },
  { name: 'an mtime before 1833', script: { out: once(MARK, block('/srv/d', [{ name: 'f', meta: '81a4 1 -4294967297' }]), END) }, code: 'EPROTO', message: /modification time out of range/ },
  { name: 'an mtime of 2^63', script: { out: once(MARK, block('/srv/d', [{ name: 'f', meta: '81a4 1 9223372036854775808' }]), END) }, code: 'EPROTO', message: /modification time out of range/ },
  { name: 'a size that is not a number', script: { out: once(MARK, block('/srv/d', [{ name: 'f', meta: '81a4 12abc 1700000000' }]), END) }, code: 'EPROTO', message: /a size that is not a whole number/ },
  { name: 'a mode that is not a mode', script: { out: once(MARK, block('/srv/d', [{ name: 'f', meta: 'zzzz 1 1700000000' }]), END) }, code: 'EPROTO', message: /a mode that is not a file mode/ },
  { name: 'stat lines nobody asked for', script: { out: once(MARK, rec('D/srv/d'), rec('N/srv/d/a'), rec(`S${FILE} /srv/d/a\n${FILE} /srv/d/b\n`), END) }, code: 'EPROTO', message: /not asked for/ },
  {
    name: 'control characters in a name: a real name, intact',
    script: { out: once(MARK, block('/srv/d', [{ name: 'esc\u001b[31m\nx', meta: FILE }]), END) },
    check: (result) => assert.deepEqual(result.entries?.map((entry) => entry.name), ['esc\u001b[31m\nx']),
  },
  {
    name: 'a listing that never ends (candidates for ever)',
    script: {
      out: function* () {
        yield Buffer.concat([MARK, rec('D/srv/d')]);
        for (let i = 0; ; i += 1) yield rec(`N/srv/d/${'x'.repeat(200)}${i}`);
      },
    },
    code: 'ETOOBIG',
    message: /more than 50 entries/,
  },
  {
    name: 'directory records for ever (bytes past the cap, no entry)',
    script: {
      out: function* () {
        yield MARK;
        for (;;) yield rec(`D/srv/d/${'x'.repeat(4000)}`);
      },
    },
    code: 'ETOOBIG',
    message: /more than 50 entries/,
  },
  {
    name: 'a record without a NUL for ever',
    request: { ...LIST, options: { ...(LIST as Extract<RemoteRequest, { operation: 'list' }>).options, maxEntries: 100_000 } } as RemoteRequest,
    script: {
      out: function* () {
        yield Buffer.concat([MARK, Buffer.from('N/srv/d/')]);
        for (;;) yield Buffer.alloc(8192, 0x61);
      },
    },
    code: 'EPROTO',
    message: /a record longer than any/,
  },
  {
    name: 'stat could not run (an argument list too long): no silent empty listing',
    script: { out: once(MARK, rec('D/srv/d'), rec('N/srv/d/a'), rec('N/srv/d/b'), rec('S'), rec('T126'), END) },
    code: 'EPROTO',
    message: /stat could not describe the entries.*status 126/,
  },
  {
    name: 'stat failed for every name that existed: no silent empty listing',
    script: { out: once(MARK, rec('D/srv/d'), rec('N/srv/d/a'), rec('S'), rec('T1'), END) },
    code: 'EPROTO',
    message: /stat could not describe the entries.*status 1/,
  },
  {
    name: 'stat failed for one name of two (it vanished): the other',
    script: { out: once(MARK, rec('D/srv/d'), rec('N/srv/d/a'), rec('N/srv/d/b'), rec(`S${FILE} /srv/d/b\n`), rec('T1'), END) },
    check: (result) => assert.deepEqual(result.entries?.map((entry) => entry.name), ['b']),
  },
  {
    name: "a change's error text with control characters: cleaned",
    request: { operation: 'delete', paths: [Buffer.from('/srv/a')] },
    script: { out: once(MARK, rec('Rf\u001b[2J\u001b]0;owned\u0007rm: Permission denied\n'), END) },
    code: 'EACCES',
    message: /Permission denied/,
  },
  {
    name: 'an ls mode with control characters: cleaned',
    script: { out: once(Buffer.from('SCP-REMOTE:l\0'), rec('D/srv/d'), rec('N/srv/d/a'), rec('L\u001b[2Jxx 1 1'), END) },
    code: 'EPROTO',
    message: /a mode/,
  },
  {
    name: 'a billion entries (directory blocks for ever)',
    script: {
      out: function* () {
        yield MARK;
        for (let i = 0; ; i += 1) yield block('/srv/d', Array.from({ length: 20 }, (_, j) => ({ name: `f${i}-${j}`, meta: FILE })));
      },
    },
    code: 'ETOOBIG',
  },
  { name: 'a banner for ever instead of the command', script: { out: function* () { for (;;) yield Buffer.alloc(8192, 0x41); } }, code: 'EPROTO', message: /something else instead of running the command/ },
  { name: 'the listing ends without its end record', script: { out: once(MARK, block('/srv/d', [{ name: 'f', meta: FILE }])) }, code: 'EPROTO', message: /ended early/ },
  { name: 'the output stops in the middle of a record', script: { out: once(MARK, Buffer.from('D/srv/d')) }, code: 'EPROTO', message: /middle of a record/ },
  { name: 'silence after the marker', script: { out: once(MARK), stall: true }, code: 'ETIMEDOUT' },
  { name: 'no shell (exit 127)', script: { out: () => [], exit: 127 }, code: 'EPROTO', message: /runs no commands|unexpected reply/ },
  {
    name: 'a change answered for fewer paths than asked',
    request: { operation: 'delete', paths: [Buffer.from('/srv/a'), Buffer.from('/srv/b')] },
    script: { out: once(MARK, rec('R0'), END) },
    code: 'EPROTO',
    message: /1 answers for 2 paths/,
  },
  { name: 'a change answered with an unknown letter', request: { operation: 'delete', paths: [Buffer.from('/srv/a')] }, script: { out: once(MARK, rec('Rz'), END) }, code: 'EPROTO' },
];

describe('hostile shell servers: the remote toolbox (transport scp)', function () {
  this.timeout(30_000);
  let fake: FakeServer;
  let pool: SshPool;
  let script: Script = { out: () => [] };
  before(async () => {
    fake = await startFakeServer(async ({ channel }) => {
      const current = script;
      channel.on('error', () => undefined);
      let closed = false;
      channel.on('close', () => (closed = true));
      for (const chunk of current.out()) {
        if (closed) return;
        // Within the window: wait for the client to take what was sent (it stops reading when it gave up).
        if (!channel.write(chunk)) await new Promise((resolve) => channel.once('drain', resolve).once('close', resolve));
      }
      if (current.stall || closed) return;
      channel.exit(current.exit ?? 0);
      channel.end();
    });
    pool = poolForFake(fake);
  });
  after(async () => {
    await pool?.close();
    await fake?.close();
  });

  for (const row of SHELL_ROWS) {
    it(`${row.name}: ${row.code ?? 'survived'}`, async () => {
      script = row.script;
      judge(row, await outcome(pool, 'scp', row.request ?? LIST));
      assert.equal(pool.stats().queued, 0);
    });
  }
});
