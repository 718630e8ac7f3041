/**
 * Every hostile `scp -f` reply of the protocol notes ("What the server may not do to us"), as one table.
 * Each row: what the user asked for, what the fake server answers, and how the download must fail. Both
 * the engine test and the Node-RED test run rows from here.
 */
import type { TransferErrorCode } from '../../src/errors';
import type { DownloadLimits } from '../../src/transfer';
import type { ServerSide } from './server-side';

export type Script = (side: ServerSide) => Promise<void>;

/** exact: '/srv/x'; glob: '/srv/*.log'; tree: '/srv/data' recursively */
export type RequestKind = 'exact' | 'glob' | 'tree';

export const REMOTE_PATHS: Record<RequestKind, string> = { exact: '/srv/x', glob: '/srv/*.log', tree: '/srv/data' };

/** What a failed download may legitimately leave in the target: complete entries it accepted before the fault. */
export type Leftover = { dir: true } | { content: Buffer } | { size: number };

export interface HostileCase {
  name: string;
  request: RequestKind;
  script: Script;
  code: TransferErrorCode;
  /** also run with transport 'auto' (SFTP must not be tried) */
  auto?: boolean;
  idleTimeoutMs?: number;
  limits?: Partial<DownloadLimits>;
  /** complete entries accepted before the fault, relative to the target (default: the target stays empty) */
  leaves?: Record<string, Leftover>;
  /** what the message must mention besides the host */
  message?: RegExp;
  /** a flood: rss is watched; the server must have pushed at least/at most this much */
  flood?: { minPushed?: number; maxPushed?: number };
}

const MiB = 1024 * 1024;
export const STALL_TIMEOUT_MS = 300;
export const FLOOD_TIMEOUT_MS = 20_000;
/** escape sequences and a bidi override, as a hostile server would put them in names and messages */
const ESCAPES = '\x1b[2J\x1b]0;owned\x07\u202e\x9b31m';
const escapesLatin1 = Buffer.from(ESCAPES, 'utf8').toString('latin1');

/** The first record after the client's start signal. */
function replies(...chunks: string[]): Script {
  return async (side) => {
    await side.ack();
    for (const chunk of chunks) if (!(await side.send(chunk))) return;
    await side.clientEnded();
  };
}

/** Sends each record only after the client's ack (its start signal first); false when the channel closed. */
async function sendAcked(side: ServerSide, records: string[]): Promise<boolean> {
  for (const record of records) {
    await side.ack();
    if (!(await side.send(record))) return false;
  }
  return true;
}

/** Each record after an ack, then waits for the client to give up. */
function acked(...records: string[]): Script {
  return async (side) => {
    if (await sendAcked(side, records)) await side.clientEnded();
  };
}

/** Each record after an ack, then the server's scp exits 0: EOF where the client needs more. */
function ackedThenExit(...records: string[]): Script {
  return async (side) => {
    await sendAcked(side, records);
    side.exit(0);
  };
}

/** A complete, valid file record exchange: record, ack, data, \0, ack. */
async function sendFile(side: ServerSide, name: string, content: Buffer): Promise<void> {
  await side.send(`C0644 ${content.length} ${name}\n`);
  await side.ack();
  await side.send(content);
  await side.send('\0');
  await side.ack();
}

const X = Buffer.from('good');

