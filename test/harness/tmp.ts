/** Temporary directories that disappear at the end of the run, also when it fails or is interrupted. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onCleanup } from './cleanup';

/** A fresh directory under os.tmpdir() (mode 0700, owned by whoever runs the tests), removed at the end of the run. */
export async function makeTempDir(prefix: string): Promise<string> {
  return makeTempDirSync(prefix);
}

export function makeTempDirSync(prefix: string): string {
  const safePrefix = prefix.replace(/[^A-Za-z0-9._-]/g, '_');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${safePrefix}-`));
  onCleanup(`remove ${dir}`, () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
