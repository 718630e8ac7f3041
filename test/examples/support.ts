/**
 * The example flows of examples/ as a test loads them: read from the file a user imports, the shared
 * connection pointed at a test server, and only the per-run values (paths, the device list) rewritten,
 * by the name of the node that holds them, the way the example's comment node tells a user to.
 */
import fs from 'fs';
import path from 'path';
import { makeServerDir, makeTempDir, runAsUser, startSshd, type SshdServer } from '../harness';
import { freePort } from '../support/node-red-process';
import { allNodes } from '../support/red';

export const EXAMPLES_DIR = path.resolve(__dirname, '../../../examples');

/** The one connection every example shares: importing several gives one connection to fill in. */
export const SHARED_CONNECTION = { id: 'a5c0c0ec70000001', name: 'SCP server' };

export type FlowNode = Record<string, unknown> & { id: string; type: string };
export type Flow = FlowNode[];

export function exampleFiles(): string[] {
  return fs
    .readdirSync(EXAMPLES_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort();
}

export function readExample(file: string): Flow {
  return JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, file), 'utf8')) as Flow;
}

/** The node called `name` (names are unique inside an example); throws when there is none or several. */
export function named(flow: Flow, name: string): FlowNode {
  const found = flow.filter((node) => node.name === name);
  if (found.length !== 1) throw new Error(`${found.length} nodes named "${name}" in the example`);
  return found[0];
}

/**
 * Sets `property` of the node called `nodeName`: an inject node's property of the message it sends, a
 * change node's "set msg.<property>" rule, otherwise the node's own setting.
 */
export function rewrite(flow: Flow, nodeName: string, property: string, value: unknown): void {
  const node = named(flow, nodeName);
  if (node.type === 'inject') {
    const props = node.props as Array<{ p: string; v?: unknown; vt?: string }>;
    const prop = props.find((entry) => entry.p === property);
    if (!prop) throw new Error(`inject "${nodeName}" sets no msg.${property}`);
    if (property === 'payload') {
      node.payload = typeof value === 'string' ? value : JSON.stringify(value);
    } else {
      prop.v = value;
    }
    return;
  }
  if (node.type === 'change') {
    const rule = (node.rules as Array<{ t: string; p: string; to: unknown }>).find((entry) => entry.t === 'set' && entry.p === property);
    if (!rule) throw new Error(`change "${nodeName}" sets no msg.${property}`);
    rule.to = value;
    return;
  }
  if (!(property in node)) throw new Error(`node "${nodeName}" has no setting ${property}`);
  node[property] = value;
}

/** Points the shared connection at `server`, pinned to its host keys (what a user types into the dialog). */
export function pointAt(flow: Flow, server: Pick<SshdServer, 'host' | 'port' | 'username' | 'hostKeyFingerprints'>, props: Record<string, unknown> = {}): void {
  const connection = flow.find((node) => node.id === SHARED_CONNECTION.id);
  if (!connection) throw new Error('the example has no shared connection');
  Object.assign(connection, {
    host: server.host,
    port: server.port,
    username: server.username,
    hostKeyPolicy: 'fingerprint',
    hostFingerprints: server.hostKeyFingerprints.join('\n'),
    ...props,
  });
}

const core = (file: string): unknown => require(`@node-red/nodes/core/${file}`) as unknown; // eslint-disable-line @typescript-eslint/no-require-imports

/** Core node modules by the types they register (the examples may use these). */
const CORE_MODULES: Record<string, string> = {
  inject: 'common/20-inject.js',
  debug: 'common/21-debug.js',
  catch: 'common/25-catch.js',
  comment: 'common/90-comment.js',
  function: 'function/10-function.js',
  switch: 'function/10-switch.js',
  change: 'function/15-change.js',
  split: 'sequence/17-split.js',
  join: 'sequence/17-split.js',
  watch: 'storage/23-watch.js',
  file: 'storage/10-file.js',
  'http in': 'network/21-httpin.js',
  'http response': 'network/21-httpin.js',
};

