/** Node-RED 5 on Node.js 22 (see node-lines.ts): the editor test's second runtime. */
import { nodeLine, nodeLinesMissing, requireNodeLine, startNodeRedOn } from './node-lines';
import type { NodeRedProcess, NodeRedProcessOptions } from './node-red-process';

const MAJOR = 22;

/** Node 22 of the matrix, or (in a mocha hook) a skip naming what is missing: a failure under CI=true. */
export function requireNodeRed5(ctx: Mocha.Context): void {
  requireNodeLine(ctx, MAJOR);
}

/** Starts Node-RED 5 under Node 22 with `userDir` and `settings` (e.g. `nodesDir: [packageRoot]`). */
export function startNodeRed5(options: Omit<NodeRedProcessOptions, 'redJs' | 'node'>): Promise<NodeRedProcess> {
  const line = nodeLine(MAJOR);
  if (!line) return Promise.reject(new Error(`cannot start Node-RED 5: ${nodeLinesMissing()}`));
  return startNodeRedOn(line, '5', options);
}
