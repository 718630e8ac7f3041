/**
 * Shared plumbing for the node tests: the Node-RED test helper with our three nodes loaded from dist/
 * (what Node-RED really loads), flows built around a connection to a harness server, and a way to send
 * one message and wait for its result, its error (through a Catch node) or both outputs.
 */
import path from 'path';
import helper from 'node-red-node-test-helper';
import type { SshdServer } from '../harness';
import { makeTempDir } from '../harness';

const distNodes = path.resolve(__dirname, '../../../dist/nodes');
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const scpConnection = require(path.join(distNodes, 'scp-connection.js')) as unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const scpUpload = require(path.join(distNodes, 'scp-upload.js')) as unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const scpDownload = require(path.join(distNodes, 'scp-download.js')) as unknown;
export const allNodes = [scpConnection, scpUpload, scpDownload];

export { helper };

export type Msg = Record<string, unknown>;

let userDir: string | undefined;

/** Starts the helper's server once per file; Node-RED's user directory (TOFU store) is a temp dir. */
export function useNodeRed(): void {
  before(async function () {
    helper.init(require.resolve('node-red'));
    userDir = await makeTempDir('nodes-userdir');
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

export function nodeRedUserDir(): string {
  if (!userDir) throw new Error('useNodeRed() was not called');
  return userDir;
}

export interface ConnectionOptions {
  id?: string;
  port?: number;
  hostKeyPolicy?: 'tofu' | 'fingerprint' | 'known_hosts' | 'any';
  [key: string]: unknown;
}

/** An scp-connection to the server, pinned to its host key unless a policy is given. */
export function connectionDef(server: SshdServer, options: ConnectionOptions = {}): Record<string, unknown> {
  return {
    id: 'conn',
    type: 'scp-connection',
    host: server.host,
    port: server.port,
    username: server.username,
    hostKeyPolicy: 'fingerprint',
    hostFingerprints: server.hostKeyFingerprints.join('\n'),
    transport: 'auto',
    ...options,
  };
}

export function uploadDef(props: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'up',
    type: 'scp upload',
    z: 'tab',
    connection: 'conn',
    remotePath: 'remotePath',
    remotePathType: 'msg',
    localPath: 'localPath',
    localPathType: 'msg',
    mode: '0644',
    preserve: false,
    atomic: true,
    overwrite: 'overwrite',
    progress: false,
    wires: [['out'], ['progress']],
    ...props,
  };
}

export function downloadDef(props: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'down',
    type: 'scp download',
    z: 'tab',
    connection: 'conn',
    remotePath: 'remotePath',
    remotePathType: 'msg',
    target: 'payload',
    localPath: 'localPath',
    localPathType: 'msg',
    recursive: false,
    glob: false,
    preserve: true,
    overwrite: 'overwrite',
    maxSize: 256,
    maxFiles: 10000,
    progress: false,
    wires: [['out'], ['progress']],
    ...props,
  };
}

/** The collecting nodes every flow has: `out` (results), `progress`, and a Catch node feeding `err`. */
export function sinks(): Record<string, unknown>[] {
  return [
    { id: 'tab', type: 'tab', label: 'tests' },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'progress', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['err']] },
    { id: 'err', type: 'helper', z: 'tab' },
  ];
}

export async function loadFlow(nodes: Record<string, unknown>[], credentials: Record<string, Record<string, string>> = {}): Promise<void> {
  await helper.load(allNodes, [...nodes, ...sinks()], credentials);
}

export interface Outcome {
  results: Msg[];
  progress: Msg[];
  error?: Msg;
}

/**
 * Sends `msg` to node `id` and waits until it is answered: `expectResults` messages on `out`, or one on `err`.
 * Progress messages seen meanwhile are collected too.
 */
export function send(id: string, msg: Msg, expectResults = 1): Promise<Outcome> {
  const outcome: Outcome = { results: [], progress: [] };
  const out = helper.getNode('out');
  const progress = helper.getNode('progress');
  const err = helper.getNode('err');
  return new Promise((resolve) => {
    const finish = (): void => {
      out.removeAllListeners('input');
      progress.removeAllListeners('input');
      err.removeAllListeners('input');
      resolve(outcome);
    };
    out.on('input', (m: Msg) => {
      outcome.results.push(m);
      if (outcome.results.length >= expectResults) setImmediate(finish);
    });
    progress.on('input', (m: Msg) => {
      outcome.progress.push(m);
    });
    err.on('input', (m: Msg) => {
      outcome.error = m;
      setImmediate(finish);
    });
    helper.getNode(id).receive(msg);
  });
}

/** The error code a Catch node saw, or a readable failure when the message succeeded instead. */
export function errorCode(outcome: Outcome): unknown {
  if (!outcome.error) return `no error (results: ${outcome.results.length})`;
  return (outcome.error.error as { code?: unknown }).code;
}

export function resultOf(outcome: Outcome, index = 0): Msg {
  if (outcome.error) {
    const error = outcome.error.error as { code?: unknown; message?: unknown };
    throw new Error(`expected a result, got error ${String(error.code)}: ${String(error.message)}`);
  }
  return outcome.results[index];
}
