/**
 * No secret leaves the credential store: connections configured with a password, a pasted private key and
 * its passphrase (distinctive values) run success and failure paths (upload, download, wrong password and
 * passphrase, wrong host key, missing remote file, the editor's "Test connection"), and everything the
 * runtime produced is searched for those values: the flow JSON, RED.log, every node's log/warn/error/
 * status/send, every i18n call's interpolation values (the helper's RED._ returns keys, so we record what
 * would be interpolated), every result and progress message, and every error handed to done().
 */
import assert from 'assert';
import crypto from 'crypto';
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { makeServerDir, makeTempDir, needThrowawayUser, runAsUser, sharedSshd, type SshdServer } from '../harness';
import { allNodes, connectionDef, downloadDef, helper, sinks, track, uploadDef, useNodeRed, userDirectory, type Msg } from './support';

type Register = (red: Record<string, unknown>) => unknown;

/** JSON that shows Buffers as text, so a secret inside a payload would be found too. */
function dump(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item && typeof item === 'object' && (item as { type?: unknown }).type === 'Buffer' && Array.isArray((item as { data?: unknown }).data)) {
      return Buffer.from((item as { data: number[] }).data).toString('latin1');
    }
    if (item instanceof Error) return { ...item, message: item.message, stack: item.stack, code: (item as { code?: unknown }).code };
    if (item && typeof item === 'object') {
      if (seen.has(item)) return '[seen]';
      seen.add(item);
    }
    return item;
  });
}

/** Every file under `dir` (Node-RED's user directory: the TOFU store and whatever else was written), as text. */
function filesUnder(dir: string): string {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => `${entry.name}\n${fs.readFileSync(path.join(entry.parentPath, entry.name), 'latin1')}`)
    .join('\n');
}

