/**
 * A scripted SFTP server for the hostile tests: the sftp subsystem of the harness's fake ssh2 server,
 * answering from a virtual tree that a test row defines. A row can make a listing say anything (names
 * that climb out, slashes, empty, over-long, raw non-UTF-8 bytes, endless pieces), make links loop, make
 * a file grow or shrink while read, or never answer a request (a stall). It counts the handles it gave
 * out and got back, so a test can see that the client closed every one.
 */
import { type SFTPWrapper, utils } from 'ssh2';
import { startFakeServer, type FakeExecHandler, type FakeServer } from '../harness';

const { STATUS_CODE } = utils.sftp;

/** What a listing piece holds: a name (with the raw bytes to put on the wire instead, when set) and what it is. */
export interface ListEntry {
  name: string;
  /** sent on the wire in place of `name`'s bytes (same length): names that are not valid UTF-8 */
  raw?: Buffer;
  /** its attributes (default: what the tree holds at that path, links not followed; else a small file) */
  node?: SftpNode;
}

/** One READDIR answer: a piece of entries, or never answer it. */
export type ListPiece = ListEntry[] | 'stall';

/** One READ answer: bytes (may be shorter than asked), the end of the file, or never answer it. */
export type ReadAnswer = Buffer | 'eof' | 'stall';

export type SftpNode =
  | { type: 'dir'; mode?: number; stall?: 'stat' | 'list'; pieces?: () => Iterator<ListPiece> }
  | { type: 'file'; content: Buffer; mode?: number; size?: number; stall?: 'stat' | 'open'; read?: (offset: number, length: number) => ReadAnswer }
  | { type: 'link'; target: string };

/** The virtual tree: absolute path -> node (a function, so trees can be endless). */
export type SftpTree = (path: string) => SftpNode | undefined;

export interface ScriptedSftp {
  fake: FakeServer;
  /** the tree the next requests are answered from */
  tree: SftpTree;
  /** sftp subsystem sessions opened */
  sessions: number;
  /** handles given out and not closed yet */
  openHandles(): number;
}

/** The children of `dir` in a record-built tree (what a directory without `pieces` lists). */
function childrenOf(record: Record<string, SftpNode>, dir: string): ListEntry[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return Object.keys(record)
    .filter((path) => path.startsWith(prefix) && path.length > prefix.length && !path.slice(prefix.length).includes('/'))
    .map((path) => ({ name: path.slice(prefix.length) }));
}

function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Follows links in every component (and in the last one when `followLast`); undefined for a loop or a dangling link. */
function resolvePath(tree: SftpTree, path: string, followLast: boolean, hops = 0): string | undefined {
  if (hops > 16) return undefined;
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  let current = '/';
  for (let i = 0; i < parts.length; i += 1) {
    if (parts[i] === '..') {
      current = current.slice(0, Math.max(1, current.lastIndexOf('/')));
      continue;
    }
    const next = joinPath(current, parts[i]);
    const node = tree(next);
    const last = i === parts.length - 1;
    if (node?.type === 'link' && (!last || followLast)) {
      const resolved = resolvePath(tree, node.target, true, hops + 1);
      if (resolved === undefined) return undefined;
      current = resolved;
    } else {
      current = next;
    }
  }
  return current;
}

const NOW = Math.floor(Date.UTC(2024, 0, 2, 3, 4, 5) / 1000);

function attrsOf(node: SftpNode): { mode: number; size: number; uid: number; gid: number; atime: number; mtime: number } {
  const base = { uid: 1000, gid: 1000, atime: NOW, mtime: NOW };
  if (node.type === 'dir') return { ...base, mode: 0o040000 | (node.mode ?? 0o755), size: 4096 };
  if (node.type === 'link') return { ...base, mode: 0o120777, size: node.target.length };
  return { ...base, mode: 0o100000 | (node.mode ?? 0o644), size: node.size ?? node.content.length };
}

/**
 * Sends `send()`'s packet with `raw` put in place of the first occurrence of `placeholder` (same
 * length): ssh2 only sends names as UTF-8 strings, a hostile server sends any bytes.
 */
function withRawBytes(sftp: SFTPWrapper, swaps: { placeholder: Buffer; raw: Buffer }[], send: () => void): void {
  const protocol = (sftp as unknown as { _protocol: { channelData: (id: number, data: Buffer) => void } })._protocol;
  const original = protocol.channelData;
  protocol.channelData = function patched(this: unknown, id: number, data: Buffer): void {
    const copy = Buffer.from(data);
    for (const { placeholder, raw } of swaps) {
      const at = copy.indexOf(placeholder);
      if (at >= 0) raw.copy(copy, at);
    }
    original.call(this, id, copy);
  };
  try {
    send();
  } finally {
    protocol.channelData = original;
  }
}

