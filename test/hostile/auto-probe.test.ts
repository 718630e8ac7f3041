/**
 * The same-paths probe of transport 'auto' (src/transfer/auto/same-paths.ts) against servers that lie or
 * stall, scripted: an SFTP subsystem over an in-memory file table, and exec channels that answer the probe as
 * the test wants. What a lie can win is SFTP with the paths the user gave, nothing more: every SFTP request of
 * the jobs names the user's path (or its temporary beside it), never the home the server claimed. A home full
 * of shell syntax stays one quoted word (a real sh runs the probe's command: nothing is created). A probe the
 * server never answers ends with the idle timeout, the job goes over SCP, later jobs do not probe again until
 * PROBE_RETRY_MS passed.
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { utils, type SFTPWrapper } from 'ssh2';
import type { SshPool } from '../../src/ssh';
import { PROBE_RETRY_MS } from '../../src/transfer/auto/small-jobs';
import { download, upload, type TransferContext } from '../../src/transfer';
import { type FakeExecHandler, type FakeServer, makeTempDir, startFakeServer } from '../harness';
import { shiftClock } from '../support';
import { bufferDownload } from '../transfer/support';
import { ServerSide } from './server-side';
import { poolForFake } from './support';

const { STATUS_CODE, OPEN_MODE } = utils.sftp;
const PROBE_MARKER = 'SCP-SAME-PATHS:';
const UID = 4242;
const CLAIMED_HOME = '/home/liar';

interface MemoryFile {
  data: Buffer;
  mode: number;
}

/**
 * The fake's files, by the path SFTP was given less a leading "./" (so a relative and an absolute name are two
 * files: the fake has no real home), and every path it was asked about, as asked.
 */
interface Memory {
  files: Map<string, MemoryFile>;
  seen: string[];
  realpath: string;
}

/** "./name" and "name" are one file. */
function key(path: string): string {
  return path.startsWith('./') ? path.slice(2) : path;
}

function attrsOf(file: MemoryFile | 'dir'): { mode: number; uid: number; gid: number; size: number; atime: number; mtime: number } {
  const times = { uid: UID, gid: UID, atime: 1_600_000_000, mtime: 1_600_000_000 };
  return file === 'dir' ? { mode: 0o40755, size: 4096, ...times } : { mode: 0o100000 | file.mode, size: file.data.length, ...times };
}

/** An SFTP subsystem over `memory`: enough for the probe, a small upload and a small download. */
function memorySftp(memory: Memory): (request: { sftp: SFTPWrapper }) => void {
  return ({ sftp }) => {
    const handles = new Map<string, { path: string; dir?: boolean; listed?: boolean }>();
    let next = 0;
    const handle = (path: string, dir = false): Buffer => {
      const id = String((next += 1));
      handles.set(id, { path, dir });
      return Buffer.from(id);
    };
    const stat = (reqid: number, path: string): void => {
      memory.seen.push(path);
      const file = memory.files.get(key(path));
      if (path === '/' || path === '.') return void sftp.attrs(reqid, attrsOf('dir'));
      if (!file) return void sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
      sftp.attrs(reqid, attrsOf(file));
    };
    sftp.on('end', () => sftp.end());
    sftp.on('REALPATH', (reqid: number, path: string) => {
      memory.seen.push(path);
      sftp.name(reqid, [{ filename: path === '.' ? memory.realpath : path, longname: '', attrs: {} as never }]);
    });
    sftp.on('STAT', stat);
    sftp.on('LSTAT', stat);
    sftp.on('OPEN', (reqid: number, path: string, flags: number, attrs: { mode?: number }) => {
      memory.seen.push(path);
      const existing = memory.files.get(key(path));
      if (flags & OPEN_MODE.CREAT) {
        if (existing && flags & OPEN_MODE.EXCL) return void sftp.status(reqid, STATUS_CODE.FAILURE);
        // The claimed umask (0022) applies, as the probe's shell says.
        memory.files.set(key(path), { data: Buffer.alloc(0), mode: (attrs.mode ?? 0o644) & 0o755 });
      } else if (!existing) {
        return void sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
      }
      sftp.handle(reqid, handle(key(path)));
    });
    sftp.on('WRITE', (reqid: number, raw: Buffer, offset: number, data: Buffer) => {
      const file = memory.files.get(handles.get(raw.toString())?.path ?? '');
      if (!file) return void sftp.status(reqid, STATUS_CODE.FAILURE);
      const grown = Buffer.alloc(Math.max(file.data.length, offset + data.length));
      file.data.copy(grown);
      data.copy(grown, offset);
      file.data = grown;
      sftp.status(reqid, STATUS_CODE.OK);
    });
    sftp.on('READ', (reqid: number, raw: Buffer, offset: number, length: number) => {
      const file = memory.files.get(handles.get(raw.toString())?.path ?? '');
      if (!file) return void sftp.status(reqid, STATUS_CODE.FAILURE);
      if (offset >= file.data.length) return void sftp.status(reqid, STATUS_CODE.EOF);
      sftp.data(reqid, file.data.subarray(offset, offset + length));
    });
    sftp.on('FSTAT', (reqid: number, raw: Buffer) => {
      const file = memory.files.get(handles.get(raw.toString())?.path ?? '');
      if (!file) return void sftp.status(reqid, STATUS_CODE.FAILURE);
      sftp.attrs(reqid, attrsOf(file));
    });
    sftp.on('CLOSE', (reqid: number, raw: Buffer) => {
      handles.delete(raw.toString());
      sftp.status(reqid, STATUS_CODE.OK);
    });
    sftp.on('OPENDIR', (reqid: number, path: string) => {
      memory.seen.push(path);
      if (path !== '/') return void sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
      sftp.handle(reqid, handle(path, true));
    });
    sftp.on('READDIR', (reqid: number, raw: Buffer) => {
      const open = handles.get(raw.toString());
      if (!open?.dir || open.listed) return void sftp.status(reqid, STATUS_CODE.EOF);
      open.listed = true;
      sftp.name(reqid, ['.', '..', 'home'].map((filename) => ({ filename, longname: filename, attrs: attrsOf('dir') })));
    });
    sftp.on('REMOVE', (reqid: number, path: string) => {
      memory.seen.push(path);
      sftp.status(reqid, memory.files.delete(key(path)) ? STATUS_CODE.OK : STATUS_CODE.NO_SUCH_FILE);
    });
    sftp.on('RENAME', (reqid: number, from: string, to: string) => {
      memory.seen.push(from, to);
      const file = memory.files.get(key(from));
      if (!file || memory.files.has(key(to))) return void sftp.status(reqid, STATUS_CODE.FAILURE);
      memory.files.delete(key(from));
      memory.files.set(key(to), file);
      sftp.status(reqid, STATUS_CODE.OK);
    });
  };
}