describe('faults: no secret in flows, logs, status, errors or messages', function () {
  this.timeout(60_000);
  useNodeRed();
  let server: SshdServer;

  before(async function () {
    needThrowawayUser(this);
    server = await sharedSshd();
  });

  it('success and failure paths leak no password, key or passphrase', async function () {
    const dir = await makeServerDir(server, 'faults-secrets');
    const keyDir = await makeTempDir('faults-secrets-key');
    const passphrase = `pp-SECRET-${crypto.randomBytes(6).toString('hex')}`;
    const wrongPassphrase = `pp-WRONG-${crypto.randomBytes(6).toString('hex')}`;
    const wrongPassword = `pw-WRONG-${crypto.randomBytes(6).toString('hex')}`;
    // The harness's encrypted key, re-encrypted with our own distinctive passphrase.
    const keyFile = path.join(keyDir, 'id');
    fs.copyFileSync(server.clientKeyEncryptedPath, keyFile);
    fs.chmodSync(keyFile, 0o600);
    execFileSync('ssh-keygen', ['-q', '-p', '-f', keyFile, '-P', server.clientKeyPassphrase, '-N', passphrase]);
    const privateKey = fs.readFileSync(keyFile, 'utf8');
    const keyLines = privateKey.split('\n').filter((line) => line.length >= 20 && !line.startsWith('-----'));
    const secrets = [server.password, passphrase, wrongPassphrase, wrongPassword, ...keyLines];
    assert.ok(server.password.length >= 16 && keyLines.length >= 3, 'the secrets are distinctive');

    // What RED._ would interpolate into messages and status text, recorded by wrapping the helper's RED.
    const i18nCalls: unknown[] = [];
    const wrapped = (allNodes as Register[]).map((register) => (red: Record<string, unknown>) => {
      if (!(red._ as { wrapped?: boolean }).wrapped) {
        const translate = (key: string, values?: unknown): string => {
          i18nCalls.push({ key, values });
          return values === undefined ? key : `${key} ${dump(values)}`;
        };
        (translate as { wrapped?: boolean }).wrapped = true;
        red._ = translate;
      }
      return register(red);
    });

    const flow: Msg[] = [
      connectionDef(server, { id: 'connKey', username: server.username }),
      connectionDef(server, { id: 'connPassword', username: server.username, hostKeyPolicy: 'tofu', hostFingerprints: '' }),
      connectionDef(server, { id: 'connBadAuth', username: server.username }),
      connectionDef(server, { id: 'connWrongPassword', username: server.username }),
      connectionDef(server, { id: 'connBadHostKey', username: server.username, hostFingerprints: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU' }),
      uploadDef({ id: 'upKey', connection: 'connKey' }),
      downloadDef({ id: 'downKey', connection: 'connKey' }),
      uploadDef({ id: 'upPassword', connection: 'connPassword' }),
      uploadDef({ id: 'upBadAuth', connection: 'connBadAuth' }),
      uploadDef({ id: 'upWrongPassword', connection: 'connWrongPassword' }),
      uploadDef({ id: 'upBadHostKey', connection: 'connBadHostKey' }),
      ...sinks(),
    ];
    const credentials = {
      connKey: { password: wrongPassword, privateKey, passphrase },
      connPassword: { password: server.password },
      connBadAuth: { password: wrongPassword, privateKey, passphrase: wrongPassphrase },
      connWrongPassword: { password: wrongPassword },
      connBadHostKey: { password: server.password, privateKey, passphrase },
    };
    await helper.load(wrapped, flow, credentials);

    const outputs: Msg[] = [];
    for (const id of ['out', 'progress', 'caught']) helper.getNode(id).on('input', ((msg: Msg) => outputs.push(msg)) as (...args: never[]) => void);
    const trackers = ['upKey', 'downKey', 'upPassword', 'upBadAuth', 'upWrongPassword', 'upBadHostKey'].map((id) => track(id));
    const [upKey, downKey, upPassword, upBadAuth, upWrongPassword, upBadHostKey] = trackers;
    const run = async (tracker: typeof upKey, msg: Msg): Promise<unknown> => {
      const index = tracker.completions.length;
      tracker.node.receive(msg);
      const completions = await tracker.wait(index + 1);
      return completions[index].error?.code ?? 'ok';
    };

    const data = crypto.randomBytes(100 * 1024);
    const codes = {
      uploadWithKey: await run(upKey, { payload: data, remotePath: `${dir.absolute}/key.bin` }),
      downloadWithKey: await run(downKey, { remotePath: `${dir.absolute}/key.bin` }),
      missingFile: await run(downKey, { remotePath: `${dir.absolute}/no-such-file` }),
      uploadWithPassword: await run(upPassword, { payload: 'by password', remotePath: `${dir.absolute}/password.txt` }),
      wrongPasswordAndPassphrase: await run(upBadAuth, { payload: 'x', remotePath: `${dir.absolute}/bad-auth.txt` }),
      wrongPassword: await run(upWrongPassword, { payload: 'x', remotePath: `${dir.absolute}/wrong-password.txt` }),
      wrongHostKey: await run(upBadHostKey, { payload: 'x', remotePath: `${dir.absolute}/bad-host.txt` }),
    };
    assert.deepStrictEqual(codes, {
      uploadWithKey: 'ok',
      downloadWithKey: 'ok',
      missingFile: 'ENOENT',
      uploadWithPassword: 'ok',
      wrongPasswordAndPassphrase: 'EAUTH',
      wrongPassword: 'EAUTH',
      wrongHostKey: 'EHOSTKEY',
    });
    const onServer = await runAsUser(server, `cat '${dir.absolute}/key.bin'`);
    assert.ok(onServer.stdout.equals(data), 'the key-authenticated upload arrived');

    // The editor's "Test connection" with stored secrets (placeholders) and with typed ones.
    const reports: unknown[] = [];
    for (const [id, typed] of [
      ['connKey', { password: '__PWRD__', privateKey: '__PWRD__', passphrase: '__PWRD__' }],
      ['connBadAuth', { password: wrongPassword, privateKey, passphrase: wrongPassphrase }],
      ['connWrongPassword', { password: '__PWRD__' }],
    ] as const) {
      const body = { ...(flow.find((node) => node.id === id) as Msg), credentials: typed };
      const reply = await (helper as unknown as { request(): { post(url: string): { send(b: unknown): { expect(s: number): Promise<{ body: unknown }> } } } })
        .request()
        .post(`/scp-connection/${id}/test`)
        .send(body)
        .expect(200);
      reports.push(reply.body);
    }

    const prototype = (helper as unknown as { _NodePrototype: Record<string, { getCalls(): Array<{ args: unknown[]; thisValue: { id?: string } }> }> })._NodePrototype;
    const nodeCalls = ['log', 'status', 'warn', 'error', 'debug', 'trace', 'send'].map((method) => ({
      method,
      calls: prototype[method].getCalls().map((call) => ({ node: call.thisValue?.id, args: call.args })),
    }));
    const logCalls = helper.log()?.getCalls().map((call) => call.args) ?? [];
    const errors = trackers.flatMap((tracker) => tracker.errors());
    const captured = {
      flow: dump(flow),
      log: dump(logCalls),
      nodeCalls: dump(nodeCalls),
      i18n: dump(i18nCalls),
      outputs: dump(outputs),
      errors: dump(errors) + errors.map((error) => `${error.message}\n${error.stack ?? ''}\n${String(error.cause ?? '')}`).join('\n'),
      reports: dump(reports),
      userDir: filesUnder(userDirectory()),
    };
    // The capture is real: the failure paths and statuses are in it.
    assert.match(captured.errors, /EAUTH/);
    assert.match(captured.errors, /EHOSTKEY/);
    assert.match(captured.errors, /ENOENT/);
    assert.match(captured.nodeCalls, /"method":"status"/);
    assert.ok(outputs.length >= 3, 'result messages were captured');
    assert.ok(i18nCalls.length > 0, 'translated texts were captured');
    assert.match(captured.userDir, /scp-known-hosts\.json/, 'the TOFU store was written and searched');
    for (const [where, text] of Object.entries(captured)) {
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 6)}...) appears in ${where}`);
      }
      assert.ok(!text.includes('PRIVATE KEY'), `a private key appears in ${where}`);
    }
  });
});
