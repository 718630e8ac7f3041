import assert from 'assert';
import { execFileSync } from 'child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { TransferError } from '../../src/errors';
import { buildScpCommand } from '../../src/scp';
import { quoteForShell, quoteForShellBytes } from '../../src/shell-quote';
import { seededRandom } from '../support';

const NASTY = [
  "'", "'", '"', '$', '`', '\\', ';', '|', '&', '>', '<', '*', '?', '~', '{', '}', '[', ']', '(', ')', ' ', '\t',
  '\n', '\r', '-', '#', '!', '=', '%', '^', '$(', '${IFS}', "'\\''", 'é', '日本', '\u202e', '\x1b', '😀', 'a', 'Z', '0',
];

function randomPath(random: () => number): string {
  const length = 1 + Math.floor(random() * 12);
  let out = random() < 0.2 ? '-' : '';
  for (let i = 0; i < length; i += 1) out += NASTY[Math.floor(random() * NASTY.length)];
  return out;
}

/**
 * Runs a script file with sh (in a throwaway directory, so a quoting regression can only write there)
 * and returns its stdout bytes.
 */
function runSh(script: Buffer | string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'scp-quote-'));
  try {
    const file = join(dir, 'script.sh');
    writeFileSync(file, script);
    return execFileSync('sh', [file], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('scp quoting', () => {
  it('quotes a plain path, and a path with a single quote', () => {
    assert.strictEqual(quoteForShell('/tmp/a b'), "'/tmp/a b'");
    assert.strictEqual(quoteForShell("it's"), "'it'\\''s'");
  });

  it('refuses an empty path and a NUL byte (EINVAL)', () => {
    for (const bad of ['', 'a\0b']) {
      assert.throws(() => quoteForShell(bad), (error: unknown) => error instanceof TransferError && error.code === 'EINVAL');
      assert.throws(() => quoteForShellBytes(Buffer.from(bad)), (error: unknown) => error instanceof TransferError && error.code === 'EINVAL');
    }
  });

  it('survives sh -c "printf %s <quoted>" for individual hostile strings', () => {
    // The injections only touch a marker in a throwaway directory: a regression must not be destructive.
    const dir = mkdtempSync(join(tmpdir(), 'scp-quote-marker-'));
    const marker = join(dir, 'pwned');
    try {
      const injections = [`'; touch ${marker} #`, `$(touch ${marker})`, `\`touch ${marker}\``, `"; touch ${marker}; "`];
      for (const path of [...injections, '$(id)', '`id`', '-rf', '~root', 'a\nb', '*', "''", '\\', '${HOME}']) {
        const printed = execFileSync('sh', ['-c', `printf '%s' ${quoteForShell(path)}`], { cwd: dir });
        assert.strictEqual(printed.toString('utf8'), path);
        assert.ok(!existsSync(marker), `quoting let a command run: ${JSON.stringify(path)}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('property: 3000 random hostile strings come back exactly from sh', function () {
    this.timeout(30000);
    const seed = 20261123;
    const random = seededRandom(seed);
    const paths: string[] = [];
    for (let i = 0; i < 3000; i += 1) paths.push(randomPath(random));
    // One sh process per 500 strings: each is one word in a printf call, output NUL-separated.
    for (let start = 0; start < paths.length; start += 500) {
      const batch = paths.slice(start, start + 500);
      const script = batch.map((path) => `printf '%s\\0' ${quoteForShell(path)}`).join('\n') + '\n';
      const printed = runSh(script).toString('utf8').split('\0');
      printed.pop();
      assert.strictEqual(printed.length, batch.length, `seed ${seed}: sh printed ${printed.length} words for ${batch.length}`);
      batch.forEach((path, index) => assert.strictEqual(printed[index], path, `seed ${seed}, string ${start + index}`));
    }
  });

  it('property: raw bytes (invalid UTF-8) come back exactly from sh', function () {
    this.timeout(30000);
    const random = seededRandom(7);
    const paths: Buffer[] = [];
    for (let i = 0; i < 500; i += 1) {
      const bytes = Buffer.alloc(1 + Math.floor(random() * 16));
      for (let j = 0; j < bytes.length; j += 1) bytes[j] = 1 + Math.floor(random() * 255); // never NUL
      paths.push(bytes);
    }
    const lines = paths.map((path) => Buffer.concat([Buffer.from("printf '%s\\0' "), quoteForShellBytes(path), Buffer.from('\n')]));
    const printed = runSh(Buffer.concat(lines));
    const expected = Buffer.concat(paths.flatMap((path) => [path, Buffer.from([0])]));
    assert.ok(printed.equals(expected), 'sh printed different bytes');
  });

  describe('buildScpCommand', () => {
    it('builds the sink and source commands with flags and --', () => {
      assert.strictEqual(buildScpCommand('/tmp/x', { role: 'sink' }), "scp -t -- '/tmp/x'");
      assert.strictEqual(
        buildScpCommand('/tmp/d', { role: 'sink', recursive: true, preserve: true, targetIsDirectory: true }),
        "scp -t -r -p -d -- '/tmp/d'",
      );
      assert.strictEqual(buildScpCommand('-x', { role: 'source', recursive: true, preserve: true }), "scp -f -r -p -- '-x'");
      assert.strictEqual(buildScpCommand('f', { role: 'source', targetIsDirectory: true }), "scp -f -- 'f'");
    });

    it('gives a Buffer for a Buffer path, keeping invalid UTF-8 bytes', () => {
      const path = Buffer.from([0x2f, 0x74, 0xff, 0x27, 0x80]);
      const command = buildScpCommand(path, { role: 'source' });
      assert.ok(Buffer.isBuffer(command));
      assert.ok(
        command.equals(Buffer.concat([Buffer.from("scp -f -- '/t"), Buffer.from([0xff]), Buffer.from("'\\''"), Buffer.from([0x80, 0x27])])),
      );
    });

    it('reaches the shell as exactly three words: the flags, --, and the path', () => {
      const path = "-r ; echo pwned '$(id)'";
      const command = buildScpCommand(path, { role: 'sink', recursive: true });
      const printed = execFileSync('sh', ['-c', command.replace(/^scp /, "printf '%s\\n' ")]).toString('utf8');
      assert.strictEqual(printed, `-t\n-r\n--\n${path}\n`);
    });

    it('refuses a NUL byte in the path (EINVAL)', () => {
      assert.throws(() => buildScpCommand('a\0', { role: 'sink' }), (error: unknown) => error instanceof TransferError && error.code === 'EINVAL');
    });
  });
});