/** The fake server with the scripted sftp subsystem; exec requests go to `exec` (default: exit 127, no scp). */
export async function startScriptedSftp(exec?: FakeExecHandler): Promise<ScriptedSftp> {
  let handleCounter = 0;
  const open = new Map<string, { path: string; kind: 'file' | 'dir'; pieces?: Iterator<ListPiece> }>();
  const state: ScriptedSftp = {
    fake: undefined as unknown as FakeServer,
    tree: () => undefined,
    sessions: 0,
    openHandles: () => open.size,
  };
  const noScp: FakeExecHandler = ({ channel }) => {
    channel.stderr.write('sh: 1: scp: not found\n');
    channel.exit(127);
    channel.end();
  };
  state.fake = await startFakeServer(exec ?? noScp, {
    sftp: ({ sftp }) => {
      state.sessions += 1;
      // The client ends its side when the job is done: close ours, so its channel slot frees.
      sftp.on('end', () => {
        try {
          sftp.end();
        } catch {
          // already closed
        }
      });
      const lookup = (path: string, followLast: boolean): { path: string; node: SftpNode } | undefined => {
        const resolved = resolvePath(state.tree, path, followLast);
        const node = resolved === undefined ? undefined : state.tree(resolved);
        return resolved === undefined || node === undefined ? undefined : { path: resolved, node };
      };
      const newHandle = (path: string, kind: 'file' | 'dir', pieces?: Iterator<ListPiece>): Buffer => {
        const id = String((handleCounter += 1));
        open.set(id, { path, kind, ...(pieces ? { pieces } : {}) });
        return Buffer.from(id);
      };
      const answerStat = (reqid: number, path: string, follow: boolean): void => {
        const found = lookup(path, follow);
        if (!found) return void sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
        if ((found.node.type === 'file' || found.node.type === 'dir') && found.node.stall === 'stat') return;
        sftp.attrs(reqid, attrsOf(found.node));
      };
      sftp.on('STAT', (reqid: number, path: string) => answerStat(reqid, path, true));
      sftp.on('LSTAT', (reqid: number, path: string) => answerStat(reqid, path, false));
      sftp.on('REALPATH', (reqid: number, path: string) => {
        sftp.name(reqid, [{ filename: resolvePath(state.tree, path, true) ?? path, longname: '', attrs: {} as never }]);
      });
      sftp.on('OPENDIR', (reqid: number, path: string) => {
        const found = lookup(path, true);
        if (!found) return void sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
        if (found.node.type !== 'dir') return void sftp.status(reqid, STATUS_CODE.FAILURE, 'not a directory');
        const dirPath = found.path;
        const node = found.node;
        const pieces =
          node.pieces?.() ??
          (function* defaultPieces(): Iterator<ListPiece> {
            if (node.stall === 'list') yield 'stall';
            yield [{ name: '.' }, { name: '..' }];
            // A function tree's children are not enumerable: only a record-built tree (listedTree) lists them.
            const children = listingOf(state.tree, dirPath);
            if (children.length > 0) yield children;
          })();
        sftp.handle(reqid, newHandle(dirPath, 'dir', pieces));
      });
      sftp.on('READDIR', (reqid: number, handle: Buffer) => {
        const entry = open.get(handle.toString());
        if (!entry || entry.kind !== 'dir' || !entry.pieces) return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
        const next = entry.pieces.next();
        if (next.done) return void sftp.status(reqid, STATUS_CODE.EOF);
        if (next.value === 'stall') return;
        const names = next.value.map((item) => {
          const node = item.node ?? lookup(joinPath(entry.path, item.name), false)?.node ?? { type: 'file' as const, content: Buffer.from('x') };
          return { filename: item.name, longname: item.name, attrs: attrsOf(node) };
        });
        const swaps = next.value.filter((item) => item.raw).map((item) => ({ placeholder: Buffer.from(item.name), raw: item.raw as Buffer }));
        withRawBytes(sftp, swaps, () => sftp.name(reqid, names));
      });
      sftp.on('OPEN', (reqid: number, path: string) => {
        const found = lookup(path, true);
        if (!found) return void sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
        if (found.node.type !== 'file') return void sftp.status(reqid, STATUS_CODE.FAILURE, 'not a regular file');
        if (found.node.stall === 'open') return;
        sftp.handle(reqid, newHandle(found.path, 'file'));
      });
      sftp.on('READ', (reqid: number, handle: Buffer, offset: number, length: number) => {
        const entry = open.get(handle.toString());
        const node = entry && state.tree(entry.path);
        if (!entry || node?.type !== 'file') return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
        const answer = node.read ? node.read(offset, length) : offset >= node.content.length ? 'eof' : node.content.subarray(offset, offset + length);
        if (answer === 'stall') return;
        if (answer === 'eof') return void sftp.status(reqid, STATUS_CODE.EOF);
        sftp.data(reqid, answer);
      });
      sftp.on('FSTAT', (reqid: number, handle: Buffer) => {
        const entry = open.get(handle.toString());
        const node = entry && state.tree(entry.path);
        if (!node) return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
        sftp.attrs(reqid, attrsOf(node));
      });
      sftp.on('CLOSE', (reqid: number, handle: Buffer) => {
        open.delete(handle.toString());
        sftp.status(reqid, STATUS_CODE.OK);
      });
    },
  });
  return state;
}

/** The record-built trees remember their record so a directory can list its children. */
const records = new WeakMap<SftpTree, Record<string, SftpNode>>();

/** A tree from a plain record (absolute path -> node); its directories without `pieces` list their children. */
export function listedTree(record: Record<string, SftpNode>): SftpTree {
  const tree: SftpTree = (path) => record[path];
  records.set(tree, record);
  return tree;
}

function listingOf(tree: SftpTree, dir: string): ListEntry[] {
  const record = records.get(tree);
  return record ? childrenOf(record, dir) : [];
}