export const HOSTILE_CASES: HostileCase[] = [
  // ---------------------------------------------------------------------------- names (traversal, absolute)
  { name: 'traversal name ../x', request: 'exact', script: replies('C0644 4 ../x\nevil\0'), code: 'EPROTO', auto: true },
  { name: 'traversal into the sibling canary', request: 'exact', script: replies('C0644 4 ../canary/pwned\nevil\0'), code: 'EPROTO' },
  { name: 'absolute name /tmp/x', request: 'exact', script: replies('C0644 4 /tmp/x\nevil\0'), code: 'EPROTO' },
  { name: 'name with a slash a/x', request: 'glob', script: replies('C0644 4 a/x.log\nevil\0'), code: 'EPROTO' },
  { name: "name '.' (file)", request: 'exact', script: replies('C0644 4 .\nevil\0'), code: 'EPROTO' },
  { name: "D0777 0 . (CVE-2018-20685)", request: 'tree', script: replies('D0777 0 .\n'), code: 'EPROTO', auto: true },
  { name: "name '..' inside a tree", request: 'tree', script: acked('D0755 0 data\n', 'D0755 0 ..\n'), code: 'EPROTO', leaves: { data: { dir: true } } },
  { name: 'empty name', request: 'exact', script: replies('C0644 4 \nevil\0'), code: 'EPROTO' },
  { name: 'name longer than 255 bytes', request: 'exact', script: replies(`C0644 4 ${'n'.repeat(300)}\nevil\0`), code: 'EPROTO' },
  { name: 'name that is not UTF-8', request: 'glob', script: replies('C0644 4 \xff\xfe.log\nevil\0'), code: 'EPROTO' },

  // -------------------------------------------------------------------------------- unrequested entries
  { name: 'unrequested file (CVE-2019-6111)', request: 'exact', script: replies('C0644 4 authorized_keys\nevil\0'), code: 'EPROTO', auto: true, message: /not requested/ },
  { name: 'a second file after the requested one', request: 'exact', script: async (side) => {
    await side.ack();
    await sendFile(side, 'x', X);
    await side.send('C0644 4 .bashrc\nevil\0');
    await side.clientEnded();
  }, code: 'EPROTO', leaves: { x: { content: X } } },
  { name: 'glob: a name outside the pattern', request: 'glob', script: replies('C0644 4 .bashrc\nevil\0'), code: 'EPROTO', message: /does not match/ },
  { name: 'tree: swapped top-level name', request: 'tree', script: replies('D0755 0 other\n'), code: 'EPROTO', auto: true },
  { name: 'tree: a second top-level entry', request: 'tree', script: acked('D0755 0 data\n', 'E\n', 'C0644 4 evil\nevil\0'), code: 'EPROTO', leaves: { data: { dir: true } } },

  // ---------------------------------------------------------------------------- directories for files
  { name: 'a directory where a file was requested', request: 'exact', script: replies('D0755 0 x\n'), code: 'EISDIR' },
  { name: 'glob without recursion: a directory', request: 'glob', script: replies('D0755 0 a.log\n'), code: 'EISDIR' },

  // --------------------------------------------------------------------------- malformed and oversized
  { name: 'malformed mode', request: 'exact', script: replies('C06x4 4 x\ngood\0'), code: 'EPROTO' },
  { name: 'negative size', request: 'exact', script: replies('C0644 -4 x\n'), code: 'EPROTO' },
  { name: 'size that is not plain digits', request: 'exact', script: replies('C0644 0x10 x\n'), code: 'EPROTO' },
  { name: 'size over the protocol maximum', request: 'exact', script: replies('C0644 99999999999999999999999 x\n'), code: 'EPROTO' },
  // 8 GiB: over the engine rows' 1 MiB cap and over any size cap the Node-RED node test sets
  { name: 'size over the configured cap', request: 'exact', script: replies(`C0644 ${8 * 1024 * MiB} x\n`), code: 'ETOOBIG', limits: { maxFileBytes: MiB } },
  { name: 'unknown record letter', request: 'exact', script: acked('T1 0 1 0\n', 'Z0644 4 x\n'), code: 'EPROTO', auto: true },

  // -------------------------------------------------------------------------- lying sizes, EOF, trailers
  { name: 'short data then EOF', request: 'exact', script: ackedThenExit('C0644 100 x\n', 'only ten b'), code: 'EPROTO' },
  { name: 'more data than announced', request: 'exact', script: acked('C0644 4 x\n', 'good and more\0'), code: 'EPROTO' },
  { name: 'data, then EOF without a trailer', request: 'exact', script: ackedThenExit('C0644 4 x\n', 'good'), code: 'EPROTO' },
  { name: 'bad trailer byte', request: 'exact', script: acked('C0644 4 x\n', 'good\x05'), code: 'EPROTO', message: /invalid byte/ },
  { name: 'fatal \\x02 trailer with escapes', request: 'exact', script: acked('C0644 4 x\n', `good\x02${escapesLatin1} lost\n`), code: 'EPROTO' },

  // ---------------------------------------------------------------------------------------- order
  { name: 'E at the top level', request: 'tree', script: replies('E\n'), code: 'EPROTO', auto: true },
  { name: 'T followed by E', request: 'tree', script: acked('D0755 0 data\n', 'T1 0 1 0\n', 'E\n'), code: 'EPROTO', leaves: { data: { dir: true } } },
  { name: 'T then EOF', request: 'exact', script: async (side) => {
    await sendAcked(side, ['T1 0 1 0\n']);
    await side.ack();
    side.exit(0);
  }, code: 'EPROTO' },
  { name: 'EOF inside a directory', request: 'tree', script: async (side) => {
    await sendAcked(side, ['D0755 0 data\n']);
    await sendFile(side, 'inner', X);
    side.exit(0);
  }, code: 'EPROTO', leaves: { data: { dir: true }, 'data/inner': { content: X } } },

  // ----------------------------------------------------------------------------- escapes in text
  { name: 'escape sequences in an unrequested name', request: 'exact', script: replies(`C0644 4 ${escapesLatin1}\nevil\0`), code: 'EPROTO' },
  { name: 'escape sequences in a \\x01 message, exit 1', request: 'exact', script: async (side) => {
    await side.ack();
    await side.send(`\x01scp: ${escapesLatin1} went wrong\n`);
    side.exit(1);
  }, code: 'EPROTO', message: /went wrong/ },
  { name: 'escape sequences on stderr, no scp reply, exit 1', request: 'exact', script: async (side) => {
    await side.send(`${escapesLatin1}scp: strange failure\n`, 'stderr');
    side.exit(1);
  }, code: 'EPROTO', message: /strange failure/ },

  // ---------------------------------------------------------------------------------------- stalls
  { name: 'stall before the first record', request: 'exact', script: replies(), code: 'ETIMEDOUT', idleTimeoutMs: STALL_TIMEOUT_MS, auto: true },
  { name: 'stall in the middle of the data', request: 'exact', script: acked('C0644 100 x\n', 'only some'), code: 'ETIMEDOUT', idleTimeoutMs: STALL_TIMEOUT_MS },
  { name: 'stall before the trailer', request: 'exact', script: acked('C0644 4 x\n', 'good'), code: 'ETIMEDOUT', idleTimeoutMs: STALL_TIMEOUT_MS },
  { name: 'stall inside a control line', request: 'tree', script: replies('D0755 0 da'), code: 'ETIMEDOUT', idleTimeoutMs: STALL_TIMEOUT_MS },

  // ------------------------------------------------------------------------------- caps on endless trees
  { name: 'endless directory depth', request: 'tree', script: async (side) => {
    await side.ack();
    for (let level = 0; level < 1000; level += 1) {
      if (!(await side.send(level === 0 ? 'D0755 0 data\n' : 'D0755 0 d\n'))) return;
      await side.ack();
    }
  }, code: 'ETOOBIG', limits: { maxDepth: 3 }, leaves: { data: { dir: true }, 'data/d': { dir: true }, 'data/d/d': { dir: true } } },
  { name: 'endless file records (file count cap)', request: 'glob', script: async (side) => {
    await side.ack();
    for (let n = 0; n < 100_000; n += 1) await sendFile(side, 'a.log', Buffer.alloc(0));
  }, code: 'ETOOBIG', limits: { maxFiles: 50 }, leaves: { 'a.log': { content: Buffer.alloc(0) } } },

  // ------------------------------------------------------------------------ floods (memory is watched)
  { name: 'flood: endless data after the announced size', request: 'exact', script: async (side) => {
    const size = 256 * MiB;
    const block = Buffer.alloc(MiB, 0x61);
    await side.ack();
    await side.send(`C0644 ${size} x\n`);
    await side.ack();
    await side.flood(block, size);
    await side.flood(block, 4096 * MiB);
  }, code: 'EPROTO', idleTimeoutMs: FLOOD_TIMEOUT_MS, flood: { minPushed: 256 * MiB }, message: /invalid byte/ },
  { name: 'flood: endless control line', request: 'exact', script: async (side) => {
    await side.ack();
    await side.send('C0644 4 ');
    await side.flood(Buffer.alloc(MiB, 0x6e), 4096 * MiB);
  }, code: 'EPROTO', idleTimeoutMs: FLOOD_TIMEOUT_MS, flood: { maxPushed: 32 * MiB }, message: /longer than/ },
  { name: 'flood: 200 MiB of stderr escapes while data flows, then a bad trailer', request: 'exact', script: async (side) => {
    const size = 64 * MiB;
    const data = Buffer.alloc(MiB, 0x64);
    const noise = Buffer.from(`${escapesLatin1}noise\n`.repeat(Math.ceil((256 * 1024) / 24)).slice(0, 256 * 1024), 'latin1');
    await side.ack();
    await side.send(`C0644 ${size} x\n`);
    await side.ack();
    for (let at = 0; at < size; at += data.length) {
      if (!(await side.send(data))) return;
      for (let i = 0; i < 13; i += 1) if (!(await side.send(noise, 'stderr'))) return;
    }
    await side.send('\x07');
    await side.clientEnded();
  }, code: 'EPROTO', idleTimeoutMs: FLOOD_TIMEOUT_MS, flood: { minPushed: 256 * MiB } },
  { name: 'flood: endless 4 MiB records of one name (total bytes cap)', request: 'glob', script: async (side) => {
    const content = Buffer.alloc(4 * MiB, 0x72);
    await side.ack();
    for (let n = 0; n < 1000; n += 1) await sendFile(side, 'a.log', content);
  }, code: 'ETOOBIG', idleTimeoutMs: FLOOD_TIMEOUT_MS, limits: { maxTotalBytes: 260 * MiB }, leaves: { 'a.log': { size: 4 * MiB } }, flood: { minPushed: 256 * MiB } },
];

export function hostileCase(name: string): HostileCase {
  const found = HOSTILE_CASES.find((row) => row.name === name);
  if (!found) throw new Error(`no hostile case named ${name}`);
  return found;
}