/** The word after `if cat -- ` in the probe's command, unquoted by a real sh. */
function probedPath(command: string): Promise<string> {
  const quoted = /if cat -- ('(?:[^']|'\\'')*')+;/u.exec(command)?.[1];
  assert.ok(quoted, command);
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', `printf %s ${quoted}`], (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
}

/** What a liar answers: the claimed home, the file SFTP made (found by its relative name), removed. */
async function lie(memory: Memory, command: string): Promise<string> {
  const path = await probedPath(command);
  const name = path.slice(CLAIMED_HOME.length + 1);
  const file = memory.files.get(name);
  memory.files.delete(name);
  return `${PROBE_MARKER}\n0022\n${UID}\n${CLAIMED_HOME}\n${file ? file.data.toString() : '\n'}\nSCP-SAME-ROOT:\n.\n..\nhome\n`;
}

/** `scp -f` of one file from `memory`: the record, the data, the end. */
async function sendOverScp(side: ServerSide, memory: Memory, command: string): Promise<void> {
  const name = /'([^']*)'\s*$/u.exec(command)?.[1] ?? '';
  const file = memory.files.get(name);
  if (!file) {
    await side.send(`\x01scp: ${name}: No such file or directory\n`);
    return side.exit(1);
  }
  await side.ack();
  await side.send(`C0644 ${file.data.length} ${name.split('/').pop()}\n`);
  await side.ack();
  await side.send(file.data);
  await side.send('\0');
  await side.ack();
  side.exit(0);
}

