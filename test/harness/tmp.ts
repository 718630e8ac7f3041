/**
 * Temporary directories that disappear at the end of the run, also when it fails or is interrupted.
 * Every name carries the creating process id ("scpt-<pid>-<prefix>-XXXXXX"), so a later run can tell what a
 * SIGKILLed run left behind (see abandoned.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onCleanup } from './cleanup';

export const TEMP_NAME = /^scpt-(\d+)-/;

/** A fresh directory under os.tmpdir() (mode 0700, owned by whoever runs the tests), removed at the end of the run. */
export async function makeTempDir(prefix: string): Promise<string> {
  return makeTempDirSync(prefix);
}

export function makeTempDirSync(prefix: string): string {
  const dir = makeUntrackedTempDir(prefix);
  onCleanup(`remove ${dir}`, () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Like makeTempDirSync, but the caller removes it (when it must go at a particular moment). */
export function makeUntrackedTempDir(prefix: string): string {
  const safePrefix = prefix.replace(/[^A-Za-z0-9._-]/g, '_');
  return fs.mkdtempSync(path.join(os.tmpdir(), `scpt-${process.pid}-${safePrefix}-`));
}
