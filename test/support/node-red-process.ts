/**
 * Node-RED as users run it: its red.js in a child process, on 127.0.0.1 and a free port, with a given user
 * directory, driven over the admin API. For tests of what the test helper cannot show: the package as
 * installed from its tarball (test/package) and other Node-RED and Node.js versions (test/support/node-lines.ts).
 */
import { spawn } from 'child_process';
import fs from 'fs';
import http from 'http';
import net from 'net';
import path from 'path';
import { onCleanup } from '../harness/cleanup';
import { eventually } from './eventually';

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

/** The Node-RED of this repo's devDependencies (4.1). */
export const NODE_RED_4_RED_JS = path.join(PACKAGE_ROOT, 'node_modules', 'node-red', 'red.js');

/**
 * Settings for a quiet, offline Node-RED: no welcome tour, no telemetry consent prompt or update check, no
 * palette catalogue fetch, no projects, credentials stored as plain JSON (tests read them back).
 */
export const QUIET_SETTINGS: Record<string, unknown> = {
  flowFile: 'flows.json',
  credentialSecret: false,
  editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } },
  telemetry: { enabled: false, updateNotification: false },
  logging: { console: { level: 'info', metrics: false, audit: false } },
};

export interface NodeRedProcessOptions {
  userDir: string;
  /** red.js to run; default: this repo's Node-RED 4.1 */
  redJs?: string;
  /** the node binary; default: the one running the tests */
  node?: string;
  /** options for node itself, before red.js (`--require`, `--cpu-prof`: those NODE_OPTIONS refuses) */
  execArgv?: string[];
  /** merged over QUIET_SETTINGS (top-level keys replace), uiHost and uiPort */
  settings?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** how long Node-RED may take to start its flows (a start-up deadline, not an assertion) */
  startLimitMs?: number;
}

export interface HttpAnswer {
  status: number;
  body: string;
  json<T = unknown>(): T;
}

export interface NodeRedProcess {
  /** http://127.0.0.1:PORT */
  url: string;
  userDir: string;
  /** the Node-RED process's id (the benchmark reads its CPU time and RSS) */
  pid: number;
  /** Node-RED's console output so far */
  log(): string;
  /** One HTTP request to this Node-RED (admin API or an `http in` endpoint); a JSON body is sent as JSON. */
  request(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<HttpAnswer>;
  /** Deploys `flow` (a full deployment, credentials inline on the nodes) and waits until it runs. */
  deploy(flow: object[]): Promise<void>;
  /** SIGTERM, SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export function httpRequest(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) || typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  const contentType = body === undefined || Buffer.isBuffer(body) || typeof body === 'string' ? {} : { 'Content-Type': 'application/json' };
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, headers: { ...contentType, ...headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: response.statusCode ?? 0,
          body: text,
          json: <T>() => {
            try {
              return JSON.parse(text) as T;
            } catch {
              throw new Error(`${method} ${url}: expected JSON, got ${response.statusCode}: ${text.slice(0, 300)}`);
            }
          },
        });
      });
    });
    request.setTimeout(30_000, () => request.destroy(new Error(`${method} ${url}: no answer within 30 s`)));
    request.on('error', reject);
    request.end(payload);
  });
}

/** Starts Node-RED and resolves once its flows run (rejects with its log when it exits or does not get there). */
export async function startNodeRedProcess(options: NodeRedProcessOptions): Promise<NodeRedProcess> {
  const { userDir } = options;
  const port = await freePort();
  const settingsFile = path.join(userDir, 'settings.js');
  const settings = { ...QUIET_SETTINGS, ...options.settings, uiHost: '127.0.0.1', uiPort: port };
  fs.writeFileSync(settingsFile, `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  const redJs = options.redJs ?? NODE_RED_4_RED_JS;
  return launchNodeRed({
    node: options.node,
    args: [...(options.execArgv ?? []), redJs, '--userDir', userDir, '--settings', settingsFile],
    cwd: userDir,
    env: options.env,
    port,
    userDir,
    startLimitMs: options.startLimitMs,
  });
}

export interface LaunchOptions {
  /** default: the node running the tests */
  node?: string;
  /** node's arguments: red.js or a script that starts it, and theirs */
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** the port it will listen on (127.0.0.1) */
  port: number;
  userDir: string;
  startLimitMs?: number;
}

/** Runs a command that starts Node-RED on 127.0.0.1:`port` and resolves once its flows run. */
export async function launchNodeRed(options: LaunchOptions): Promise<NodeRedProcess> {
  const { port, userDir } = options;
  const url = `http://127.0.0.1:${port}`;
  const node = options.node ?? process.execPath;
  const child = spawn(node, options.args, {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_RED_ENABLE_PROJECTS: 'false', ...options.env },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.on('error', (error) => (output += `\n[spawn error] ${error.message}\n`));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const forget = onCleanup(`kill Node-RED on port ${port}`, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    forget();
  };

  const request = (method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<HttpAnswer> =>
    httpRequest(method, url + urlPath, body, headers);

  const startedCount = (): number => (output.match(/Started flows/g) ?? []).length;
  const deploy = async (flow: object[]): Promise<void> => {
    const before = startedCount();
    const answer = await request('POST', '/flows', flow, { 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v1' });
    if (answer.status !== 204 && answer.status !== 200) throw new Error(`POST /flows: ${answer.status} ${answer.body}`);
    await eventually('the deployed flows to start', () => startedCount() > before, { limitMs: 30_000, everyMs: 100, context: () => `Node-RED said:\n${output}` });
  };

  try {
    await eventually(
      `\`${path.basename(node)} ${options.args.join(' ')}\` to start Node-RED`,
      () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`Node-RED exited (${child.exitCode ?? child.signalCode}):\n${output}`);
        return startedCount() > 0;
      },
      { limitMs: options.startLimitMs ?? 60_000, everyMs: 100, context: () => `Node-RED said:\n${output}` },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, userDir, pid: child.pid ?? 0, log: () => output, request, deploy, stop };
}
