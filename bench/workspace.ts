/** The bench's data: sources made locally, staged on the server, and the checks run outside the timing. */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { makeServerDir, makeTempDir, runAsUser, type SshdServer } from '../test/harness';
import { makeBigFile, sha256File } from '../test/transfer/memory-support';
import { SMALL_SIZE, type BenchConfig } from './config';

export interface Workspace {
  server: SshdServer;
  /** local directory (readable by the server's user, who stages the sources from it) */
  local: string;
  /** remote directory, relative to the user's home */
  remote: string;
  big: { local: string; remote: string; digest: string };
  /** a directory of 4 KiB files: local and remote paths, and the digest of their `sha256sum *` listing */
  small: { local: string; remote: string; digest: string; count: number };
  tiny: { local: string; remote: string };
}

function shell(command: string, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', command], { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => (error ? reject(new Error(`${command}: ${stderr || error.message}`)) : resolve(stdout)));
  });
}

/** One digest for a whole directory of files: names and contents (the same command on both sides). */
const LISTING_DIGEST = 'sha256sum * | sha256sum | cut -c1-64';

export async function prepareWorkspace(server: SshdServer, config: BenchConfig): Promise<Workspace> {
  const local = await makeTempDir('bench');
  await fs.chmod(local, 0o755);
  const remote = (await makeServerDir(server, 'bench')).relative;
  const bigLocal = join(local, 'big.bin');
  const digest = await makeBigFile(bigLocal, config.bigBytes);
  const smallLocal = join(local, 'small');
  await fs.mkdir(smallLocal, { mode: 0o755 });
  for (let i = 0; i < config.smallFiles; i += 1) {
    await fs.writeFile(join(smallLocal, `f${String(i).padStart(5, '0')}.dat`), Buffer.alloc(SMALL_SIZE, i % 251), { mode: 0o644 });
  }
  const tinyLocal = join(local, 'tiny.bin');
  await fs.writeFile(tinyLocal, Buffer.alloc(SMALL_SIZE, 7), { mode: 0o644 });
  const staged = await runAsUser(server, `cd ${remote} && mkdir src lat burst soak && cp ${bigLocal} ${tinyLocal} src/ && cp -r ${smallLocal} src/`);
  if (staged.code !== 0) throw new Error(`staging on the server failed: ${staged.stderr}`);
  return {
    server,
    local,
    remote,
    big: { local: bigLocal, remote: `${remote}/src/big.bin`, digest },
    small: { local: smallLocal, remote: `${remote}/src/small`, digest: (await shell(LISTING_DIGEST, smallLocal)).trim(), count: config.smallFiles },
    tiny: { local: tinyLocal, remote: `${remote}/src/tiny.bin` },
  };
}

async function remote(ws: Workspace, command: string): Promise<string> {
  const result = await runAsUser(ws.server, command);
  if (result.code !== 0) throw new Error(`on the server: ${command}: ${result.stderr}`);
  return result.stdout.toString('utf8').trim();
}

/** The big file arrived whole (then it is removed: the disk holds one copy per side at a time). */
export async function checkBigUpload(ws: Workspace, path: string): Promise<void> {
  const digest = await remote(ws, `sha256sum ${path} | cut -c1-64 && rm -f ${path}`);
  if (digest !== ws.big.digest) throw new Error(`upload to ${path}: sha256 ${digest} differs from the original's`);
}

export async function checkBigDownload(ws: Workspace, path: string): Promise<void> {
  const digest = await sha256File(path);
  await fs.rm(path, { force: true });
  if (digest !== ws.big.digest) throw new Error(`download to ${path}: sha256 ${digest} differs from the original's`);
}

export async function checkTreeUpload(ws: Workspace, path: string): Promise<void> {
  const digest = await remote(ws, `cd ${path} && ${LISTING_DIGEST} && cd && rm -rf ${path}`);
  if (digest !== ws.small.digest) throw new Error(`recursive upload to ${path}: the files differ from the originals`);
}

/** `into` received the remote directory `small`. */
export async function checkTreeDownload(ws: Workspace, into: string): Promise<void> {
  const digest = (await shell(LISTING_DIGEST, join(into, 'small'))).trim();
  await fs.rm(into, { recursive: true, force: true });
  if (digest !== ws.small.digest) throw new Error(`recursive download into ${into}: the files differ from the originals`);
}

export async function checkTinyDownload(path: string): Promise<void> {
  const size = (await fs.stat(path)).size;
  if (size !== SMALL_SIZE) throw new Error(`download to ${path}: ${size} bytes, expected ${SMALL_SIZE}`);
}

export async function countRemoteFiles(ws: Workspace, dir: string): Promise<number> {
  return Number(await remote(ws, `find ${dir} -type f | wc -l`));
}

export async function clearRemote(ws: Workspace, dir: string): Promise<void> {
  await remote(ws, `rm -rf ${dir} && mkdir -p ${dir}`);
}
