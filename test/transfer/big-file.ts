/** A mocha fixture for the tests that move one big local file: made once for the describe, removed after it. */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../harness';
import { makeBigFile } from './memory-support';

/** What useBigFile hands a describe block: filled in by its before hook, so read it inside hooks and tests only. */
export interface BigFile {
  /** the temporary directory that holds the file (tests may put their own files next to it) */
  dir: string;
  path: string;
  /** the file's sha256, hex */
  digest: string;
}

/**
 * Registers before/after hooks on the enclosing describe: a temporary directory (named after `prefix`) with
 * `name` in it, `size` bytes of distinct blocks (makeBigFile); the directory is removed in `after`.
 */
export function useBigFile(prefix: string, name: string, size: number): BigFile {
  const big = {} as BigFile;
  before(async function () {
    big.dir = await makeTempDir(prefix);
    big.path = join(big.dir, name);
    big.digest = await makeBigFile(big.path, size);
  });
  after(async () => {
    if (big.dir) await fs.rm(big.dir, { recursive: true, force: true });
  });
  return big;
}
