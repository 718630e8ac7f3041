/**
 * Remote globbing (only the last component, wildcards bare, everything else quoted; one dialect, the
 * same files over SCP and SFTP: src/glob.ts) and the transport choice: 'auto' falls back to SFTP on an
 * SFTP-only account and remembers it; 'scp' there is EPROTO.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { TransferError } from '../../src/errors';
import { download, upload } from '../../src/transfer';
import { makeServerDir, makeTempDir, runAsUser } from '../harness';
import { bufferDownload, context, countingProvider, sq, useSharedPool, directoryDownload, usePoolTo } from './support';
import { useOwnSshd } from '../support';

const FILES = ['a.log', 'b.log', 'c.txt', '.hidden.log', 'x y.log', '-dash.log', "q'uote.log", 'n1.dat', 'n2.dat', 'n10.dat', 'log 1', 'log_1', 'log-1', 'back\\slash.txt', 'backslash.txt', 'café.txt'];

for (const transport of ['scp', 'sftp'] as const) {
  describe(`transfer: glob downloads over ${transport}`, function () {
    const shared = useSharedPool();
    let dir: { relative: string };

    before(async function () {
      dir = await makeServerDir(shared.server, `glob-${transport}`);
      const made = await runAsUser(shared.server, FILES.map((name) => `printf %s ${sq(name)} > ${sq(`${dir.relative}/${name}`)}`).join(' && ') + ` && mkdir ${sq(`${dir.relative}/sub.dir`)} && printf %s inner > ${sq(`${dir.relative}/sub.dir/inner`)}`);
      assert.equal(made.code, 0, made.stderr);
    });

    /** A glob download of `pattern` in the test directory into the local directory `local`. */
    function globRequest(pattern: string, local: string, recursive: boolean) {
      return directoryDownload(`${dir.relative}/${pattern}`, local, { recursive, glob: true });
    }

    async function globInto(pattern: string, recursive = false): Promise<string[]> {
      const local = await makeTempDir('glob');
      const result = await download(context(shared.channels, { transport }), globRequest(pattern, local, recursive));
      const names = (await fs.readdir(local)).sort();
      for (const name of names) {
        const stats = await fs.stat(join(local, name));
        if (stats.isFile()) assert.equal(await fs.readFile(join(local, name), 'utf8'), name);
      }
      assert.equal(result.files.length, recursive ? names.length : names.filter((name) => !name.endsWith('.dir')).length);
      return names;
    }

    it('"*.log" matches every .log file but not hidden ones', async function () {
      assert.deepEqual(await globInto('*.log'), ['-dash.log', 'a.log', 'b.log', "q'uote.log", 'x y.log']);
    });

    it('a matching directory is EISDIR without recursive, and copied as a tree with it', async function () {
      const local = await makeTempDir('glob-dir');
      await assert.rejects(
        download(context(shared.channels, { transport }), globRequest('sub.*', local, false)),
        (error: TransferError) => error.code === 'EISDIR',
      );
      assert.deepEqual(await globInto('sub.*', true), ['sub.dir']);
    });

    it('"n?.dat" and "[ab].log" use ? and bracket classes', async function () {
      assert.deepEqual(await globInto('n?.dat'), ['n1.dat', 'n2.dat']);
      assert.deepEqual(await globInto('[ab].log'), ['a.log', 'b.log']);
    });

    it('quotes and spaces in a pattern are literal: "q\'uote*" and "x y*"', async function () {
      assert.deepEqual(await globInto("q'uote*"), ["q'uote.log"]);
      assert.deepEqual(await globInto('x y*'), ['x y.log']);
    });

    it('"log[ _]1": a space inside brackets is a member, not a word break', async function () {
      assert.deepEqual(await globInto('log[ _]1'), ['log 1', 'log_1']);
    });

    it('".*" brings the hidden files only, never "." or ".." (with and without recursive)', async function () {
      assert.deepEqual(await globInto('.*'), ['.hidden.log']);
      assert.deepEqual(await globInto('.*', true), ['.hidden.log']);
    });

    it('a backslash escapes the next character: an escaped backslash finds back\\slash.txt, an escaped s backslash.txt', async function () {
      assert.deepEqual(await globInto('back\\\\*'), ['back\\slash.txt']);
      assert.deepEqual(await globInto('back\\slash*'), ['backslash.txt']);
    });

    it('"[^a].log" negates as "[!a].log" does (dash alone would read a literal ^)', async function () {
      assert.deepEqual(await globInto('[^a].log'), ['b.log']);
      assert.deepEqual(await globInto('[!a].log'), ['b.log']);
    });

    it('"?" matches one byte: "caf??.txt" finds café.txt (é is two bytes), "caf?.txt" nothing (ENOENT)', async function () {
      assert.deepEqual(await globInto('caf??.txt'), ['café.txt']);
      const local = await makeTempDir('glob-bytes');
      await assert.rejects(
        download(context(shared.channels, { transport }), globRequest('caf?.txt', local, false)),
        (error: TransferError) => error.code === 'ENOENT',
      );
    });

    it('a bad pattern is EINVAL naming the problem, before anything is fetched', async function () {
      const local = await makeTempDir('glob-bad');
      await assert.rejects(
        download(context(shared.channels, { transport }), globRequest('[é]*', local, false)),
        (error: TransferError) => error.code === 'EINVAL' && /non-ASCII character é inside brackets/.test(error.message),
      );
      assert.deepEqual(await fs.readdir(local), []);
    });

    it('a pattern full of shell syntax runs nothing and matches nothing (ENOENT)', async function () {
      const local = await makeTempDir('glob-none');
      await assert.rejects(
        download(context(shared.channels, { transport }), globRequest('$(touch pwned-glob)*;touch pwned-glob2', local, false)),
        (error: TransferError) => error.code === 'ENOENT',
      );
      const marker = await runAsUser(shared.server, 'ls pwned-glob pwned-glob2 2>/dev/null');
      assert.equal(marker.stdout.toString(), '');
    });
  });
}

