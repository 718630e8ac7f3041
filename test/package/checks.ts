/** Assertions shared by the package tests (Node-RED 4.1 on the machine's Node, Node-RED 4.1 and 5 on each Node.js line of the matrix). */
import assert from 'assert';
import { runAsUser, type SshdServer } from '../harness';
import type { NodeRedProcess } from '../support/node-red-process';
import { ROUNDTRIP_URL } from './flows';
import { PACKAGE_JSON } from './support';

interface NodeSetInfo {
  types: string[];
  enabled: boolean;
  err?: string;
}

interface ModuleInfo {
  version: string;
  /** found in the user directory's node_modules */
  local: boolean;
  /** and listed in its package.json: installed by the user (the palette manager can remove it) */
  user: boolean;
  nodes: NodeSetInfo[];
}

/** Whether this repo's own ssh2 (installed by `npm ci`) has its native binding: the machine can build it. */
export function repoHasSshBinding(): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean }).bindingAvailable === true;
}

/** GET /nodes/<module>: this version, from the user directory, its node sets (the two copy nodes, scp remote and the connection) enabled, no load error. */
export async function assertNodeTypesLoaded(red: NodeRedProcess): Promise<void> {
  const answer = await red.request('GET', `/nodes/${PACKAGE_JSON.name}`, undefined, { Accept: 'application/json', 'Node-RED-API-Version': 'v2' });
  assert.strictEqual(answer.status, 200, `${answer.body}\nNode-RED's log:\n${red.log()}`);
  const module = answer.json<ModuleInfo>();
  const seen = {
    version: module.version,
    local: module.local,
    user: module.user,
    nodes: module.nodes.map((set) => ({ types: set.types, enabled: set.enabled, err: set.err })).sort((a, b) => a.types[0].localeCompare(b.types[0])),
  };
  const expected = {
    version: PACKAGE_JSON.version,
    local: true,
    user: true,
    nodes: ['scp download', 'scp remote', 'scp upload', 'scp-connection'].sort((a, b) => a.localeCompare(b)).map((type) => ({ types: [type], enabled: true, err: undefined })),
  };
  assert.deepStrictEqual(seen, expected, `Node-RED's log:\n${red.log()}`);
  // The editor gets each node's dialog from the installed files.
  const editor = await red.request('GET', '/nodes', undefined, { Accept: 'text/html' });
  for (const type of ['scp-connection', 'scp upload', 'scp download', 'scp remote']) {
    assert.ok(editor.body.includes(`RED.nodes.registerType('${type}'`), `the editor receives the dialog of ${type}`);
  }
}

/** POSTs `text` to the round-trip endpoint: the response is the file read back, the server holds it. */
export async function assertRoundTrip(red: NodeRedProcess, server: SshdServer, remoteFile: string, text: string): Promise<void> {
  const answer = await red.request('POST', ROUNDTRIP_URL, text, { 'Content-Type': 'text/plain' });
  assert.strictEqual(answer.status, 200, `${answer.body}\nNode-RED's log:\n${red.log()}`);
  assert.strictEqual(answer.body, text, 'the payload came back through scp download');
  const stored = await runAsUser(server, `cat ${remoteFile}`);
  assert.strictEqual(stored.stdout.toString('utf8'), text, 'the file on the server holds the payload');
}
