/**
 * The Node.js lines of the package matrix (22, 24, 26: registry binaries) and the Node-RED versions run on
 * them (4.1, this repo's devDependency, and 5). scripts/node-lines.js installs the binaries and Node-RED 5
 * into node_modules/.cache/node-lines as a step of `npm test`; this module finds them and starts Node-RED on
 * a line with a user directory of the test's choosing. The tests themselves run on the machine's Node (20).
 */
import path from 'path';
import { skipOrFail } from '../harness';
import { NODE_RED_4_RED_JS, startNodeRedProcess, type NodeRedProcess, type NodeRedProcessOptions } from './node-red-process';

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

export interface NodeLine {
  major: number;
  /** the binary */
  node: string;
  /** its installation root, holding include/node: node-gyp's --nodedir for native builds against this line */
  headers: string;
}

export type NodeRedVersion = '4.1' | '5';

interface Paths {
  installDir: string;
  lines: NodeLine[];
  nodeRed5: string;
  missing: string[];
  failure: string;
}

function paths(): Paths {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const script = require(path.join(PACKAGE_ROOT, 'scripts', 'node-lines.js')) as { nodeLinesPaths(): Paths };
  return script.nodeLinesPaths();
}

/** The majors of the matrix, from test/node-lines/package.json (known without the install). */
export function nodeLineMajors(): number[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path.join(PACKAGE_ROOT, 'scripts', 'node-lines.js')) as { NODE_MAJORS: number[] }).NODE_MAJORS;
}

/** What is missing for the matrix, in words a developer can act on; undefined when all is there. */
export function nodeLinesMissing(): string | undefined {
  const { missing, failure } = paths();
  if (missing.length === 0) return undefined;
  return (
    `${missing.join(' and ')}: run \`node scripts/node-lines.js\` (part of \`npm test\`; needs the npm registry or a warm npm cache)` +
    (failure ? `. The last install attempt said:\n${failure}` : '')
  );
}

/** The line of `major`, or undefined when the matrix's runtimes are not installed (nodeLinesMissing says why). */
export function nodeLine(major: number): NodeLine | undefined {
  const found = paths();
  if (found.missing.length > 0) return undefined;
  return found.lines.find((line) => line.major === major);
}

/** red.js of a Node-RED version of the matrix. */
export function redJsOf(version: NodeRedVersion): string {
  return version === '4.1' ? NODE_RED_4_RED_JS : paths().nodeRed5;
}

/** The line, or (in a mocha hook) a skip naming what is missing: a failure under CI=true. */
export function requireNodeLine(ctx: Mocha.Context, major: number): NodeLine {
  const line = nodeLine(major);
  if (!line) skipOrFail(ctx, `Node.js ${major} of the package matrix: ${nodeLinesMissing() ?? `no line ${major} in test/node-lines`}`);
  return line;
}

/**
 * Starts Node-RED `version` under the line's Node with `userDir` and `settings` (over the quiet defaults of
 * node-red-process.ts). Resolves with its URL, request/deploy helpers and stop().
 */
export function startNodeRedOn(line: NodeLine, version: NodeRedVersion, options: Omit<NodeRedProcessOptions, 'redJs' | 'node'>): Promise<NodeRedProcess> {
  return startNodeRedProcess({ ...options, node: line.node, redJs: redJsOf(version) });
}
