/**
 * Without ssh2's native crypto binding transfers are much slower: the user is told once per connection, by
 * the pool (src/ssh), through the connection node's log, not a second time by the node itself.
 */
import assert from 'assert';
import { makeServerDir, sharedSshd, type SshdServer } from '../harness';
import { connectionDef, helper, loadFlow, resultOf, send, uploadDef, useNodeRed } from './support';
import { nodesEngine } from '../support/red';

interface Spied {
  getCalls(): { args: unknown[]; thisValue: unknown }[];
}

describe('nodes: missing native crypto binding (real sshd)', function () {
  useNodeRed();
  let server: SshdServer;
  let dir: { relative: string; absolute: string };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean };
  let saved: boolean;

  before(async function () {
    server = await sharedSshd();
    dir = await makeServerDir(server, 'nodes-crypto-binding');
    // The binding is stubbed on this thread: the engine must run here too, not in its worker.
    nodesEngine.setEngine(new nodesEngine.LocalEngine());
  });
  after(() => {
    nodesEngine.setEngine(undefined);
  });
  beforeEach(() => {
    saved = crypto.bindingAvailable;
    crypto.bindingAvailable = false;
  });
  afterEach(() => {
    crypto.bindingAvailable = saved;
  });

  it('warns exactly once in the Node-RED log, from the pool, however many transfers run', async function () {
    await loadFlow([connectionDef(server), uploadDef()], { conn: { password: server.password } });
    const connection = helper.getNode('conn') as unknown as Record<string, unknown>;
    for (const name of ['a.txt', 'b.txt']) {
      resultOf(await send('up', { payload: name, remotePath: `${dir.absolute}/${name}` }));
    }
    const warnings = (connection.warn as Spied)
      .getCalls()
      .filter((call) => call.thisValue === connection)
      .map((call) => String(call.args[0]));
    const bindingWarnings = warnings.filter((text) => /warnings\.cryptoBindingMissing/.test(text));
    // Inside the test helper RED._ returns the catalog key: the warning is translated, and logged once.
    assert.deepStrictEqual(bindingWarnings, ['scp-connection.warnings.cryptoBindingMissing']);
  });

  it('on Node.js 26 names ssh2 and Node.js: the binding cannot build there, build tools do not help', async function () {
    const version = Object.getOwnPropertyDescriptor(process, 'version');
    Object.defineProperty(process, 'version', { value: 'v26.12.1', configurable: true });
    try {
      await loadFlow([connectionDef(server), uploadDef()], { conn: { password: server.password } });
      resultOf(await send('up', { payload: 'c.txt', remotePath: `${dir.absolute}/c.txt` }));
    } finally {
      if (version) Object.defineProperty(process, 'version', version);
    }
    const connection = helper.getNode('conn') as unknown as Record<string, unknown>;
    const bindingWarnings = (connection.warn as Spied)
      .getCalls()
      .filter((call) => call.thisValue === connection)
      .map((call) => String(call.args[0]))
      .filter((text) => /warnings\.cryptoBinding/.test(text));
    assert.deepStrictEqual(bindingWarnings, ['scp-connection.warnings.cryptoBindingUnsupported']);
  });
});
