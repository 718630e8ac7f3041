/**
 * The flows the package tests deploy over the admin API into a real Node-RED: HTTP endpoints drive them, so
 * a test sends a request and reads what the flow answered.
 *   POST /scp-roundtrip  body → scp upload → scp download of the same file → the response body
 *   GET  /scp-missing    scp download of a file that is not there → Catch → the response is msg.error.code
 */
import type { Endpoint } from '../support/red';

export const ROUNDTRIP_URL = '/scp-roundtrip';
export const MISSING_URL = '/scp-missing';
export const CONNECTION_ID = 'c0ffee0000000001';
export const UPLOAD_ID = 'f10e000000000003';
export const DOWNLOAD_ID = 'f10e000000000004';

export interface PackageFlowOptions {
  server: Endpoint & { clientKey: string };
  /** absolute path of the file the round trip writes and reads back */
  remoteFile: string;
  /** absolute path of a file that does not exist */
  missingFile: string;
}

export function packageTestFlow({ server, remoteFile, missingFile }: PackageFlowOptions): object[] {
  const z = 'f10e000000000001';
  const at = (x: number, y: number) => ({ z, x, y });
  const response = (id: string, y: number) => ({ id, type: 'http response', name: '', statusCode: '', headers: {}, wires: [], ...at(700, y) });
  const transferDefaults = { connection: CONNECTION_ID, localPath: '', localPathType: 'str', overwrite: 'overwrite', preserve: false, progress: false };
  /** A download of `remotePath` (a fixed path) into msg.payload, at most 16 bytes. */
  const payloadDownload = (id: string, remotePath: string): Record<string, unknown> => ({
    id,
    type: 'scp download',
    name: '',
    ...transferDefaults,
    remotePath,
    remotePathType: 'str',
    target: 'payload',
    recursive: false,
    glob: false,
    maxSize: 16,
    maxFiles: 1,
    outputs: 1,
  });
  return [
    { id: z, type: 'tab', label: 'package test' },
    {
      id: CONNECTION_ID,
      type: 'scp-connection',
      name: '',
      host: server.host,
      port: server.port,
      username: server.username,
      hostKeyPolicy: 'fingerprint',
      hostFingerprints: server.hostKeyFingerprints.join('\n'),
      transport: 'auto',
      credentials: { privateKey: server.clientKey },
    },
    { id: 'f10e000000000002', type: 'http in', name: '', url: ROUNDTRIP_URL, method: 'post', upload: false, wires: [[UPLOAD_ID]], ...at(120, 60) },
    {
      id: UPLOAD_ID,
      type: 'scp upload',
      name: '',
      ...transferDefaults,
      remotePath: remoteFile,
      remotePathType: 'str',
      mode: '0644',
      atomic: true,
      outputs: 1,
      wires: [[DOWNLOAD_ID]],
      ...at(320, 60),
    },
    { ...payloadDownload(DOWNLOAD_ID, remoteFile), wires: [['f10e000000000005']], ...at(520, 60) },
    response('f10e000000000005', 60),
    { id: 'f10e000000000006', type: 'http in', name: '', url: MISSING_URL, method: 'get', upload: false, wires: [['f10e000000000007']], ...at(120, 160) },
    { ...payloadDownload('f10e000000000007', missingFile), wires: [[]], ...at(320, 160) },
    { id: 'f10e000000000008', type: 'catch', name: '', scope: ['f10e000000000007'], uncaught: false, wires: [['f10e000000000009']], ...at(320, 220) },
    {
      id: 'f10e000000000009',
      type: 'function',
      name: 'error code',
      func: 'msg.payload = String(msg.error && msg.error.code);\nreturn msg;',
      outputs: 1,
      wires: [['f10e00000000000a']],
      ...at(520, 220),
    },
    response('f10e00000000000a', 220),
  ];
}
