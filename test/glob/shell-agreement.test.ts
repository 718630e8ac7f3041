/**
 * The shell is the specification: for generated patterns and names (brackets, ranges, negation, classes,
 * `*`, `?`, spaces, backslashes, quotes, dots and dotfiles, UTF-8 and invalid bytes, newlines), the
 * remote command of an SCP glob download (src/scp/glob-command.ts, ending in `printf` instead of
 * `scp -f`) run by dash, bash (also with a hostile ~/.bashrc's options and a UTF-8 locale) and busybox
 * ash in a directory holding those names lists exactly the names the matcher accepts; `.` and `..`
 * never. Seeded: GLOB_SEED=<n> reproduces a run (the seed is printed).
 */
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TransferError } from '../../src/errors';
import { Glob } from '../../src/glob';
import { globListScript } from '../../src/scp/glob-command';
import { seededRandom } from '../support';

/** The shells a server may run commands with (the script comes on stdin). */
const SHELLS: { label: string; argv: string[]; env?: Record<string, string> }[] = [
  { label: 'dash', argv: ['/bin/dash'] },
  { label: 'bash', argv: ['/bin/bash'] },
  {
    label: 'bash with dotglob, nocaseglob, failglob, nullglob, GLOBIGNORE, UTF-8 locale',
    argv: ['/bin/bash', '-O', 'dotglob', '-O', 'nocaseglob', '-O', 'failglob', '-O', 'nullglob', '-O', 'nocasematch'],
    env: { GLOBIGNORE: '*a*', LC_ALL: 'C.UTF-8' },
  },
  { label: 'busybox ash', argv: ['busybox', 'sh'] },
];

/** Instead of `exec scp -f --`: the shell's own printf, one NUL-terminated path each. */
const RUN = { program: 'printf', command: "printf '%s\\0'" };

/** Name bytes: ASCII specials, letters of both cases, UTF-8 characters, an invalid byte. */
const NAME_PIECES: Buffer[] = [
  'a', 'b', 'c', 'A', 'B', 'x', '1', '7', '.', ' ', '-', '_', '\\', '[', ']', '!', '^', '*', '?', "'", '"', '$', '(', ')', '{', ',', '}',
  ':', '~', '#', '\t', '\n', 'é', '中', '😀',
].map((piece) => Buffer.from(piece, 'utf8')).concat([Buffer.from([0xff]), Buffer.from([0xc3])]);

/** Pattern pieces outside brackets: literals (escaped where the dialect needs it), wildcards, odd brackets. */
const PATTERN_PIECES: string[] = [
  'a', 'b', 'A', 'x', '1', '.', ' ', '-', '_', "'", '"', '$', '(', ')', '{', ',', '}', ':', '~', '#', 'é', '中', '\t',
  '\\\\', '\\*', '\\?', '\\[', '\\]', '\\a', '\\.', ']', '[', '!', '^',
  '*', '*', '?', '?', '$(touch pwned)', '`touch pwned`', ';touch pwned;',
];

/** Members inside brackets. */
const MEMBERS: string[] = [
  'a', 'b', 'c', 'A', 'x', '1', '.', ' ', '_', '-', '!', '^', "'", '"', '$', '{', ',', '(', '*', '?', '[', '\\]', '\\\\', '\\-', '\\!',
  '[:alpha:]', '[:digit:]', '[:punct:]', '[:space:]', '[:upper:]', '[:lower:]', '[:cntrl:]', '[:alnum:]', '[:print:]',
  'a-c', 'A-Z', '0-9', ' -/', '!-~', '*-?', '\\--a',
];

function pick<T>(next: () => number, items: T[]): T {
  return items[Math.floor(next() * items.length)];
}

function bracket(next: () => number): string {
  let text = '[' + pick(next, ['', '', '!', '^']);
  if (next() < 0.15) text += ']';
  for (let i = 0, n = 1 + Math.floor(next() * 3); i < n; i += 1) text += pick(next, MEMBERS);
  if (next() < 0.1) text += '-';
  return text + ']';
}

function pattern(next: () => number): string {
  const lead = next();
  let text = lead < 0.15 ? '.' : lead < 0.2 ? '\\.' : lead < 0.25 ? '..' : '';
  for (let i = 0, n = 1 + Math.floor(next() * 4); i < n; i += 1) text += next() < 0.3 ? bracket(next) : pick(next, PATTERN_PIECES);
  return text;
}

function randomName(next: () => number): Buffer {
  const parts: Buffer[] = [];
  if (next() < 0.25) parts.push(Buffer.from('.'));
  for (let i = 0, n = 1 + Math.floor(next() * 5); i < n; i += 1) parts.push(pick(next, NAME_PIECES));
  return Buffer.concat(parts);
}

