/**
 * The scripted fake server shared by the hostile tests, and the checks every row makes: the message is
 * clean and names the host, and the temp parent (target + canary) holds exactly what it should.
 */
import assert from 'assert';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { TransferError } from '../../src/errors';
import { SshPool } from '../../src/ssh';
import { makeTempDir, startFakeServer, type FakeServer } from '../harness';
import type { Leftover, Script } from './cases';
import { ServerSide } from './server-side';

/** The file every "does the pool still work" check downloads. */
export const OK_PATH = '/srv/ok.txt';
export const OK_CONTENT = Buffer.from('still fine\n');

export interface HostileServer {
  fake: FakeServer;
  /** the script the next non-OK exec runs */
  script: Script;
  /** the ServerSide of the last scripted exec (to read what it pushed) */
  lastSide: ServerSide | undefined;
  /** sftp subsystem requests seen (transport 'auto' must never fall back on a hostile reply) */
  sftpRequests: number;
}

/** A fake server whose exec channels run `state.script`, except downloads of OK_PATH, which succeed. */
export async function startHostileServer(): Promise<HostileServer> {
  const state: HostileServer = {
    fake: undefined as unknown as FakeServer,
    script: async () => undefined,
    lastSide: undefined,
    sftpRequests: 0,
  };
  state.fake = await startFakeServer(
    async ({ command, channel }) => {
      const side = new ServerSide(channel);
      if (command.includes(OK_PATH)) {
        await side.ack();
        await side.send(`C0644 ${OK_CONTENT.length} ok.txt\n`);
        await side.ack();
        await side.send(OK_CONTENT);
        await side.send('\0');
        await side.ack();
        side.exit(0);
        return;
      }
      state.lastSide = side;
      try {
        await state.script(side);
      } catch {
        // the client cuts hostile sessions short; a take() on a closed channel ends the script here
      }
      side.exit(1);
    },
    {
      sftp: ({ sftp }) => {
        state.sftpRequests += 1;
        sftp.end();
      },
    },
  );
  return state;
}

/** True when the text holds a raw C0/C1 control, DEL, a bidi mark/override/isolate, a zero-width or line separator. */
export function hasRawControls(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/u.test(text);
}

export function assertCleanMessage(message: string): void {
  assert.ok(!hasRawControls(message), `raw control characters in: ${JSON.stringify(message)}`);
  assert.ok(message.includes('127.0.0.1'), `the message does not name the host: ${message}`);
}

/** `caught` is the TransferError the row expects: its code, a clean message naming the host, the row's wording. */
export function assertRowFailure(caught: unknown, row: { code?: string; message?: RegExp }): void {
  assert.ok(caught instanceof TransferError, `expected ${row.code}, got ${caught === undefined ? 'success' : String(caught)}`);
  assert.strictEqual(caught.code, row.code, caught.message);
  assertCleanMessage(caught.message);
  if (row.message) assert.match(caught.message, row.message);
  if (process.env.HOSTILE_VERBOSE) console.log(`    ${caught.message.slice(0, 220)}`);
}

type Entry = { dir: true } | { size: number; sha: string };

/** Every entry below `root` (dotfiles included), with each file's size and digest. */
export async function snapshot(root: string): Promise<Record<string, Entry>> {
  const out: Record<string, Entry> = {};
  async function walk(dir: string, prefix: string): Promise<void> {
    for (const dirent of await fs.readdir(dir, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${dirent.name}` : dirent.name;
      const full = join(dir, dirent.name);
      if (dirent.isDirectory()) {
        out[rel] = { dir: true };
        await walk(full, rel);
      } else {
        const stats = await fs.lstat(full);
        const sha = stats.isFile() ? crypto.createHash('sha256').update(await fs.readFile(full)).digest('hex') : `not a file (${stats.mode.toString(8)})`;
        out[rel] = { size: stats.size, sha };
      }
    }
  }
  await walk(root, '');
  return out;
}

export interface Arena {
  parent: string;
  target: string;
  canary: string;
  canaryBefore: Record<string, Entry>;
}

/** A fresh temp dir holding the empty `target` and a sibling `canary` with a file and a dotfile. */
export async function makeArena(): Promise<Arena> {
  const parent = await makeTempDir('hostile');
  const target = join(parent, 'target');
  const canary = join(parent, 'canary');
  await fs.mkdir(target);
  await fs.mkdir(canary);
  await fs.writeFile(join(canary, 'pwned'), 'original\n');
  await fs.writeFile(join(canary, '.hidden'), 'keep\n');
  return { parent, target, canary, canaryBefore: await snapshot(canary) };
}

/** The parent holds exactly target + canary, the canary is untouched, the target holds exactly `leaves`. */
export async function assertArena(arena: Arena, leaves: Record<string, Leftover> = {}): Promise<void> {
  assert.deepStrictEqual((await fs.readdir(arena.parent)).sort(), ['canary', 'target'], 'something was written next to the target');
  assert.deepStrictEqual(await snapshot(arena.canary), arena.canaryBefore, 'the canary directory changed');
  const actual = await snapshot(arena.target);
  assert.deepStrictEqual(Object.keys(actual).sort(), Object.keys(leaves).sort(), 'unexpected entries (partial or temp files?) in the target');
  for (const [rel, expected] of Object.entries(leaves)) {
    const found = actual[rel];
    if ('dir' in expected) {
      assert.ok('dir' in found, `${rel} should be a directory`);
      continue;
    }
    assert.ok(!('dir' in found), `${rel} should be a file`);
    if ('content' in expected) {
      assert.strictEqual(found.sha, crypto.createHash('sha256').update(expected.content).digest('hex'), `${rel} has other content`);
    } else {
      assert.strictEqual(found.size, expected.size, `${rel} has another size`);
    }
  }
}

/** A pool logged in to a scripted fake server as its one user, host key pinned, no keepalives. */
export function poolForFake(fake: { host: string; port: number; password: string; hostKeyFingerprints: string[] }): SshPool {
  return new SshPool({
    host: fake.host,
    port: fake.port,
    username: 'victim',
    auth: { password: fake.password },
    hostKey: { kind: 'fingerprint', fingerprints: fake.hostKeyFingerprints },
    readyTimeoutMs: 10_000,
    keepaliveIntervalMs: 0,
  });
}
