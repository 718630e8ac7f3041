/**
 * The flow a test deploys into a real Node-RED process (support/node-red-process.ts) to pull on demand:
 *   GET /pull  → scp download (its settings from the test) → a function node shapes the answer → http response
 *   catch      → { error: code, message } into the same response
 * so every request gets one JSON reply, a failure included.
 */
import type { SshdServer } from '../harness';
import { connectionNode } from './red';

export interface HttpPullFlow {
  /** the first 14 hex digits of every node id (each node adds two), so flows of different tests never clash */
  idPrefix: string;
  label: string;
  /** the scp-connection's settings beyond host, port, user and key (e.g. transport) */
  connection?: Record<string, unknown>;
  /** the scp download node's settings (remotePath, target, glob, ...) */
  download: Record<string, unknown>;
  /** the body of the function node that turns the download's msg into the response's payload */
  reply: string;
}

export function httpPullFlow(server: SshdServer, flow: HttpPullFlow): object[] {
  const id = (suffix: string): string => `${flow.idPrefix}${suffix}`;
  const z = id('01');
  const intoResponse = (suffix: string, func: string): object => ({ id: id(suffix), type: 'function', z, func, outputs: 1, wires: [[id('05')]] });
  const failure = 'msg.payload = { error: msg.error.code, message: msg.error.message };\nreturn msg;';
  return [
    { id: z, type: 'tab', label: flow.label },
    connectionNode(server, { id: id('c0'), ...flow.connection, credentials: { privateKey: server.clientKey } }),
    { id: id('02'), type: 'http in', z, url: '/pull', method: 'get', upload: false, wires: [[id('03')]] },
    { ...flow.download, id: id('03'), type: 'scp download', z, connection: id('c0'), outputs: 1, wires: [[id('04')]] },
    intoResponse('04', flow.reply),
    { id: id('05'), type: 'http response', z, statusCode: '', headers: {}, wires: [] },
    { id: id('06'), type: 'catch', z, scope: null, uncaught: false, wires: [[id('07')]] },
    intoResponse('07', failure),
  ];
}