/** A name the pattern may match: wildcards and brackets replaced by random pieces, escapes removed; kept when it does. */
function nameFor(glob: Glob, next: () => number): Buffer | undefined {
  const oneByte = NAME_PIECES.filter((piece) => piece.length === 1);
  const chars = Array.from(glob.pattern);
  for (let attempt = 0; attempt < 30; attempt += 1) {
    const parts: Buffer[] = [];
    for (let at = 0; at < chars.length; at += 1) {
      const char = chars[at];
      const close = char === '[' ? chars.indexOf(']', at + 2) : -1;
      if (char === '\\' && at + 1 < chars.length) parts.push(Buffer.from(chars[++at], 'utf8'));
      else if (char === '*') for (let n = Math.floor(next() * 3); n > 0; n -= 1) parts.push(pick(next, NAME_PIECES));
      else if (char === '?') parts.push(pick(next, oneByte));
      else if (close > 0) {
        parts.push(pick(next, oneByte));
        at = close;
      } else parts.push(Buffer.from(char, 'utf8'));
    }
    const candidate = Buffer.concat(parts);
    if (glob.matches(candidate)) return candidate;
  }
  return undefined;
}

/**
 * A generated pattern the dialect accepts: a refusal (a non-ASCII character inside brackets, checked in
 * matcher.test.ts) is the dialect's answer, not a disagreement; draw again.
 */
function draw(make: () => string): Glob {
  for (;;) {
    try {
      return Glob.parse(make());
    } catch (error) {
      if (!(error instanceof TransferError && error.code === 'EINVAL')) throw error;
    }
  }
}

function usable(name: Buffer): boolean {
  return name.length > 0 && name.length <= 200 && !name.includes(0x2f) && !name.equals(Buffer.from('.')) && !name.equals(Buffer.from('..'));
}

function sortBuffers(list: Buffer[]): string[] {
  return list.map((name) => name.toString('hex')).sort();
}

