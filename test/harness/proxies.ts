/**
 * Real proxies on 127.0.0.1 for the proxy tests: Dante (danted, SOCKS5, with or without username
 * authentication against the system's accounts) and tinyproxy (HTTP CONNECT, with or without Basic auth).
 * Each runs in the foreground from a config in a temp dir and is stopped by the test or the end-of-run hook.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startOnFreePort, type ServerProcess } from './server-process';
import { makeTempDirSync } from './tmp';

export interface ProxyServer {
  kind: 'socks5' | 'http';
  host: string;
  port: number;
  stop(): Promise<void>;
  logs(): string;
}

const DANTED = '/usr/sbin/danted';
const TINYPROXY = '/usr/bin/tinyproxy';
const BIND_FAILURE = /address already in use|could not create listening|bind/i;

function handle(kind: ProxyServer['kind'], proc: ServerProcess): ProxyServer {
  return {
    kind,
    host: '127.0.0.1',
    port: proc.port,
    stop: async () => {
      await proc.stop();
      proc.dispose();
    },
    logs: () => proc.logs(),
  };
}

function needProgram(program: string, pkg: string): void {
  if (!fs.existsSync(program)) throw new Error(`${program} is missing: the proxy tests need it. Install it with: apt-get install -y ${pkg}`);
}

export interface DanteOptions {
  /** 'username': RFC 1929 user/password, checked against the system's accounts (needs root) */
  auth?: 'none' | 'username';
  /** connections to 127.0.0.1 on this port are refused by a rule (SOCKS reply 2) */
  blockPort?: number;
}

export async function startDante(options: DanteOptions = {}): Promise<ProxyServer> {
  needProgram(DANTED, 'dante-server');
  const dir = makeTempDirSync('danted');
  const block = options.blockPort
    ? `socks block {\n  from: 0.0.0.0/0 to: 127.0.0.1/32 port = ${options.blockPort}\n  log: error\n}\n`
    : '';
  const proc = await startOnFreePort(DANTED, undefined, BIND_FAILURE, (port) => {
    const config = path.join(dir, `danted-${port}.conf`);
    fs.writeFileSync(
      config,
      [
        'logoutput: stderr',
        `internal: 127.0.0.1 port = ${port}`,
        'external: 127.0.0.1',
        `socksmethod: ${options.auth === 'username' ? 'username' : 'none'}`,
        // Checking system passwords needs root; the relaying itself runs as nobody.
        'user.privileged: root',
        'user.unprivileged: nobody',
        'client pass {\n  from: 127.0.0.1/32 to: 0.0.0.0/0\n}',
        block,
        'socks pass {\n  from: 0.0.0.0/0 to: 0.0.0.0/0\n  command: connect\n  log: connect error\n}',
        '',
      ].join('\n'),
    );
    return { name: 'danted', command: DANTED, args: ['-f', config, '-p', path.join(dir, `danted-${port}.pid`)], ready: 'listening' };
  });
  return handle('socks5', proc);
}

export interface TinyproxyOptions {
  basicAuth?: { username: string; password: string };
  /** the only ports CONNECT may reach (tinyproxy answers 403 for others); default any */
  connectPorts?: number[];
}

export async function startTinyproxy(options: TinyproxyOptions = {}): Promise<ProxyServer> {
  needProgram(TINYPROXY, 'tinyproxy');
  const dir = makeTempDirSync('tinyproxy');
  fs.chmodSync(dir, 0o755);
  const proc = await startOnFreePort(TINYPROXY, undefined, BIND_FAILURE, (port) => {
    const config = path.join(dir, `tinyproxy-${port}.conf`);
    fs.writeFileSync(
      config,
      [
        `Port ${port}`,
        'Listen 127.0.0.1',
        'Timeout 120',
        'LogLevel Info',
        'MaxClients 64',
        ...(process.getuid?.() === 0 ? ['User nobody', 'Group nogroup'] : []),
        ...(options.connectPorts ?? []).map((allowed) => `ConnectPort ${allowed}`),
        ...(options.basicAuth ? [`BasicAuth ${options.basicAuth.username} ${options.basicAuth.password}`] : []),
        '',
      ].join('\n'),
    );
    return { name: 'tinyproxy', command: TINYPROXY, args: ['-d', '-c', config], ready: 'listening' };
  });
  return handle('http', proc);
}