/** The node types of this package (from its editor templates). */
export const PACKAGE_TYPES = ['scp-connection', 'scp upload', 'scp download', 'scp remote'];

/** Whether Node-RED 4.1's core registers `type` (read from its node files, not from our list). */
export function coreRegisters(type: string): boolean {
  const dir = path.dirname(require.resolve('@node-red/nodes/package.json'));
  const file = CORE_MODULES[type];
  if (!file) return false;
  return fs.readFileSync(path.join(dir, 'core', file), 'utf8').includes(`registerType("${type}"`);
}

type NodeModule = (red: Record<string, unknown>) => unknown;

let httpNodeApp: unknown;

/** The Express app the `http in` nodes of the loaded flow listen on (the helper never serves it itself). */
export function httpNodeAppOfFlow(): unknown {
  if (!httpNodeApp) throw new Error('no http in node was loaded');
  return httpNodeApp;
}

/** Node-RED's http nodes, noting the app their routes go to. */
function httpNodes(red: Record<string, unknown>): unknown {
  httpNodeApp = red.httpNode;
  return (core(CORE_MODULES['http in']) as NodeModule)(red);
}

/** The modules to load into the test helper for `flow`: ours and the core ones it uses. */
export function modulesFor(flow: Flow): unknown[] {
  const files = new Set<string>();
  for (const node of flow) {
    // (the helper loads the catch node itself)
    if (node.type !== 'catch' && CORE_MODULES[node.type]) files.add(CORE_MODULES[node.type]);
  }
  return [...allNodes, ...[...files].map((file) => (file === CORE_MODULES['http in'] ? httpNodes : core(file)))];
}

export interface FleetRun {
  server: SshdServer;
  /** the local folder the example saves into */
  local: string;
  /** the lines the example's "fleet" debug node shows, in list order */
  expectedLines: string[];
  /** the files the example must have saved, with what each must hold */
  expectedFiles: Array<[string, string]>;
  stop(): Promise<void>;
}

/**
 * The fleet example made ready to run: one sshd on three loopback addresses (three devices) and a port
 * where nothing listens (a device that is down), a file to collect, and the example's device list,
 * remote file and local folder rewritten to them; its connection points at the sshd.
 */
export async function prepareFleet(flow: Flow): Promise<FleetRun> {
  const server = await startSshd({ extraAddresses: ['127.0.0.2', '127.0.0.3'] });
  try {
    pointAt(flow, server);
    const dir = await makeServerDir(server, 'example-fleet');
    const written = await runAsUser(server, `printf 'device-name\\n' > '${dir.absolute}/hostname'`);
    if (written.code !== 0) throw new Error(`could not write the fleet's file: ${written.stderr.toString()}`);
    const local = await makeTempDir('example-fleet-local');
    const downPort = await freePort();
    const devices = [
      { host: '127.0.0.1', port: server.port },
      { host: '127.0.0.2', port: server.port },
      { host: '127.0.0.1', port: downPort },
      { host: '127.0.0.3', port: server.port },
    ];
    rewrite(flow, 'devices', 'payload', devices);
    rewrite(flow, 'devices', 'remotePath', `${dir.absolute}/hostname`);
    rewrite(flow, 'devices', 'localFolder', local);
    const saved = (device: { host: string; port: number }): string => path.join(local, `${device.host}-${device.port}`, 'hostname');
    const up = devices.filter((device) => device.port !== downPort);
    return {
      server,
      local,
      expectedLines: devices.map((device) =>
        device.port === downPort ? `${device.host}:${device.port} ✗ ECONNREFUSED` : `${device.host}:${device.port} ✓ 12 bytes → ${device.host}-${device.port}/hostname`,
      ),
      expectedFiles: up.map((device) => [saved(device), 'device-name\n']),
      stop: () => server.stop(),
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
