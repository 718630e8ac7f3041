/**
 * One server process (sshd or dropbear) in the foreground on 127.0.0.1:port: start and wait until it greets,
 * stop gracefully, kill hard (listener and every per-connection child), restart on the same port.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { onCleanup } from './cleanup';
import type { ClientKeys } from './keys';
import { holdsListeningSocket, isAlive, killTree, processTree } from './proc';
import type { SshdServer } from './types';
import type { TestUser } from './user';

export interface LaunchSpec {
  /** 'sshd' / 'dropbear', for messages */
  name: string;
  command: string;
  args: string[];
  /** a log file the server appends to, read by logs() besides its stdout/stderr */
  logFile?: string;
  /** when the server counts as started: it greets with an SSH banner (default), or it listens (a proxy says nothing first) */
  ready?: 'banner' | 'listening';
}

/** How long a server may take to greet after spawn; a startup deadline, not an assertion about speed. */
const READY_DEADLINE_MS = 20_000;
const STOP_GRACE_MS = 5_000;

/** A port that was free a moment ago (bound to 0 and released); the caller retries if it is taken meanwhile. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address() as net.AddressInfo;
      probe.close(() => resolve(address.port));
    });
  });
}

export class ServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private readonly unregister: () => void;

  constructor(
    private readonly spec: LaunchSpec,
    readonly port: number,
  ) {
    this.unregister = onCleanup(`${spec.name} on port ${port}`, () => this.killSync());
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  logs(): string {
    let fileLog = '';
    if (this.spec.logFile) {
      try {
        fileLog = fs.readFileSync(this.spec.logFile, 'utf8');
      } catch {
        // not written yet
      }
    }
    return fileLog + this.output;
  }

  /** Spawns the server and resolves once its port answers with an SSH banner (or listens); rejects with its log if it exits. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.spec.name} on port ${this.port} is already running`);
    // detached: own process group, so a Ctrl-C aimed at mocha reaches our cleanup first, not the server.
    const child = spawn(this.spec.command, this.spec.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    const append = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (err) => {
        this.output += `\n[harness] cannot start ${this.spec.command}: ${err.message}\n`;
        resolve();
      });
    });
    await this.waitForBanner(child);
  }

  /** SIGTERM to the listener and its sessions, waits for the listener to exit; SIGKILL what is left after a grace period. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    const tree = this.running ? processTree(child.pid) : [];
    for (const pid of tree) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone already
      }
    }
    const graceOver = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_GRACE_MS).unref());
    await Promise.race([this.exited, graceOver]);
    for (let waited = 0; waited < STOP_GRACE_MS && tree.some(isAlive); waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
    }
    this.killSync(tree);
    await this.exited;
  }

  /** SIGKILL the listener and every process under it (in-flight sessions break at once). */
  async kill(): Promise<void> {
    this.killSync();
    await this.exited;
  }

  async restart(): Promise<void> {
    if (this.running) await this.stop();
    this.output += '\n[harness] restart\n';
    await this.start();
  }

  /** Forgets the end-of-run cleanup (after the server was stopped for good). */
  dispose(): void {
    this.unregister();
  }

  private killSync(extra: number[] = []): void {
    const pid = this.child?.pid;
    if (pid !== undefined && this.running) killTree(pid);
    for (const p of extra) {
      if (isAlive(p)) killTree(p);
    }
  }

  private async waitForBanner(child: ChildProcess): Promise<void> {
    let dead = false;
    void this.exited.then(() => {
      dead = true;
    });
    const deadline = Date.now() + READY_DEADLINE_MS;
    while (!dead && Date.now() < deadline) {
      if (this.spec.ready === 'listening') {
        if (child.pid !== undefined && holdsListeningSocket(child.pid, this.port)) return;
      } else if (await bannerArrives(this.port)) {
        if (dead) break;
        if (child.pid !== undefined && holdsListeningSocket(child.pid, this.port)) return;
        // Someone else answered on our port: our server will fail to bind and exit; the caller retries.
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!dead) this.killSync();
    await this.exited;
    const why = dead ? `exited (code ${child.exitCode}, signal ${child.signalCode})` : 'did not greet in time';
    throw new Error(`${this.spec.name} on 127.0.0.1:${this.port} ${why}. Its log:\n${this.logs().trim()}`);
  }
}

/**
 * Starts the server that `launch(port)` describes on `fixedPort`, or on a free port, trying up to five free
 * ports: another process may take the one picked before the server binds it (`bindFailure` matches the
 * server's log line for that). Any other failure, or any failure on a fixed port, ends the attempts.
 */
export async function startOnFreePort(
  program: string,
  fixedPort: number | undefined,
  bindFailure: RegExp,
  launch: (port: number) => LaunchSpec,
): Promise<ServerProcess> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = fixedPort ?? (await freePort());
    const candidate = new ServerProcess(launch(port), port);
    try {
      await candidate.start();
      return candidate;
    } catch (err) {
      candidate.dispose();
      lastError = err as Error;
      if (fixedPort !== undefined || !bindFailure.test(lastError.message)) break;
    }
  }
  throw new Error(`cannot start ${program}: ${lastError?.message ?? 'unknown reason'}`);
}

/** The SshdServer a test sees for a started server: where it listens, how to log in, its host keys, its controls. */
export function serverHandle(
  kind: SshdServer['kind'],
  proc: ServerProcess,
  user: TestUser,
  keys: ClientKeys,
  hostPublicKeys: string[],
  hostKeyFingerprints: string[],
): SshdServer {
  const knownHostsLines = hostPublicKeys.map((k) => `[127.0.0.1]:${proc.port} ${k}`);
  return {
    kind,
    host: '127.0.0.1',
    port: proc.port,
    username: user.username,
    password: user.password,
    home: user.home,
    clientKey: keys.clientKey,
    clientKeyPath: keys.clientKeyPath,
    clientKeyEncrypted: keys.clientKeyEncrypted,
    clientKeyEncryptedPath: keys.clientKeyEncryptedPath,
    clientKeyPassphrase: keys.clientKeyPassphrase,
    hostKeyFingerprints,
    knownHostsLine: knownHostsLines[0] as string,
    knownHostsLines,
    stop: () => proc.stop(),
    kill: () => proc.kill(),
    restart: () => proc.restart(),
    isRunning: () => proc.running,
    logs: () => proc.logs(),
  };
}

/** One TCP probe: true when the port answers with "SSH-" within a short while. */
function bannerArrives(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(received.startsWith('SSH-')));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.includes('\n')) finish(received.startsWith('SSH-'));
    });
  });
}
