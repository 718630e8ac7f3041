/**
 * The flow the bench deploys into Node-RED over its admin API: one HTTP endpoint per operation, so the bench
 * sends a request and times the answer from outside, as a user's flow would be driven.
 *   POST /bench/up        {localPath | content(base64), remotePath} → scp upload                → 200 / 500
 *   POST /bench/down      {remotePath, localPath}                  → scp download to a file     → 200 / 500
 *   POST /bench/down-dir  {remotePath, localPath}                  → recursive download into a directory
 *   POST /bench/sftp/up, /bench/sftp/down                          → the same through a second connection node
 *                                                                     whose transport is 'sftp'
 *   POST /bench/exec      {args}                                   → Node-RED's exec node runs OpenSSH's
 *                                                                     `scp -O` (under /usr/bin/time) with these ends
 *                                                                     → 200 {cpuSeconds of scp and its ssh} / 500
 *   GET  /scp-bench-ping                                           → answered at once (bench/ping.ts)
 * Errors of the scp nodes go through a Catch node to a 500 answer carrying msg.error.
 */
import { quoteForShell } from '../src/shell-quote';
import type { SshdServer } from '../test/harness';
import { TIME_FORMAT, scpOptions } from './contenders/scp';
import { PING_PATH } from './ping';

export const ENDPOINTS = {
  up: '/bench/up',
  down: '/bench/down',
  downDir: '/bench/down-dir',
  sftpUp: '/bench/sftp/up',
  sftpDown: '/bench/sftp/down',
  exec: '/bench/exec',
  ping: PING_PATH,
} as const;

const TAB = 'be0c000000000001';
const CONNECTION = 'be0c000000000002';
const RESPONSE = 'be0c000000000003';
const FAILED = 'be0c000000000004';
const SFTP_CONNECTION = 'be0c000000000006';

// Moves the request's fields onto msg; a content upload sends msg.payload, a path upload the local file.
const ARGUMENTS = `const body = msg.payload || {};
msg.remotePath = body.remotePath;
if (body.localPath !== undefined) msg.localPath = body.localPath;
msg.payload = body.content === undefined ? '' : Buffer.from(body.content, 'base64');
return msg;`;

// The exec node answers once, on its first output: stdout (which holds /usr/bin/time's line and, by `2>&1`,
// whatever scp said) with msg.rc, the exit code.
const EXEC_RESULT = `const said = String(msg.payload || '');
const rc = msg.rc || { code: 0 };
if (rc.code !== 0) {
  msg.statusCode = 500;
  msg.payload = { code: rc.code, message: said.slice(-2000) };
  return msg;
}
const cpu = /BENCH_CPU ([\\d.]+) ([\\d.]+)/.exec(said);
msg.payload = { cpuSeconds: cpu ? Number(cpu[1]) + Number(cpu[2]) : null };
return msg;`;

/** The exec node's command: OpenSSH's `scp -O` with its defaults, counted by /usr/bin/time; msg.payload adds the two ends. */
function execCommand(server: SshdServer): string {
  return ['/usr/bin/time', '-f', TIME_FORMAT, 'scp', ...scpOptions(server, { legacy: true })].map(quoteForShell).join(' ');
}

/** `http in` (POST /bench/exec) → arguments → exec node → its result → the shared response */
function execEndpoint(server: SshdServer, response: string): object[] {
  const at = { z: TAB, y: 480 };
  return [
    { id: 'be0c000000000301', type: 'http in', name: '', url: ENDPOINTS.exec, method: 'post', upload: false, wires: [['be0c000000000302']], ...at, x: 120 },
    { id: 'be0c000000000302', type: 'function', name: 'scp ends', func: 'msg.payload = msg.payload.args;\nreturn msg;', outputs: 1, wires: [['be0c000000000303']], ...at, x: 300 },
    {
      id: 'be0c000000000303',
      type: 'exec',
      name: 'scp -O',
      command: execCommand(server),
      addpay: 'payload',
      append: '2>&1',
      useSpawn: 'false',
      timer: '',
      winHide: false,
      oldrc: false,
      wires: [['be0c000000000304'], [], []],
      ...at,
      x: 480,
    },
    { id: 'be0c000000000304', type: 'function', name: 'exec result', func: EXEC_RESULT, outputs: 1, wires: [[response]], ...at, x: 660 },
  ];
}

