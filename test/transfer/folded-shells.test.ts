/**
 * The folded single-file upload command (src/transfer/scp/folded-upload.ts) run by every login shell a
 * server may have (dash, bash, busybox ash, zsh) around the real OpenSSH `scp -t` of this machine, the
 * protocol spoken by the package's own ScpSource over the child's pipes. Per shell: the probe's answer
 * and the target it picks agree; the file lands complete at its final path and the temporary is gone;
 * hostile names ($(...), quotes, a newline, a leading '-') stay literal; a refusal before the record
 * (EOF) and the client's stop record (data half sent) leave nothing behind; "replace" off refuses an
 * existing file; a missing scp is exit status 127 right after the answer.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ScpSource } from '../../src/scp';
import { remoteTempName } from '../../src/transfer/leftovers/temp-name';
import type { LoneUpload } from '../../src/transfer/walk/lone-upload';
import { PLACED_MARKER, STOP_RECORD, foldedUploadCommand } from '../../src/transfer/scp/folded-upload';
import { PROBE_MARKER } from '../../src/transfer/scp/shell-scripts';
import { makeTempDir } from '../harness';
import { eventually } from '../support';

const SHELLS: { label: string; argv: string[] }[] = [
  { label: 'dash', argv: ['/bin/dash', '-c'] },
  { label: 'bash', argv: ['/bin/bash', '-c'] },
  { label: 'busybox ash', argv: ['/usr/bin/busybox', 'sh', '-c'] },
  { label: 'zsh', argv: ['/usr/bin/zsh', '-c'] },
];

const NAMES = ['plain.txt', "it's $(touch pwned) `id`.txt", 'new\nline', '-starts-with-dash', ' spaced  name '];

interface Run {
  source: ScpSource;
  answer: string | undefined;
  done: Promise<number | null>;
  stop(): void;
}

/** Starts the folded command in `shell` (cwd `dir`) and reads the probe's answer. */
async function start(shell: string[], command: Buffer, dir: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const child = spawn(shell[0], [...shell.slice(1), command.toString('latin1')], { cwd: dir, env, stdio: 'pipe' });
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const source = new ScpSource({ stdout: child.stdout, stdin: child.stdin, stderr: child.stderr, channel: child }, { host: 'local', path: dir, idleTimeoutMs: 10_000 });
  const said = await source.preamble(PROBE_MARKER);
  return { source, answer: said.answer?.toString('latin1'), done, stop: () => child.kill() };
}

function lone(dir: string, name: string, replace = true): LoneUpload {
  const finalPath = Buffer.from(join(dir, name));
  return {
    intoDirectory: { finalPath, wirePath: Buffer.from(join(dir, remoteTempName(Buffer.from(name)).toString('latin1'))) },
    atPath: { finalPath, wirePath: Buffer.from(join(dir, remoteTempName(Buffer.from(name)).toString('latin1'))) },
    atomic: true,
    replace,
    preserve: false,
  };
}

/** The command for uploading `name` into the existing directory `dir` (probes dir, then dir/name). */
function commandFor(dir: string, upload: LoneUpload, name: string): Buffer {
  const command = foldedUploadCommand([Buffer.from(dir), Buffer.from(join(dir, name))], upload);
  assert.ok(command);
  return command;
}

/**
 * Shells are the specification here, so the command must not depend on a name being valid UTF-8; the
 * test's names are, which lets the command travel as a latin1 argv string byte for byte.
 */
