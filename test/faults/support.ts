/**
 * Plumbing for the fault and load tests: Node-RED's test helper with the three nodes loaded from dist/
 * (what Node-RED really loads), flows around one scp-connection, and a way to see every message's
 * `done()` call directly (wrapping the node's `_complete`), which still works while a flow is being
 * stopped or replaced, when Catch nodes and the helper's spies are already gone.
 */
import { execFile } from 'child_process';
import fs from 'fs';
import path from 'path';
import { makeTempDir, type FakeExecRequest } from '../harness';
import { holdsListeningSocket, processTree } from '../harness/proc';

/** The parts of node-red-node-test-helper (no published types) these tests use. */
export interface SinonSpyLike {
  getCalls(): Array<{ args: unknown[]; thisValue: unknown }>;
}
export interface TestHelper {
  init(nodeRedRuntime: string, userSettings?: Record<string, unknown>): void;
  settings(userSettings: Record<string, unknown>): Record<string, unknown>;
  startServer(done: (err?: unknown) => void): void;
  stopServer(done: (err?: unknown) => void): void;
  load(nodes: unknown[], flow: object[], credentials?: Record<string, Record<string, string>>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): RuntimeNode;
  setFlows(flow: object[], type?: string, credentials?: Record<string, Record<string, string>>): Promise<void>;
  log(): SinonSpyLike | undefined;
  _log?: Record<string, unknown>;
}

