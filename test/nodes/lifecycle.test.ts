/**
 * What happens around a transfer: progress messages on output 2, the status ring, several messages at once,
 * redeploy and close (connections closed, in-flight work aborted with EABORTED), the admin "Test connection"
 * endpoint, the 'any' host-key policy warnings, and an audit that no secret shows up anywhere.
 */
import assert from 'assert';
import crypto from 'crypto';
import { runAsUser } from '../harness';
import { connectionDef, downloadDef, errorCode, helper, loadFlow, resultOf, send, sinks, uploadDef, useNodeRed, type Msg } from './support';
import { eventually, useServerDir, useSharedSshd } from '../support';
import { callsOf } from '../support/red';

type Status = { fill?: string; shape?: string; text?: string };


describe('nodes: progress, status, redeploy, admin test endpoint, secrets (real sshd)', function () {
  useNodeRed();
  const server = useSharedSshd();
  const dir = useServerDir(server, 'nodes-lifecycle');

  it('sends throttled progress messages on output 2 and a final 100 %', async function () {
    await loadFlow([connectionDef(server), uploadDef({ progress: true, outputs: 2 })], { conn: { password: server.password } });
    const data = crypto.randomBytes(20 * 1024 * 1024);
    const started = Date.now();
    const outcome = await send('up', { payload: data, remotePath: `${dir.absolute}/progress.bin`, topic: 'my-topic', _msgid: 'input-id' });
    const elapsed = Date.now() - started;
    resultOf(outcome);
    assert.ok(outcome.progress.length >= 1, 'at least the final progress message');
    // at most 4 a second (one at the start of each 250 ms window) plus the final one
    assert.ok(outcome.progress.length <= Math.ceil(elapsed / 250) + 2, `${outcome.progress.length} progress messages in ${elapsed} ms`);
    let lastPercent = -1;
    for (const message of outcome.progress) {
      const payload = message.payload as Record<string, unknown>;
      assert.strictEqual(message.topic, 'my-topic');
      assert.strictEqual(message.remotePath, `${dir.absolute}/progress.bin`);
      assert.notStrictEqual(message._msgid, 'input-id');
      for (const key of ['file', 'bytes', 'total', 'percent', 'fileBytes', 'fileSize', 'skipped', 'rate', 'eta']) assert.ok(key in payload, key);
      assert.ok((payload.percent as number) >= lastPercent, 'percent never goes back');
      lastPercent = payload.percent as number;
    }
    const final = outcome.progress[outcome.progress.length - 1].payload as Record<string, unknown>;
    assert.strictEqual(final.percent, 100);
    assert.strictEqual(final.bytes, data.length);
    assert.strictEqual(final.total, data.length);
    assert.strictEqual(final.fileSize, data.length);
    assert.strictEqual(final.eta, 0);
    assert.ok(!('payload' in outcome.results[0] && outcome.results[0].payload === undefined));
  });

  it('sends nothing on output 2 when progress is off', async function () {
    await loadFlow([connectionDef(server), downloadDef()], { conn: { password: server.password } });
    await runAsUser(server, `printf abc > '${dir.absolute}/small.txt'`);
    const outcome = await send('down', { remotePath: `${dir.absolute}/small.txt` });
    assert.strictEqual((resultOf(outcome).payload as Buffer).toString(), 'abc');
    assert.strictEqual(outcome.progress.length, 0);
  });

  it('status: cleared, connecting, ..., done (green dot); red ring with the code on failure', async function () {
    await loadFlow([connectionDef(server), uploadDef(), downloadDef()], { conn: { password: server.password } });
    const up = helper.getNode('up');
    resultOf(await send('up', { payload: Buffer.alloc(1000, 7), remotePath: `${dir.absolute}/status.bin` }));
    const statuses = callsOf(up, 'status').map((args) => args[0] as Status);
    assert.deepStrictEqual(statuses[0], {});
    assert.deepStrictEqual(statuses[1], { fill: 'yellow', shape: 'ring', text: 'scp-upload.status.connecting' });
    assert.deepStrictEqual(statuses[statuses.length - 1], { fill: 'green', shape: 'dot', text: '✓ 1000 B' });
    for (const status of statuses.slice(2, -1)) assert.ok(['blue', 'yellow'].includes(String(status.fill)), JSON.stringify(status));
    for (const status of statuses) assert.ok((status.text ?? '').length < 30);

    const down = helper.getNode('down');
    assert.strictEqual(errorCode(await send('down', { remotePath: `${dir.absolute}/missing` })), 'ENOENT');
    const downStatuses = callsOf(down, 'status').map((args) => args[0] as Status);
    assert.deepStrictEqual(downStatuses[downStatuses.length - 1], { fill: 'red', shape: 'ring', text: 'ENOENT' });
  });

  it('several messages at once: all answered, the status shows the count while they run', async function () {
    await loadFlow([connectionDef(server), uploadDef()], { conn: { password: server.password } });
    const up = helper.getNode('up');
    const out = helper.getNode('out');
    const results: Msg[] = [];
    const allDone = new Promise<void>((resolve) => {
      out.on('input', (msg: Msg) => {
        results.push(msg);
        if (results.length === 3) resolve();
      });
    });
    const contents = [0, 1, 2].map((index) => crypto.randomBytes(2 * 1024 * 1024 + index));
    contents.forEach((payload, index) => up.receive({ payload, remotePath: `${dir.absolute}/parallel-${index}.bin` }));
    await allDone;
    assert.deepStrictEqual(results.map((m) => m.remotePath).sort(), [0, 1, 2].map((i) => `${dir.absolute}/parallel-${i}.bin`));
    const texts = callsOf(up, 'status').map((args) => (args[0] as Status).text);
    assert.ok(texts.some((text) => /^×[23]( · |$)/.test(text ?? '')), `statuses: ${texts.join(', ')}`);
    assert.match(texts[texts.length - 1] ?? '', /^✓ 2\.0 MiB$/);
    for (const [index, data] of contents.entries()) {
      const size = await runAsUser(server, `wc -c < '${dir.absolute}/parallel-${index}.bin'`);
      assert.strictEqual(Number(size.stdout.toString().trim()), data.length);
    }
  });

  it('redeploy while idle closes the connection (pool empty, sshd logs the disconnect)', async function () {
    const flow = [connectionDef(server), uploadDef()];
    await loadFlow(flow, { conn: { password: server.password } });
    resultOf(await send('up', { payload: 'x', remotePath: `${dir.absolute}/redeploy.txt` }));
    const connection = helper.getNode('conn');
    assert.ok(connection.poolStats().connections >= 1, 'a connection is open after the transfer');
    const disconnects = (): number => (server.logs().match(new RegExp(`Disconnected from user ${server.username}\\b`, 'g')) ?? []).length;
    const before = disconnects();
    await helper.setFlows([connectionDef(server, { name: 'changed' }), uploadDef(), ...sinks()], 'full', {
      conn: { password: server.password },
    });
    assert.strictEqual(connection.poolStats().connections, 0);
    await eventually('sshd to log the disconnect', () => disconnects() > before);
  });

  it('closing the node during a transfer aborts it: EABORTED, no file at the final path, status cleared', async function () {
    await loadFlow([connectionDef(server), uploadDef({ progress: true, outputs: 2 })], { conn: { password: server.password } });
    const up = helper.getNode('up');
    const progress = helper.getNode('progress');
    const firstProgress = new Promise<void>((resolve) => progress.once('input', () => resolve()));
    const remotePath = `${dir.absolute}/aborted.bin`;
    up.receive({ payload: crypto.randomBytes(96 * 1024 * 1024), remotePath });
    await firstProgress;
    // The helper's spies are removed by unload: record what the node does while closing on the instance.
    const errors: Array<{ code?: string }> = [];
    const statuses: Status[] = [];
    const originalError = up.error.bind(up);
    const originalStatus = up.status.bind(up);
    up.error = (error: { code?: string }, msg?: unknown) => {
      errors.push(error);
      originalError(error, msg);
    };
    up.status = (status: Status) => {
      statuses.push(status);
      originalStatus(status);
    };
    await helper.unload();
    assert.strictEqual(errors.length, 1);
    assert.strictEqual(errors[0].code, 'EABORTED');
    assert.deepStrictEqual(statuses[statuses.length - 1], {});
    const exists = await runAsUser(server, `test -e '${remotePath}'`);
    assert.notStrictEqual(exists.code, 0, 'no file at the final path');
  });

  describe('admin endpoint POST /scp-connection/:id/test', function () {
    /** Deploys the connection with its stored password, then posts the dialog's `settings` to its test endpoint. */
    async function postTest(settings: Record<string, unknown>): Promise<{ body: unknown; text: string }> {
      await loadFlow([connectionDef(server)], { conn: { password: server.password } });
      return helper.request().post('/scp-connection/conn/test').send(settings).expect(200);
    }

    /** What the dialog posts under the fingerprint policy: the server's address and user, these fingerprints and credentials. */
    function dialogSettings(hostFingerprints: string, credentials: Record<string, string>): Record<string, unknown> {
      return { host: server.host, port: server.port, username: server.username, hostKeyPolicy: 'fingerprint', hostFingerprints, credentials };
    }

    /** The server was reached and its key shown for pinning, but it was not trusted, so no login was tried. */
    function assertKeyShownWithoutLogin(report: Record<string, unknown>): void {
      assert.strictEqual(report.reached, true);
      assert.strictEqual(report.hostKeyFingerprint, server.hostKeyFingerprints[0]);
      assert.strictEqual(report.hostKeyTrusted, false);
      assert.strictEqual(report.authenticated, false);
    }

    it('uses the stored password for the placeholder and reports reach, login, key and transports', async function () {
      const response = await postTest(dialogSettings(server.hostKeyFingerprints.join('\n'), { password: '__PWRD__', privateKey: '', passphrase: '' }));
      const report = response.body as Record<string, unknown>;
      assert.strictEqual(report.reached, true);
      assert.strictEqual(report.authenticated, true);
      assert.strictEqual(report.hostKeyFingerprint, server.hostKeyFingerprints[0]);
      assert.strictEqual(report.hostKeyTrusted, true);
      assert.strictEqual(report.scp, true);
      assert.strictEqual(report.sftp, true);
      assert.match(String(report.serverVersion), /OpenSSH/);
      assert.ok(!response.text.includes(server.password), 'no password in the report');
    });

    it('an untrusted key: fingerprint reported, no login attempted', async function () {
      const response = await postTest(dialogSettings('SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', { password: '__PWRD__' }));
      assertKeyShownWithoutLogin(response.body as Record<string, unknown>);
    });

    it('fingerprint policy with no fingerprint yet: the key is shown to pin, no login', async function () {
      const response = await postTest({ ...connectionDef(server), hostFingerprints: '', credentials: { password: '__PWRD__' } });
      assertKeyShownWithoutLogin(response.body as Record<string, unknown>);
    });

    it('a password typed in the dialog replaces the stored one', async function () {
      const response = await postTest(dialogSettings(server.hostKeyFingerprints[0], { password: 'typed-but-wrong-0xF00' }));
      const report = response.body as { authenticated: boolean; error?: { code: string } };
      assert.strictEqual(report.authenticated, false);
      assert.strictEqual(report.error?.code, 'EAUTH');
      assert.ok(!response.text.includes('typed-but-wrong-0xF00'));
    });

    it('unusable settings come back as a report with EINVAL', async function () {
      const response = await postTest({ host: '', username: 'x' });
      const report = response.body as { reached: boolean; error?: { code: string } };
      assert.strictEqual(report.reached, false);
      assert.strictEqual(report.error?.code, 'EINVAL');
    });
  });

  it("host-key policy 'any': one warning in the log, yellow status on the flow nodes", async function () {
    await loadFlow([connectionDef(server, { hostKeyPolicy: 'any' }), uploadDef()], { conn: { password: server.password } });
    const connection = helper.getNode('conn');
    const up = helper.getNode('up');
    const warnings = callsOf(connection, 'warn').map((args) => String(args[0]));
    assert.deepStrictEqual(warnings.filter((text) => text === 'scp-connection.warnings.anyHostKey').length, 1);
    assert.deepStrictEqual(callsOf(up, 'status')[0][0], { fill: 'yellow', shape: 'ring', text: 'scp-upload.status.keyUnverified' });
    resultOf(await send('up', { payload: 'x', remotePath: `${dir.absolute}/any.txt` }));
    const statuses = callsOf(up, 'status').map((args) => args[0] as Status);
    assert.deepStrictEqual(statuses[statuses.length - 1], { fill: 'yellow', shape: 'dot', text: '✓ 1 B' });
  });

  it('no secret appears in any status, log call, error, warning or message', async function () {
    const password = server.password;
    const wrongPassword = `wrong-${crypto.randomBytes(6).toString('hex')}`;
    const keyLines = server.clientKeyEncrypted.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
    const distinctiveKeyLine = keyLines[Math.floor(keyLines.length / 2)];
    const secrets = [password, wrongPassword, server.clientKeyPassphrase, distinctiveKeyLine];
    const seen: unknown[] = [];
    const flow = [connectionDef(server), uploadDef({ progress: true, outputs: 2 }), downloadDef({ progress: true, outputs: 2 })];

    const exercise = async (credentials: Record<string, string>): Promise<void> => {
      await loadFlow(flow, { conn: credentials });
      for (const outcome of [
        await send('up', { payload: 'secret audit', remotePath: `${dir.absolute}/audit.txt` }),
        await send('down', { remotePath: `${dir.absolute}/audit.txt` }),
        await send('down', { remotePath: `${dir.absolute}/no-such-file` }),
      ]) {
        seen.push(outcome.results, outcome.progress, outcome.error);
      }
      const report = await helper
        .request()
        .post('/scp-connection/conn/test')
        .send({ ...connectionDef(server), credentials: { password: '__PWRD__' } })
        .expect(200);
      seen.push(report.text);
      for (const id of ['conn', 'up', 'down']) {
        const node = helper.getNode(id);
        for (const method of ['status', 'log', 'warn', 'error', 'debug', 'trace']) seen.push(callsOf(node, method));
      }
      seen.push(helper.log().getCalls().map((call) => call.args));
      await helper.unload();
    };
    await exercise({ privateKey: server.clientKeyEncrypted, passphrase: server.clientKeyPassphrase, password });
    await exercise({ password: wrongPassword });

    const text = JSON.stringify(seen, (_key, value: unknown) =>
      value instanceof Error ? { message: value.message, stack: value.stack, code: (value as { code?: unknown }).code } : value,
    );
    assert.ok(text.includes('EAUTH'), 'the audit saw the failing login');
    assert.ok(text.includes('secret audit'), 'the audit saw the messages');
    for (const secret of secrets) assert.ok(!text.includes(secret), `a secret leaked: ${secret.slice(0, 4)}…`);
  });
});
