/**
 * Node-RED plumbing shared by the node tests (test/nodes) and the fault tests (test/faults): the test
 * helper with our three nodes loaded from dist/ (what Node-RED really loads), its server for one test
 * file with a throwaway user directory, and the node definitions every flow is built from. Each suite
 * keeps its own defaults on top (for example the fault tests want progress on).
 */
import path from 'path';
import helper from 'node-red-node-test-helper';
import { makeTempDir } from '../harness';

export { helper };

const distNodes = path.resolve(__dirname, '../../../dist/nodes');
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const scpConnection = require(path.join(distNodes, 'scp-connection.js')) as unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const scpUpload = require(path.join(distNodes, 'scp-upload.js')) as unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const scpDownload = require(path.join(distNodes, 'scp-download.js')) as unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const scpRemote = require(path.join(distNodes, 'scp-remote.js')) as unknown;
export const allNodes = [scpConnection, scpUpload, scpDownload, scpRemote];
/** The engine module those nodes use (dist/engine, not the test build's copy): its worker is theirs. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const nodesEngine = require(path.resolve(distNodes, '../engine/host.js')) as typeof import('../../src/engine/host');

export type NodeDef = Record<string, unknown>;

let userDir: string | undefined;

/**
 * Starts the helper's server once for the calling test file and unloads the flow after each test;
 * Node-RED's user directory (where the TOFU store lives) is a fresh temp dir named after `prefix`.
 */
export function useNodeRed(prefix: string): void {
  before(async function () {
    helper.init(require.resolve('node-red'));
    userDir = await makeTempDir(prefix);
    helper.settings({ userDir });
    await new Promise<void>((resolve, reject) => helper.startServer((error) => (error ? reject(error) : resolve())));
  });
  afterEach(async function () {
    await helper.unload();
  });
  after(async function () {
    await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
  });
}

/** Node-RED's user directory for the running test file. */
export function nodeRedUserDir(): string {
  if (!userDir) throw new Error('useNodeRed() was not called');
  return userDir;
}

export interface Endpoint {
  host: string;
  port: number;
  username?: string;
  hostKeyFingerprints: string[];
}

/** An scp-connection (id `conn`) to the server, pinned to its host key fingerprints. */
export function connectionNode(server: Endpoint, props: NodeDef = {}): NodeDef {
  return {
    id: 'conn',
    type: 'scp-connection',
    host: server.host,
    port: server.port,
    username: server.username ?? 'tester',
    hostKeyPolicy: 'fingerprint',
    hostFingerprints: server.hostKeyFingerprints.join('\n'),
    transport: 'auto',
    ...props,
  };
}

/** A transfer node: on tab `tab`, connection `conn`, both paths from the message, wired to `out` and `progress`; then its own defaults, then `props`. */
function transferNode(id: string, type: string, defaults: NodeDef, props: NodeDef): NodeDef {
  return {
    id,
    type,
    z: 'tab',
    connection: 'conn',
    remotePath: 'remotePath',
    remotePathType: 'msg',
    localPath: 'localPath',
    localPathType: 'msg',
    overwrite: 'overwrite',
    progress: false,
    wires: [['out'], ['progress']],
    ...defaults,
    ...props,
  };
}

/** An scp upload node (id `up`) taking both paths from the message, wired to `out` and `progress`. */
export function uploadNode(props: NodeDef = {}): NodeDef {
  return transferNode('up', 'scp upload', { mode: '0644', preserve: false, atomic: true }, props);
}

/** An scp download node (id `down`) into msg.payload, paths from the message, wired to `out` and `progress`. */
export function downloadNode(props: NodeDef = {}): NodeDef {
  return transferNode('down', 'scp download', { target: 'payload', recursive: false, glob: false, preserve: true, maxSize: 256, maxFiles: 10000 }, props);
}

/** The tab `tab`, the `out` and `progress` collectors, and a Catch node feeding the helper node `caughtId`. */
export function collectorNodes(tabLabel: string, caughtId: string): NodeDef[] {
  return [
    { id: 'tab', type: 'tab', label: tabLabel },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'progress', type: 'helper', z: 'tab' },
    // (an id equal to a type name would make Node-RED see a config node referencing itself)
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [[caughtId]] },
    { id: caughtId, type: 'helper', z: 'tab' },
  ];
}

interface Spied {
  getCalls(): { thisValue: unknown; args: unknown[] }[];
}

/** The calls of a spied Node method (status, warn, error, ...) made by one node (the helper spies on every node's). */
export function callsOf(node: Record<string, unknown>, method: string): unknown[][] {
  return (node[method] as Spied)
    .getCalls()
    .filter((call) => call.thisValue === node)
    .map((call) => call.args);
}

/** What a connection node's pool reports (`poolStats()`, undefined before its first use). */
export interface PoolStatsView {
  connections: number;
  channels: number;
  queued: number;
  maxChannelsSeen: number;
}

/** The pool statistics of connection node `id` as they are now (the node keeps its pool across tests' messages). */
export function poolStatsOf(id = 'conn'): () => PoolStatsView | undefined {
  const node = helper.getNode(id) as unknown as { poolStats(): PoolStatsView | undefined };
  return () => node.poolStats();
}