describe('glob engine: the remote shell and the matcher agree', function () {
  this.timeout(120_000);
  const seed = Number(process.env.GLOB_SEED ?? 20261201);
  let root: string;
  let cwd: string;

  before(function () {
    console.log(`      glob property seed ${seed} (GLOB_SEED=${seed} reproduces it)`);
    root = mkdtempSync(join(tmpdir(), 'glob-shell-'));
    cwd = mkdtempSync(join(tmpdir(), 'glob-cwd-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(cwd, { recursive: true, force: true });
  });

  it('busybox is installed (the ash of Dropbear devices)', function () {
    assert.equal(spawnSync('busybox', ['sh', '-c', 'echo ok']).stdout?.toString(), 'ok\n');
  });

  it('300 generated patterns over 30 directories of generated names: same names from every shell and the matcher', function () {
    const next = seededRandom(seed);
    let matched = 0;
    let empty = 0;
    let dotNames = 0;
    const disagreements: string[] = [];
    for (let d = 0; d < 30; d += 1) {
      const dir = join(root, `d${d}`);
      const dirBytes = Buffer.from(dir);
      const globs: Glob[] = [];
      while (globs.length < 10) globs.push(draw(() => pattern(next)));
      const names = new Map<string, Buffer>();
      for (let i = 0; i < 8; i += 1) {
        const name = randomName(next);
        if (usable(name)) names.set(name.toString('hex'), name);
      }
      for (const glob of globs) {
        const name = nameFor(glob, next);
        if (name !== undefined && usable(name)) names.set(name.toString('hex'), name);
      }
      execFileSync('mkdir', [dir]);
      for (const name of names.values()) writeFileSync(Buffer.concat([dirBytes, Buffer.from('/'), name]), 'x');
      const onDisk = readdirSync(dirBytes, { encoding: 'buffer' });
      assert.equal(onDisk.length, names.size, 'every generated name was created');
      dotNames += onDisk.filter((name) => name[0] === 0x2e).length;

      // One shell run per directory: each pattern's command in a subshell (it ends in exec), then a marker.
      const script = globs
        .map((glob) => `(${globListScript(dirBytes, glob, RUN).toString('utf8')}) 2>/dev/null; printf '\\001%s\\0' $?`)
        .join('\n');
      for (const shell of SHELLS) {
        const ran = spawnSync(shell.argv[0], shell.argv.slice(1), { input: script, cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...shell.env }, maxBuffer: 64 * 1024 * 1024 });
        assert.equal(ran.status, 0, `${shell.label}: ${ran.stderr?.toString()}`);
        const fields = splitNul(ran.stdout);
        for (const glob of globs) {
          const listed: Buffer[] = [];
          for (;;) {
            const field = fields.shift();
            assert.ok(field !== undefined, `${shell.label}: output ended early for ${JSON.stringify(glob.pattern)}`);
            if (field[0] === 0x01) {
              const status = field.subarray(1).toString();
              const expected = [...names.values()].filter((name) => glob.matches(name));
              const got = listed.map((path) => {
                assert.ok(path.subarray(0, dirBytes.length + 1).equals(Buffer.concat([dirBytes, Buffer.from('/')])), path.toString());
                return path.subarray(dirBytes.length + 1);
              });
              assert.ok(!got.some((name) => name.equals(Buffer.from('.')) || name.equals(Buffer.from('..'))), `${shell.label} listed . or ..`);
              const wantStatus = expected.length > 0 ? '0' : '1';
              if (status !== wantStatus || JSON.stringify(sortBuffers(got)) !== JSON.stringify(sortBuffers(expected))) {
                disagreements.push(
                  `${shell.label} (seed ${seed}, dir d${d}): pattern ${JSON.stringify(glob.pattern)} word ${JSON.stringify(glob.shellWord().toString('utf8'))}: ` +
                    `shell [${got.map(show).join(', ')}] status ${status}, matcher [${expected.map(show).join(', ')}]`,
                );
              }
              if (shell === SHELLS[0]) {
                if (expected.length > 0) matched += 1;
                else empty += 1;
              }
              break;
            }
            listed.push(field);
          }
        }
        assert.equal(fields.length, 0, `${shell.label}: trailing output`);
      }
    }
    assert.deepEqual(disagreements, []);
    assert.deepEqual(readdirSync(cwd), [], 'no pattern ran a command');
    // The generator must exercise both outcomes and hidden files, or the agreement proves little.
    assert.ok(matched > 100 && empty > 40, `matched ${matched}, matched nothing ${empty}`);
    assert.ok(dotNames > 15, `hidden names: ${dotNames}`);
  });

  it('a pattern full of shell syntax runs nothing and reports no match in an empty directory (300 patterns)', function () {
    const next = seededRandom(seed + 1);
    const dir = join(root, 'empty');
    execFileSync('mkdir', [dir]);
    const globs = Array.from({ length: 300 }, () =>
      draw(() => {
        let text = 'z';
        for (let i = 0, n = 1 + Math.floor(next() * 6); i < n; i += 1) text += pick(next, [...PATTERN_PIECES, '|', '&', '>', '<', ';', '\\', '$HOME', '${x}']);
        return text;
      }),
    );
    const script = globs.map((glob) => `(${globListScript(Buffer.from(dir), glob, RUN).toString('utf8')}); printf '\\001%s\\0' $?`).join('\n');
    for (const shell of SHELLS) {
      const ran = spawnSync(shell.argv[0], shell.argv.slice(1), { input: script, cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...shell.env } });
      assert.deepEqual(splitNul(ran.stdout).map((field) => field.toString('latin1')), globs.map(() => '\x011'), shell.label);
      const reports = ran.stderr.toString('utf8').split('\n').filter(Boolean);
      assert.equal(reports.length, globs.length, `${shell.label}: ${ran.stderr.toString()}`);
      reports.forEach((line, i) => assert.equal(line, `scp: ${dir}/${globs[i].pattern}: No such file or directory (nothing matches the pattern)`, shell.label));
    }
    assert.deepEqual(readdirSync(cwd), []);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('nothing matched and no such program: exit status 127 (how "no scp on the server" is recognised)', function () {
    const dir = join(root, 'none');
    execFileSync('mkdir', [dir]);
    const script = globListScript(Buffer.from(dir), Glob.parse('*.log'), { program: 'no-such-program-here', command: 'no-such-program-here' }).toString();
    for (const shell of SHELLS) {
      const ran = spawnSync(shell.argv[0], shell.argv.slice(1), { input: script, cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...shell.env } });
      assert.equal(ran.status, 127, shell.label);
    }
  });
});

function splitNul(output: Buffer): Buffer[] {
  const fields: Buffer[] = [];
  let start = 0;
  for (let at = output.indexOf(0); at >= 0; at = output.indexOf(0, start)) {
    fields.push(output.subarray(start, at));
    start = at + 1;
  }
  assert.equal(start, output.length, 'output ends with NUL');
  return fields;
}

function show(name: Buffer): string {
  return JSON.stringify(name.toString('latin1'));
}