for (const shell of SHELLS) {
  describe(`transfer: the folded upload command in ${shell.label}`, function () {
    this.timeout(20_000);

    for (const name of NAMES) {
      it(`places ${JSON.stringify(name)} complete, with no temporary left and nothing run from the name`, async () => {
        const dir = await makeTempDir('folded-shell');
        const upload = lone(dir, name);
        const run = await start(shell.argv, commandFor(dir, upload, name), dir);
        assert.equal(run.answer, 'dn');
        await run.source.ready();
        const content = Buffer.from(`content of ${name}\n`);
        assert.deepEqual(await run.source.sendFile({ name: 'ignored', mode: 0o640, size: content.length, content }), { ok: true });
        const end = await run.source.finish(PLACED_MARKER);
        assert.deepEqual([end.exitCode, end.epilogue], [0, '0'], end.stderr);
        assert.equal(await run.done, 0);
        assert.deepEqual(await fs.readdir(dir), [name]);
        assert.deepEqual(await fs.readFile(join(dir, name)), content);
      });
    }

    it('EOF before any record (the client refused or skipped the file): nothing created, answer n', async () => {
      const dir = await makeTempDir('folded-shell-eof');
      const run = await start(shell.argv, commandFor(dir, lone(dir, 'f'), 'f'), dir);
      assert.equal(run.answer, 'dn');
      await run.source.ready();
      const end = await run.source.finish(PLACED_MARKER);
      assert.deepEqual([end.exitCode, end.epilogue], [0, 'n']);
      assert.deepEqual(await fs.readdir(dir), []);
    });

    it('the stop record in the middle of the data: scp fails, the temporary is removed, nothing placed', async () => {
      const dir = await makeTempDir('folded-shell-stop');
      const run = await start(shell.argv, commandFor(dir, lone(dir, 'f'), 'f'), dir);
      await run.source.ready();
      const stdin = (run.source as unknown as { stdin: NodeJS.WritableStream }).stdin;
      stdin.write(Buffer.from('C0644 100 f\n'));
      // scp -t creates the temporary once it has read the record: from then on the data is half sent.
      await eventually('scp -t to create the temporary', async () => (await fs.readdir(dir)).length === 1);
      stdin.write(Buffer.alloc(10, 0x61));
      stdin.write(STOP_RECORD);
      stdin.end();
      const code = await run.done;
      assert.notEqual(code, 0);
      assert.deepEqual(await fs.readdir(dir), []);
    });

    it('without replace an existing file is refused (e) and kept, the temporary removed', async () => {
      const dir = await makeTempDir('folded-shell-exists');
      const run = await start(shell.argv, commandFor(dir, lone(dir, 'f', false), 'f'), dir);
      assert.equal(run.answer, 'dn');
      await run.source.ready();
      await fs.writeFile(join(dir, 'f'), 'already there');
      const content = Buffer.from('new');
      assert.deepEqual(await run.source.sendFile({ name: 'f', mode: 0o644, size: content.length, content }), { ok: true });
      const end = await run.source.finish(PLACED_MARKER);
      assert.deepEqual([end.exitCode, end.epilogue], [0, 'e']);
      assert.deepEqual(await fs.readdir(dir), ['f']);
      assert.equal(await fs.readFile(join(dir, 'f'), 'utf8'), 'already there');
    });

    it('no scp on the PATH: exit status 127 right after the answer, nothing else on stdout', async () => {
      const dir = await makeTempDir('folded-shell-noscp');
      const run = await start(shell.argv, commandFor(dir, lone(dir, 'f'), 'f'), dir, { ...process.env, PATH: '/nonexistent' });
      assert.equal(run.answer, 'dn');
      await assert.rejects(run.source.ready(), (error: Error & { noScp?: boolean }) => error.noScp === true && /127/.test(error.message));
      assert.equal(await run.done, 127);
      assert.deepEqual(await fs.readdir(dir), []);
    });

    it('a remote path that is not a directory: the answer says so and the file lands at the path itself', async () => {
      const dir = await makeTempDir('folded-shell-at-path');
      const finalPath = Buffer.from(join(dir, 'target.bin'));
      const upload: LoneUpload = {
        atPath: { finalPath, wirePath: Buffer.from(join(dir, remoteTempName(Buffer.from('target.bin')).toString('latin1'))) },
        atomic: true,
        replace: true,
        preserve: false,
      };
      const command = foldedUploadCommand([finalPath], upload);
      assert.ok(command);
      const run = await start(shell.argv, command, dir);
      assert.equal(run.answer, 'n');
      await run.source.ready();
      const content = Buffer.from('x');
      assert.deepEqual(await run.source.sendFile({ name: 'x', mode: 0o644, size: 1, content }), { ok: true });
      const end = await run.source.finish(PLACED_MARKER);
      assert.deepEqual([end.exitCode, end.epilogue], [0, '0']);
      assert.deepEqual(await fs.readdir(dir), ['target.bin']);
    });
  });
}
