/** A local test tree with known modes and times, and "rel mode size mtime kind" views of both sides. */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { SshdServer } from '../harness';
import { runAsUser } from '../harness';
import { randomData, sq } from './support';

const MTIME = 1_600_000_000; // 2020-09-13

/** Builds a local tree: a/ (0750) with files of several modes, a nested dir (0700), an empty dir. */
export async function makeLocalTree(root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  await fs.mkdir(join(root, 'tree', 'nested', 'deeper'), { recursive: true });
  await fs.mkdir(join(root, 'tree', 'empty'));
  const put = async (rel: string, data: Buffer, mode: number): Promise<void> => {
    await fs.writeFile(join(root, 'tree', rel), data);
    await fs.chmod(join(root, 'tree', rel), mode);
    await fs.utimes(join(root, 'tree', rel), MTIME + 10, MTIME);
    files.set(rel, data);
  };
  await put('a.bin', randomData(100_000), 0o640);
  await put('empty.txt', Buffer.alloc(0), 0o600);
  await put('run.sh', Buffer.from('#!/bin/sh\necho hi\n'), 0o755);
  await put('nested/b.txt', Buffer.from('bee'), 0o604);
  await put('nested/deeper/c.bin', randomData(3000), 0o644);
  await fs.chmod(join(root, 'tree', 'nested', 'deeper'), 0o700);
  await fs.chmod(join(root, 'tree', 'nested'), 0o750);
  for (const dir of ['nested/deeper', 'nested', 'empty', '']) await fs.utimes(join(root, 'tree', dir), MTIME + 20, MTIME + 5);
  return files;
}

/** "rel mode size mtime" for every entry below dir, sorted (the same format on both sides). */
export async function describeRemote(server: SshdServer, dir: string): Promise<string[]> {
  const out = await runAsUser(server, `cd ${sq(dir)} && find . -mindepth 1 -printf '%P %m %s %T@ %y\\n'`);
  assert.equal(out.code, 0, out.stderr);
  return out.stdout
    .toString()
    .trim()
    .split('\n')
    .map((line) => {
      // "%P %m %s %T@ %y" parsed from the right: the name may contain spaces.
      const fields = line.split(' ');
      const [mode, size, mtime, kind] = fields.slice(-4);
      const name = fields.slice(0, -4).join(' ');
      return `${name} ${mode} ${kind === 'd' ? '-' : size} ${Math.floor(Number(mtime))} ${kind}`;
    })
    .sort();
}

export async function describeLocal(dir: string, rel = ''): Promise<string[]> {
  const lines: string[] = [];
  for (const name of await fs.readdir(join(dir, rel))) {
    const path = join(dir, rel, name);
    const stats = await fs.lstat(path);
    const relPath = rel ? `${rel}/${name}` : name;
    const kind = stats.isDirectory() ? 'd' : 'f';
    lines.push(`${relPath} ${(stats.mode & 0o7777).toString(8)} ${kind === 'd' ? '-' : stats.size} ${Math.floor(stats.mtimeMs / 1000)} ${kind}`);
    if (stats.isDirectory()) lines.push(...(await describeLocal(dir, relPath)));
  }
  return lines.sort();
}

