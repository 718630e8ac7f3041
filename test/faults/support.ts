/**
 * Plumbing for the fault and load tests: Node-RED's test helper with the three nodes loaded from dist/
 * (what Node-RED really loads), flows around one scp-connection, and a way to see every message's
 * `done()` call directly (wrapping the node's `_complete`), which still works while a flow is being
 * stopped or replaced, when Catch nodes and the helper's spies are already gone.
 */
import { execFile } from 'child_process';
import fs from 'fs';
import { startFakeServer, unfolding, type FakeExecRequest, type FakeServer } from '../harness';
import { holdsListeningSocket, processTree } from '../harness/proc';
import { allNodes, collectorNodes, connectionNode, downloadNode, helper as redHelper, uploadNode, useNodeRed as useRed, type Endpoint } from '../support/red';

export { allNodes, nodeRedUserDir as userDirectory } from '../support/red';

/** The parts of node-red-node-test-helper these tests use, with the node instances typed. */
export interface SinonSpyLike {
  getCalls(): Array<{ args: unknown[]; thisValue: unknown }>;
}
export interface TestHelper extends Omit<typeof redHelper, 'getNode' | 'log'> {
  getNode(id: string): RuntimeNode;
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

export const helper: TestHelper = redHelper;

export type Msg = Record<string, unknown>;
export type Credentials = Record<string, Record<string, string>>;

/** Node-RED's helper server for one test file; the user directory (TOFU store) is a fresh temp dir. */
export function useNodeRed(): void {
  useRed('faults-userdir');
}

export type { Endpoint };

/** The connection over SCP (the fault tests pin the transport; the node tests leave it on auto). */
export function connectionDef(server: Endpoint, props: Record<string, unknown> = {}): Msg {
  return connectionNode(server, { transport: 'scp', ...props });
}

/** Upload and download nodes with progress on: the fault tests watch transfers in flight. */
export function uploadDef(props: Record<string, unknown> = {}): Msg {
  return uploadNode({ progress: true, ...props });
}

export function downloadDef(props: Record<string, unknown> = {}): Msg {
  return downloadNode({ preserve: false, progress: true, ...props });
}

/** The tab, the result and progress collectors, and a Catch node feeding `caught` (done(err) also shows in DoneTracker). */
export function sinks(): Msg[] {
  return collectorNodes('faults', 'caught');
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

/**
 * A fake server whose scp sink sends its "ready" byte once and then nothing: the client's record and data
 * are never acknowledged, so the upload holds its channel for as long as the test wants. A single file's
 * upload comes folded into one command: the handler plays its scp -t part and runs the rest with /bin/sh.
 */
export async function startSilentScpSink(): Promise<{ fake: FakeServer; scpStarted(): number }> {
  let started = 0;
  const fake = await startFakeServer(
    unfolding((request) => {
      if (!request.command.startsWith('scp ')) return runLocally(request);
      started += 1;
      request.channel.write(Buffer.from([0]));
    }),
  );
  return { fake, scpStarted: () => started };
}

/**
 * Watches nodes `ids` for Node-RED giving up on their close (after its 15 s nodeCloseTimeout it calls the
 * node's error() with "stopping-error"/"Close timed out"); returns what it saw so far. A close that ends by
 * itself reports nothing: asserting on this, not on how long the close took, holds on a loaded machine. It
 * wraps the instances (the helper's log spy is already restored when unload() stops the flows).
 */
export function watchCloseTimeouts(...ids: string[]): () => string[] {
  const seen: string[] = [];
  for (const id of ids) {
    const node = helper.getNode(id);
    const original = (node.error as (...args: unknown[]) => unknown).bind(node);
    node.error = (...args: unknown[]): unknown => {
      const text = String(args[0]);
      if (/stopping-error|Close timed out|Error stopping node/.test(text)) seen.push(`${id}: ${text}`);
      return original(...args);
    };
  }
  return () => [...seen];
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
export function freezeSessions(port: number): { count: number; pids: number[]; thaw(): void } {
  const pids = sessionProcesses(port);
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  return {
    count: pids.length,
    pids,
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
