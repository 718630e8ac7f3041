/**
 * Remote path quoting, checked on the server's filesystem (issue 3): thousands of generated names full of
 * shell syntax land under exactly their name, nothing else appears, and no command ran.
 */
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { upload } from '../../src/transfer';
import { type SshdServer, makeServerDir, runAsUser } from '../harness';
import { context, sq, useSharedPool } from './support';

// Names cannot hold '/': the injected commands create this file in the remote working directory (home).
const MARKER = `pwned-${crypto.randomBytes(4).toString('hex')}`;
const PIECES = [
  "'", '"', '$', '`', ';', '|', '&', '>', '<', '*', '?', '~', '{', '}', '(', ')', '[', ']', ' ', '\n', '\t', '\\', '!', '#',
  '%', '^', '=', '+', ',', ':', '@', '-', 'a', 'b', 'Z', '0', '9', '.', 'é', '✓', '日本', '🙂', '$(id)', '${HOME}', '`id`',
  `$(touch ${MARKER})`, `\`touch ${MARKER}\``, `;touch ${MARKER};`, `|touch ${MARKER}`, "'$(touch " + MARKER + ")'",
];

/** A deterministic generator (seeded), so a failure can be reproduced. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function generateNames(count: number, seed: number, allowNewline: boolean): string[] {
  const random = generator(seed);
  const names = new Set<string>();
  while (names.size < count) {
    let name = random() < 0.15 ? '-' : '';
    const pieces = 1 + Math.floor(random() * 8);
    for (let i = 0; i < pieces; i += 1) name += PIECES[Math.floor(random() * PIECES.length)];
    if (!allowNewline) name = name.replace(/\n/g, '_');
    if (name === '.' || name === '..' || Buffer.byteLength(name) > 200) continue;
    names.add(name);
  }
  return [...names];
}

/** Every entry below dir, as raw bytes (find -print0), relative names. */
async function remoteNames(server: SshdServer, dir: string): Promise<Buffer[]> {
  const out = await runAsUser(server, `cd ${sq(dir)} && find . -mindepth 1 -print0`);
  assert.equal(out.code, 0, out.stderr);
  const names: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < out.stdout.length; i += 1) {
    if (out.stdout[i] === 0) {
      names.push(out.stdout.subarray(start + 2, i)); // drop "./"
      start = i + 1;
    }
  }
  return names;
}

function sortedHex(names: Buffer[]): string[] {
  return names.map((name) => name.toString('hex')).sort();
}

describe('transfer: remote path quoting property (real sshd)', function () {
  this.timeout(120_000);
  const shared = useSharedPool();

  const variants = [
    { atomic: true, overwrite: 'overwrite', how: 'atomic overwrite: staging directory + one mv, newline names by temp name + mv' },
    { atomic: true, overwrite: 'fail', how: 'atomic fail: temp name + ln per file' },
    { atomic: false, overwrite: 'fail', how: 'direct: names in C records' },
  ] as const;
  for (const [index, { atomic, overwrite, how }] of variants.entries()) {
    it(`1000 generated names land exactly, nothing runs (${how})`, async function () {
      // Names travel in C records when not atomic, and a record line cannot hold a newline.
      const names = generateNames(1000, index + 1, atomic);
      const dir = await makeServerDir(shared.server, `quote-${index}`);
      const batch = 250;
      for (let at = 0; at < names.length; at += batch) {
        const slice = names.slice(at, at + batch);
        const result = await upload(context(shared.channels), {
          sources: slice.map((name, index) => ({ kind: 'buffer' as const, data: Buffer.from(`#${at + index}`), name })),
          remotePath: dir.relative,
          preserve: false,
          atomic,
          overwrite,
        });
        assert.equal(result.files.length, slice.length);
      }
      const landed = await remoteNames(shared.server, dir.relative);
      assert.deepEqual(sortedHex(landed), sortedHex(names.map((name) => Buffer.from(name))));
      // Each file holds its own index: no name was swapped for another.
      const probe = [0, 17, 333, 999].map((i) => `cat -- ${sq(`${dir.relative}/${names[i]}`)}; echo`).join(';');
      const contents = await runAsUser(shared.server, probe);
      assert.equal(contents.stdout.toString(), '#0\n#17\n#333\n#999\n');
      assert.equal(existsSync(join(shared.server.home, MARKER)), false, 'a name ran a command on the server');
    });
  }

  it('single-file uploads to generated paths, including invalid UTF-8 bytes (remotePathBytes)', async function () {
    const dir = await makeServerDir(shared.server, 'quote-bytes');
    const random = generator(3);
    const expected: Buffer[] = [];
    const names = generateNames(60, 4, true);
    for (let i = 0; i < names.length; i += 1) {
      let name = Buffer.from(names[i]);
      if (i % 2 === 0) {
        // Lone continuation bytes, an overlong sequence, 0xff: not UTF-8 at all.
        const invalid = [Buffer.from([0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xff, 0xfe]), Buffer.from([0xed, 0xa0, 0x80])];
        name = Buffer.concat([name, invalid[Math.floor(random() * invalid.length)]]);
      }
      expected.push(name);
      await upload(context(shared.channels), {
        sources: [{ kind: 'buffer', data: Buffer.from(String(i)) }],
        remotePath: '',
        remotePathBytes: Buffer.concat([Buffer.from(`${dir.relative}/`), name]),
        preserve: false,
        atomic: i % 3 !== 0,
        overwrite: 'fail',
      });
    }
    const landed = await remoteNames(shared.server, dir.relative);
    assert.deepEqual(sortedHex(landed), sortedHex(expected));
    assert.equal(existsSync(join(shared.server.home, MARKER)), false, 'a name ran a command on the server');
  });
});
