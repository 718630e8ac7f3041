/**
 * Node-RED 5 on Node.js 22, the second runtime this package is tested on (4.1 on Node 20 is the first).
 * scripts/node-red-5.js installs both from the registry into node_modules/.cache/node-red-5 as a step of
 * `npm test`; this module finds them, and starts Node-RED 5 with a user directory of the test's choosing.
 */
import path from 'path';
import { skipOrFail } from '../harness';
import { startNodeRedProcess, type NodeRedProcess, type NodeRedProcessOptions } from './node-red-process';

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

export interface NodeRed5Runtime {
  /** the Node.js 22 binary */
  node: string;
  /** Node-RED 5's red.js */
  redJs: string;
  /** the binary's installation root, holding include/node: node-gyp's --nodedir for native builds against Node 22 */
  headers: string;
  /** the folder both are installed in */
  installDir: string;
}

interface Paths extends NodeRed5Runtime {
  missing: string[];
  failure: string;
}

function paths(): Paths {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const script = require(path.join(PACKAGE_ROOT, 'scripts', 'node-red-5.js')) as { nodeRed5Paths(): Paths };
  return script.nodeRed5Paths();
}

/** What is missing for the Node-RED 5 leg, in words a developer can act on; undefined when all is there. */
export function nodeRed5Missing(): string | undefined {
  const { missing, failure } = paths();
  if (missing.length === 0) return undefined;
  return (
    `${missing.join(' and ')}: run \`node scripts/node-red-5.js\` (part of \`npm test\`; needs the npm registry or a warm npm cache)` +
    (failure ? `. The last install attempt said:\n${failure}` : '')
  );
}

/** The runtime, or undefined when something is missing (nodeRed5Missing says what). */
export function nodeRed5Runtime(): NodeRed5Runtime | undefined {
  const { node, redJs, headers, installDir, missing } = paths();
  return missing.length === 0 ? { node, redJs, headers, installDir } : undefined;
}

/** The runtime, or (in a mocha hook) a skip naming what is missing: a failure under CI=true. */
export function requireNodeRed5(ctx: Mocha.Context): NodeRed5Runtime {
  const runtime = nodeRed5Runtime();
  if (!runtime) skipOrFail(ctx, `Node-RED 5 on Node.js 22: ${nodeRed5Missing()}`);
  return runtime;
}

/**
 * Starts Node-RED 5 under Node 22 with `userDir` and `settings` (over the quiet defaults of
 * node-red-process.ts; e.g. `nodesDir: [packageRoot]` to load this package from the working tree, or
 * install it into `userDir/node_modules` first). Resolves with its URL, request/deploy helpers and stop().
 */
export function startNodeRed5(options: Omit<NodeRedProcessOptions, 'redJs' | 'node'>): Promise<NodeRedProcess> {
  const runtime = nodeRed5Runtime();
  if (!runtime) return Promise.reject(new Error(`cannot start Node-RED 5: ${nodeRed5Missing()}`));
  return startNodeRedProcess({ ...options, node: runtime.node, redJs: runtime.redJs });
}