describe('transfer: transport choice against an SFTP-only account (ForceCommand internal-sftp)', function () {
  const server = useOwnSshd({ config: ['ForceCommand internal-sftp'] });
  const pool = usePoolTo(server);

  it("'auto' falls back to SFTP for uploads and downloads, and later jobs go straight to SFTP", async function () {
    const channels = countingProvider(pool);
    const up = await upload(context(channels, { transport: 'auto' }), {
      sources: [{ kind: 'buffer', data: Buffer.from('via sftp') }],
      remotePath: 'auto.txt',
      preserve: false,
      atomic: true,
      overwrite: 'overwrite',
    });
    assert.equal(up.transport, 'sftp');
    assert.ok(channels.execs >= 1, 'SCP was tried first');
    const onServer = await runAsUser(server, 'cat auto.txt');
    assert.equal(onServer.stdout.toString(), 'via sftp');

    const execsBefore = channels.execs;
    const down = await download(context(channels, { transport: 'auto' }), bufferDownload('auto.txt', 100));
    assert.equal(down.transport, 'sftp');
    assert.equal(down.files[0].data?.toString(), 'via sftp');
    assert.equal(channels.execs, execsBefore, 'the remembered decision skips SCP');
  });

  it("'auto' download falls back on a provider that has not learned it yet", async function () {
    await runAsUser(server, 'printf fresh > fresh.txt');
    const channels = countingProvider(pool);
    // A different provider object: nothing remembered for it.
    const down = await download(context(channels, { transport: 'auto' }), bufferDownload('fresh.txt', 100));
    assert.equal(down.transport, 'sftp');
    assert.equal(down.files[0].data?.toString(), 'fresh');
    assert.equal(channels.execs, 1);
  });

  it("'scp' on that server fails with EPROTO naming the host", async function () {
    const channels = countingProvider(pool);
    await assert.rejects(
      upload(context(channels, { transport: 'scp' }), {
        sources: [{ kind: 'buffer', data: Buffer.from('x') }],
        remotePath: 'scp-only.txt',
        preserve: false,
        atomic: true,
        overwrite: 'overwrite',
      }),
      (error: TransferError) => error.code === 'EPROTO' && error.message.includes('127.0.0.1'),
    );
    await assert.rejects(
      download(context(channels, { transport: 'scp' }), bufferDownload('auto.txt', 100)),
      (error: TransferError) => error.code === 'EPROTO',
    );
  });
});