describe('hostile: servers that lie to the same-paths probe or never answer it', function () {
  this.timeout(30_000);
  let fake: FakeServer;
  let pool: SshPool;
  const memory: Memory = { files: new Map(), seen: [], realpath: CLAIMED_HOME };
  let onProbe: (command: string, side: ServerSide) => Promise<void> = async () => undefined;
  const commands: string[] = [];

  before(async () => {
    const exec: FakeExecHandler = async ({ command, channel }) => {
      commands.push(command);
      const side = new ServerSide(channel);
      try {
        if (command.includes(PROBE_MARKER)) return await onProbe(command, side);
        if (command.startsWith('scp -f')) return await sendOverScp(side, memory, command);
        side.exit(1);
      } catch {
        // the client cut the channel
      }
    };
    fake = await startFakeServer(exec, { sftp: memorySftp(memory) });
    pool = poolForFake(fake);
  });
  after(async () => {
    await pool?.close();
    await fake?.close();
  });
  beforeEach(() => {
    memory.files.clear();
    memory.seen.length = 0;
    memory.realpath = CLAIMED_HOME;
    commands.length = 0;
  });

  /** An 'auto' context on a provider object of its own: nothing learned yet. */
  function fresh(overrides: Partial<TransferContext> = {}): { ctx: TransferContext; debug: string[] } {
    const debug: string[] = [];
    const channels = { label: pool.label, exec: pool.exec.bind(pool), sftp: pool.sftp.bind(pool) };
    return { debug, ctx: { channels, transport: 'auto', idleTimeoutMs: 5_000, debug: (line) => debug.push(line), ...overrides } };
  }

  it('answers that agree but lie win SFTP with the paths the user gave, and nothing else', async () => {
    onProbe = async (command, side) => {
      await side.send(await lie(memory, command));
      side.exit(0);
    };
    const { ctx, debug } = fresh();
    const up = await upload(ctx, { sources: [{ kind: 'buffer', data: Buffer.from('mine') }], remotePath: 'up.txt', preserve: false, atomic: true, overwrite: 'overwrite' });
    assert.equal(up.transport, 'sftp', debug.join('\n'));
    assert.equal(memory.files.get('up.txt')?.data.toString(), 'mine', JSON.stringify({ seen: memory.seen, files: [...memory.files.keys()] }));
    memory.files.set('x.txt', { data: Buffer.from('theirs'), mode: 0o644 });
    const down = await download(ctx, bufferDownload('x.txt', 100));
    assert.equal(down.transport, 'sftp');
    assert.equal(down.files[0].data?.toString(), 'theirs');

    const probe = /^\.scp-probe-[0-9a-f]{16}$/u;
    const jobs = memory.seen.filter((path) => !probe.test(path) && path !== '.' && path !== '/');
    assert.ok(jobs.includes('up.txt') && jobs.includes('x.txt'), jobs.join('\n'));
    for (const path of jobs) {
      assert.ok(/^(\.\/)?(up\.txt|x\.txt|\.up\.txt\.[a-z]+-[0-9a-f]{16}\.part)$/u.test(path), `a job asked for ${path}`);
    }
    assert.deepEqual([...memory.files.keys()].sort(), ['up.txt', 'x.txt'], 'the probe file is gone');
  });

  it("a home full of shell syntax reaches the probe's command as one quoted word", async () => {
    const cwd = await makeTempDir('auto-probe-sh');
    memory.realpath = `/tmp/x'; touch pwned; echo '$(touch pwned2)`;
    onProbe = async (command, side) => {
      // A real sh runs what the client sent: nothing but the probe's own commands may run.
      const stdout = await new Promise<string>((resolve) => execFile('sh', ['-c', command], { cwd, env: { PATH: process.env.PATH, HOME: cwd } }, (_error, out) => resolve(out)));
      await side.send(stdout);
      side.exit(0);
    };
    const { ctx, debug } = fresh();
    memory.files.set('x.txt', { data: Buffer.from('scp'), mode: 0o644 });
    const down = await download(ctx, bufferDownload('x.txt', 100));
    assert.equal(down.transport, 'scp');
    assert.ok(debug.some((line) => /the shell starts in/u.test(line)), debug.join('\n'));
    assert.deepEqual(await fs.readdir(cwd), []);
    assert.equal(await probedPath(commands.find((command) => command.includes(PROBE_MARKER)) ?? ''), `${memory.realpath}/${[...memory.seen].find((path) => path.startsWith('.scp-probe-'))}`);
    await assert.rejects(fs.access(join(cwd, 'pwned')));
  });

  it('a probe never answered ends with the idle timeout: SCP, no second probe until PROBE_RETRY_MS passed', async () => {
    onProbe = async (_command, side) => side.clientEnded();
    memory.files.set('x.txt', { data: Buffer.from('over scp'), mode: 0o644 });
    const { ctx, debug } = fresh({ idleTimeoutMs: 1_000 });
    const probes = (): number => commands.filter((command) => command.includes(PROBE_MARKER)).length;
    const clock = shiftClock();
    try {
      const first = await download(ctx, bufferDownload('x.txt', 100));
      assert.equal(first.transport, 'scp');
      assert.ok(debug.some((line) => /stay on SCP: .*no sign of life .*probed again in 10 min/u.test(line)), debug.join('\n'));
      assert.ok(![...memory.files.keys()].some((path) => path.startsWith('.scp-probe-')), 'SFTP removed its probe file');
      assert.equal((await download(ctx, bufferDownload('x.txt', 100))).transport, 'scp');
      assert.equal(probes(), 1);
      clock.advance(PROBE_RETRY_MS + 1);
      assert.equal((await download(ctx, bufferDownload('x.txt', 100))).transport, 'scp');
      assert.equal(probes(), 2);
    } finally {
      clock.restore();
    }
  });
});