export interface RuntimeNode {
  id: string;
  receive(msg: Record<string, unknown>): void;
  on(event: string, listener: (...args: never[]) => void): void;
  removeAllListeners(event: string): void;
  _complete(msg: unknown, error?: unknown): void;
  [key: string]: unknown;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const helper = require('node-red-node-test-helper') as TestHelper;

const distNodes = path.resolve(__dirname, '../../../dist/nodes');
/* eslint-disable @typescript-eslint/no-require-imports */
export const allNodes = [
  require(path.join(distNodes, 'scp-connection.js')) as unknown,
  require(path.join(distNodes, 'scp-upload.js')) as unknown,
  require(path.join(distNodes, 'scp-download.js')) as unknown,
];
/* eslint-enable @typescript-eslint/no-require-imports */

export type Msg = Record<string, unknown>;
export type Credentials = Record<string, Record<string, string>>;

/** Node-RED's helper server for one test file; the user directory (TOFU store) is a fresh temp dir. */
let nodeRedUserDir: string | undefined;

/** Node-RED's user directory for this file's tests (where the TOFU store lives). */
export function userDirectory(): string {
  if (!nodeRedUserDir) throw new Error('useNodeRed() was not called');
  return nodeRedUserDir;
}

export function useNodeRed(): void {
  before(async function () {
    helper.init(require.resolve('node-red'));
    const userDir = await makeTempDir('faults-userdir');
    nodeRedUserDir = userDir;
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

export interface Endpoint {
  host: string;
  port: number;
  username?: string;
}

export function connectionDef(server: Endpoint & { hostKeyFingerprints: string[] }, props: Record<string, unknown> = {}): Msg {
  return {
    id: 'conn',
    type: 'scp-connection',
    host: server.host,
    port: server.port,
    username: server.username ?? 'tester',
    hostKeyPolicy: 'fingerprint',
    hostFingerprints: server.hostKeyFingerprints.join('\n'),
    transport: 'scp',
    ...props,
  };
}

export function uploadDef(props: Record<string, unknown> = {}): Msg {
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
    progress: true,
    wires: [['out'], ['progress']],
    ...props,
  };
}

export function downloadDef(props: Record<string, unknown> = {}): Msg {
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
    preserve: false,
    overwrite: 'overwrite',
    maxSize: 256,
    maxFiles: 10000,
    progress: true,
    wires: [['out'], ['progress']],
    ...props,
  };
}

/** The tab, the result and progress collectors, and a Catch node feeding `caught` (done(err) also shows in DoneTracker). */
export function sinks(): Msg[] {
  return [
    { id: 'tab', type: 'tab', label: 'faults' },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'progress', type: 'helper', z: 'tab' },
    // (an id equal to a type name would make Node-RED see a config node referencing itself)
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];
}

/** Collects what the Catch node passes on (msg.error.code is what a flow branches on). */
export function collectCaught(): Msg[] {
  const caught: Msg[] = [];
  helper.getNode('caught').on('input', ((msg: Msg) => caught.push(msg)) as (...args: never[]) => void);
  return caught;
}

export async function loadFlow(nodes: Msg[], credentials: Credentials = {}): Promise<Msg[]> {
  const flow = [...nodes, ...sinks()];
  await helper.load(allNodes, flow, credentials);
  return flow;
}

/** One message's answer: the error its done(err) carried, or none. */
export interface Completion {
  msg: Msg;
  error?: Error & { code?: unknown };
}

/**
 * Records every done() of node `id`. `wait(n)` resolves once n messages were answered. Works through
 * redeploys and shutdowns because it wraps the instance, not a spy the helper restores.
 */
export class DoneTracker {
  readonly completions: Completion[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(readonly node: RuntimeNode) {
    const original = node._complete.bind(node);
    node._complete = (msg: unknown, error?: unknown) => {
      this.completions.push({ msg: msg as Msg, ...(error ? { error: error as Error & { code?: unknown } } : {}) });
      this.waiters = this.waiters.filter((waiter) => {
        if (this.completions.length < waiter.count) return true;
        waiter.resolve();
        return false;
      });
      original(msg, error);
    };
  }

  wait(count: number): Promise<Completion[]> {
    if (this.completions.length >= count) return Promise.resolve(this.completions.slice(0, count));
    return new Promise((resolve) => this.waiters.push({ count, resolve: () => resolve(this.completions.slice(0, count)) }));
  }

  errors(): Array<Error & { code?: unknown }> {
    return this.completions.flatMap((completion) => (completion.error ? [completion.error] : []));
  }
}

export function track(id: string): DoneTracker {
  return new DoneTracker(helper.getNode(id));
}

/** Sends one message and waits for its done(); returns the error code, or 'ok'. */
export async function codeOf(tracker: DoneTracker, msg: Msg): Promise<{ code: unknown; error?: Error & { code?: unknown } }> {
  const index = tracker.completions.length;
  tracker.node.receive(msg);
  const completions = await tracker.wait(index + 1);
  const completion = completions[index];
  return completion.error ? { code: completion.error.code, error: completion.error } : { code: 'ok' };
}

/** Resolves with the first progress message on `progress` whose bytes satisfy `predicate`. */
export function progressReached(remotePath: string, predicate: (bytes: number) => boolean): Promise<Msg> {
  const progress = helper.getNode('progress');
  return new Promise((resolve) => {
    const listener = (msg: Msg): void => {
      const payload = msg.payload as { bytes?: number };
      if (msg.remotePath === remotePath && typeof payload.bytes === 'number' && predicate(payload.bytes)) resolve(msg);
    };
    progress.on('input', listener as (...args: never[]) => void);
  });
}

/** Wall-clock ms of `work` (used only against generous bounds, never as a precise assertion). */
export async function elapsed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  const value = await work();
  return { value, ms: Date.now() - start };
}

/** For fake servers: runs a non-SCP command (the engine's probe and rename helpers) for real with /bin/sh, as the "remote" shell. */
export function runLocally({ command, channel }: FakeExecRequest): void {
  execFile('/bin/sh', ['-c', command], { encoding: 'buffer' }, (error, stdout, stderr) => {
    channel.write(stdout);
    channel.stderr.write(stderr);
    channel.exit(error ? (typeof error.code === 'number' ? error.code : 1) : 0);
    channel.end();
  });
}

/**
 * Resolves once `tracker`'s node reports progress on `remotePath` with bytes < total (the transfer
 * is in flight). Fails at once, with what happened, when the message is answered first, and after
 * `limitMs` when nothing moves: a test waiting for a transfer must never hang.
 */
export async function inFlight(tracker: DoneTracker, remotePath: string, total: number, limitMs = 60_000): Promise<void> {
  // The first progress message comes when the file starts (bytes may still be 0): in flight from then on.
  const index = tracker.completions.length;
  let timer: NodeJS.Timeout | undefined;
  const seen: string[] = [];
  helper.getNode('progress').on('input', ((msg: Msg) => {
    if (msg.remotePath === remotePath) seen.push(String((msg.payload as { bytes?: unknown }).bytes));
  }) as (...args: never[]) => void);
  const outcome = await Promise.race([
    progressReached(remotePath, (bytes) => bytes >= 0 && bytes < total).then(() => 'moving'),
    tracker.wait(index + 1).then((completions) => {
      const { error } = completions[index];
      return `answered before it was seen in flight: ${error ? `${String(error.code)} ${error.message}` : 'it succeeded'}`;
    }),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no progress on ${remotePath} within ${limitMs} ms`), limitMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome !== 'moving') throw new Error(`${outcome}; progress seen: ${seen.slice(0, 6).join(', ') || 'none'}`);
}

/** The pids of this sshd's per-connection processes (its listener's descendants), found by the listening port. */
function sessionProcesses(port: number): number[] {
  const sshds = fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sshd';
      } catch {
        return false;
      }
    });
  const listeners = sshds.filter((pid) => holdsListeningSocket(pid, port));
  if (listeners.length === 0) throw new Error(`no sshd listens on port ${port}`);
  const trees = listeners.map((pid) => processTree(pid));
  const [listener, ...sessions] = trees.reduce((widest, tree) => (tree.length > widest.length ? tree : widest));
  void listener;
  return sessions;
}

/**
 * Stops (SIGSTOP) every session process of the sshd on `port`, so the transfers it serves freeze where
 * they are: a test can then act on a transfer that is certainly still in flight. `thaw` resumes them;
 * the harness's kill() ends them either way (SIGKILL works on stopped processes).
 */
export function freezeSessions(port: number): { count: number; thaw(): void } {
  const pids = sessionProcesses(port);
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  return {
    count: pids.length,
    thaw: () => {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // already gone
        }
      }
    },
  };
}