/** `http in` (GET /scp-bench-ping) straight to its `http response`: what another flow of the user feels */
function pingEndpoint(): object[] {
  const at = { z: TAB, y: 560 };
  return [
    { id: 'be0c000000000401', type: 'http in', name: '', url: ENDPOINTS.ping, method: 'get', upload: false, wires: [['be0c000000000402']], ...at, x: 120 },
    { id: 'be0c000000000402', type: 'http response', name: '', statusCode: '', headers: {}, wires: [], ...at, x: 300 },
  ];
}

export function benchFlow(server: SshdServer): object[] {
  let y = 0;
  const at = (x: number) => ({ z: TAB, x, y });
  const common = { connection: CONNECTION, remotePath: 'remotePath', remotePathType: 'msg', localPath: 'localPath', localPathType: 'msg', overwrite: 'overwrite', preserve: false, progress: false, outputs: 1 };
  const scpNodes: string[] = [];
  const endpoint = (index: number, url: string, scpNode: Record<string, unknown>): object[] => {
    y = 60 + index * 80;
    const id = (n: number): string => `be0c0000000001${index}${n}`;
    scpNodes.push(id(3));
    return [
      { id: id(1), type: 'http in', name: '', url, method: 'post', upload: false, wires: [[id(2)]], ...at(120) },
      { id: id(2), type: 'function', name: 'arguments', func: ARGUMENTS, outputs: 1, wires: [[id(3)]], ...at(300) },
      { id: id(3), name: '', ...common, ...scpNode, wires: [[id(4)]], ...at(480) },
      { id: id(4), type: 'function', name: 'ok', func: 'msg.payload = { bytes: msg.bytes };\nreturn msg;', outputs: 1, wires: [[RESPONSE]], ...at(660) },
    ];
  };
  const download = { type: 'scp download', glob: false, maxSize: 0, maxFiles: 100000 };
  const nodes = [
    ...endpoint(1, ENDPOINTS.up, { type: 'scp upload', mode: '0644', atomic: true }),
    ...endpoint(2, ENDPOINTS.down, { ...download, target: 'file', recursive: false }),
    ...endpoint(3, ENDPOINTS.downDir, { ...download, target: 'directory', recursive: true }),
    ...endpoint(4, ENDPOINTS.sftpUp, { type: 'scp upload', mode: '0644', atomic: true, connection: SFTP_CONNECTION }),
    ...endpoint(5, ENDPOINTS.sftpDown, { ...download, target: 'file', recursive: false, connection: SFTP_CONNECTION }),
  ];
  const connection = {
    type: 'scp-connection',
    host: server.host,
    port: server.port,
    username: server.username,
    hostKeyPolicy: 'fingerprint',
    hostFingerprints: server.hostKeyFingerprints.join('\n'),
    credentials: { privateKey: server.clientKey },
  };
  y = 320;
  return [
    { id: TAB, type: 'tab', label: 'bench' },
    { id: CONNECTION, name: 'bench sshd', ...connection, transport: 'auto' },
    { id: SFTP_CONNECTION, name: 'bench sshd (sftp)', ...connection, transport: 'sftp' },
    ...nodes,
    { id: 'be0c000000000005', type: 'catch', name: '', scope: scpNodes, uncaught: false, wires: [[FAILED]], ...at(480) },
    {
      id: FAILED,
      type: 'function',
      name: 'failed',
      func: 'msg.statusCode = 500;\nmsg.payload = { code: msg.error && msg.error.code, message: msg.error && msg.error.message };\nreturn msg;',
      outputs: 1,
      wires: [[RESPONSE]],
      ...at(660),
    },
    { id: RESPONSE, type: 'http response', name: '', statusCode: '', headers: {}, wires: [], ...at(840) },
    ...execEndpoint(server, RESPONSE),
    ...pingEndpoint(),
  ];
}
