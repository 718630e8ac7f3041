/**
 * The package as users receive it: `npm pack` on a copy of the working tree without any build output (what
 * a fresh clone has), and `npm install <tarball>` into a Node-RED user directory with the flags Node-RED's
 * palette manager uses. One tarball per test run, shared by the test files that install it.
 */
import { execFile } from 'child_process';
import fs from 'fs';
import path from 'path';
import { makeTempDir } from '../harness';
import { nodeLine, nodeLineMajors, nodeLinesMissing } from '../support/node-lines';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const PACKAGE_JSON = require(path.join(PACKAGE_ROOT, 'package.json')) as {
  name: string;
  version: string;
  engines: { node: string };
  'node-red': { version: string; nodes: Record<string, string> };
};

/** What a fresh clone does not have: build output, installed modules, local Node-RED data, git. */
const NOT_IN_A_CLONE = new Set(['.git', 'node_modules', 'dist', '.test-build', '.node-red-data', 'coverage', '.nyc_output']);

export interface Packed {
  tarball: string;
  /** paths inside the tarball, without the leading "package/" */
  files: string[];
}

export interface RunResult {
  code: number;
  output: string;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { cleanNpmEnv } = require(path.join(PACKAGE_ROOT, 'scripts', 'npm-env.js')) as { cleanNpmEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv };

export function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanNpmEnv()): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${error && typeof error.code !== 'number' ? `${error.message}\n` : ''}${stdout}${stderr}` });
    });
  });
}

async function mustRun(file: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await run(file, args, cwd, env);
  if (result.code !== 0) throw new Error(`\`${file} ${args.join(' ')}\` in ${cwd} failed (exit ${result.code}):\n${result.output}`);
  return result.output;
}

let packing: Promise<Packed> | undefined;

/**
 * `npm pack` on a copy of the working tree without dist/ (node_modules linked, for the build tools): the
 * package's own scripts must build what it ships. Once per run; later callers get the same tarball.
 */
export function packedPackage(): Promise<Packed> {
  packing ??= pack();
  return packing;
}

async function pack(): Promise<Packed> {
  const clone = path.join(await makeTempDir('pack-clone'), 'repo');
  fs.cpSync(PACKAGE_ROOT, clone, {
    recursive: true,
    filter: (source) => path.dirname(source) !== PACKAGE_ROOT || !NOT_IN_A_CLONE.has(path.basename(source)),
  });
  fs.symlinkSync(path.join(PACKAGE_ROOT, 'node_modules'), path.join(clone, 'node_modules'));
  const destination = await makeTempDir('pack-out');
  await mustRun('npm', ['pack', '--pack-destination', destination], clone);
  const tarballs = fs.readdirSync(destination).filter((name) => name.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new Error(`npm pack left ${tarballs.length} tarballs in ${destination}: ${tarballs.join(', ')}`);
  const tarball = path.join(destination, tarballs[0]);
  const listing = await mustRun('tar', ['-tzf', tarball], destination);
  const files = listing
    .split('\n')
    .filter(Boolean)
    .map((entry) => entry.replace(/^package\//, ''));
  return { tarball, files };
}

export interface InstallOptions {
  /** a node binary other than the one running the tests: npm, and the native builds it runs, then run on it */
  node?: string;
  /** that binary's installation root (holding include/node): the headers for native builds, no download */
  nodeHeaders?: string;
}

/**
 * A fresh Node-RED user directory with the tarball installed as the palette manager installs a package
 * (`npm install --omit=dev --engine-strict ...`, here preferring the npm cache). Returns npm's output.
 */
async function installIntoNewUserDir(tarball: string, prefix: string, options: InstallOptions = {}): Promise<Installed> {
  const userDir = await makeTempDir(prefix);
  // What Node-RED's local storage writes into a new user directory.
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify({ name: 'node-red-project', description: 'A Node-RED Project', version: '0.0.1', private: true }, null, 4),
  );
  const env = options.node
    ? cleanNpmEnv({
        PATH: `${path.dirname(options.node)}${path.delimiter}${process.env.PATH ?? ''}`,
        ...(options.nodeHeaders ? { npm_config_nodedir: options.nodeHeaders } : {}),
      })
    : cleanNpmEnv();
  const args = ['install', '--no-audit', '--no-update-notifier', '--no-fund', '--save', '--save-prefix=~', '--omit=dev', '--engine-strict', '--prefer-offline', '--', tarball];
  const output = await mustRun('npm', args, userDir, env);
  return { userDir, output };
}

export interface Installed {
  userDir: string;
  /** what npm said */
  output: string;
}

/** Where the tarball is installed: for Node-RED 4.1 on the machine's Node, or for a Node.js line of the matrix. */
export type Leg = 'machine' | number;
const installs = new Map<Leg, Promise<Installed>>();
/** Native builds (ssh2, cpu-features) are single-threaded: two at a time use both cores of a CI machine. */
const AT_ONCE = 2;
let running = 0;
const waiting: Array<() => void> = [];

async function inTurn<T>(work: () => Promise<T>): Promise<T> {
  if (running >= AT_ONCE) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  try {
    return await work();
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

/** Starts the installs of `legs` (two at a time) that have not started yet: later callers find theirs done or running. */
export function startInstalls(legs: Leg[]): void {
  const packed = packedPackage();
  for (const leg of legs) {
    if (installs.has(leg)) continue;
    const line = leg === 'machine' ? undefined : nodeLine(leg);
    const install =
      leg !== 'machine' && !line
        ? Promise.reject(new Error(`no Node.js ${leg}: ${nodeLinesMissing()}`))
        : packed.then(({ tarball }) => inTurn(() => installIntoNewUserDir(tarball, `userdir-node-${leg}`, line ? { node: line.node, nodeHeaders: line.headers } : {})));
    // Each is awaited by its own test, possibly much later (or never, when that test is skipped).
    install.catch(() => undefined);
    installs.set(leg, install);
  }
}

/**
 * The tarball installed for `leg`, in a user directory of its own. The first call starts the installs of
 * every leg of the matrix, so later legs find theirs done; a leg whose runtime is missing rejects.
 */
export function installedPackage(leg: Leg): Promise<Installed> {
  if (installs.size === 0) startInstalls(['machine', ...nodeLineMajors()]);
  return installs.get(leg) ?? Promise.reject(new Error(`no leg ${leg} in the package matrix`));
}

/** Whether ssh2's native crypto binding loads under `node` from `modulesDir` (ssh2 falls back to JS crypto without it). */
export async function sshBindingLoads(modulesDir: string, node = process.execPath): Promise<boolean> {
  const script = `process.stdout.write(String(require(${JSON.stringify(path.join(modulesDir, 'ssh2', 'lib', 'protocol', 'crypto.js'))}).bindingAvailable))`;
  const result = await run(node, ['-e', script], modulesDir);
  if (result.code !== 0) throw new Error(`loading ssh2 from ${modulesDir} under ${node} failed:\n${result.output}`);
  return result.output.trim() === 'true';
}
