/** Stream sources and a spool watcher for the upload safety tests (engine and node level). */
import { promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import * as assert from 'node:assert/strict';
import { makeTempDir, runAsUser, type SshdServer } from '../harness';

/** Runs a shell command as the server's user; fails the test unless it exits 0; its stdout as text. */
export async function serverShell(server: SshdServer, command: string): Promise<string> {
  const result = await runAsUser(server, command);
  assert.equal(result.code, 0, `${command}: ${String(result.stderr)}`);
  return result.stdout.toString();
}

/** Pushes `first` (if any), then never anything again: a stream that neither ends nor fails. */
export function stallingStream(first?: Buffer): Readable {
  let pushed = false;
  return new Readable({
    read() {
      if (pushed || !first) return;
      pushed = true;
      this.push(first);
    },
  });
}

/**
 * A stream whose first read runs `hook` (the upload is past its probe and planning by then) and only
 * then yields `data` and ends: a way to change the world at an exact point of the transfer.
 */
export function hookedStream(data: Buffer, hook: () => Promise<unknown>): Readable {
  let started = false;
  return new Readable({
    read() {
      if (started) return;
      started = true;
      hook().then(
        () => {
          this.push(data);
          this.push(null);
        },
        (error: unknown) => this.destroy(error as Error),
      );
    },
  });
}

/**
 * Runs `body` with os.tmpdir() pointing at a private directory (other test processes on the machine
 * spool too) and returns the spool directories (scp-spool-*) left in it afterwards.
 */
export async function spoolDirsDuring(body: () => Promise<void>): Promise<string[]> {
  const previous = process.env.TMPDIR;
  const privateTmp = await makeTempDir('spool-watch');
  process.env.TMPDIR = privateTmp;
  try {
    await body();
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  }
  return (await fs.readdir(privateTmp)).filter((name) => name.startsWith('scp-spool-'));
}
