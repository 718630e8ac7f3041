/**
 * Trust failures between messages, through the nodes against real sshd:
 * - the server at the same host:port comes back with a different host key: the next message is refused
 *   with EHOSTKEY under both the TOFU and the pinned-fingerprint policies, and no credential reaches it;
 * - wrong credentials: every message gets a clear EAUTH, and the server sees no reconnect storm.
 */
import assert from 'assert';
import { makeServerDir, needThrowawayUser, runAsUser, startSshd, type SshdServer } from '../harness';
import { codeOf, connectionDef, loadFlow, track, uploadDef, useNodeRed } from './support';

function count(text: string, pattern: RegExp): number {
  return (text.match(pattern) ?? []).length;
}

describe('faults: host key changes and wrong credentials', function () {
  this.timeout(60_000);
  useNodeRed();
  const started: SshdServer[] = [];
  before(function () {
    needThrowawayUser(this);
  });
  after(async function () {
    for (const server of started) if (server.isRunning()) await server.stop();
  });

  it('a new host key on the same host:port is refused with EHOSTKEY (tofu and fingerprint), before any credential is sent', async function () {
    const first = await startSshd();
    started.push(first);
    const dir = await makeServerDir(first, 'faults-hostkey');
    await loadFlow(
      [
        connectionDef(first, { id: 'connTofu', username: first.username, hostKeyPolicy: 'tofu', hostFingerprints: '' }),
        connectionDef(first, { id: 'connPinned', username: first.username }),
        uploadDef({ id: 'upTofu', connection: 'connTofu' }),
        uploadDef({ id: 'upPinned', connection: 'connPinned' }),
      ],
      { connTofu: { password: first.password }, connPinned: { password: first.password } },
    );
    const tofu = track('upTofu');
    const pinned = track('upPinned');
    const before = await Promise.all([
      codeOf(tofu, { payload: 'tofu', remotePath: `${dir.absolute}/tofu.txt` }),
      codeOf(pinned, { payload: 'pinned', remotePath: `${dir.absolute}/pinned.txt` }),
    ]);
    assert.deepStrictEqual(before.map((outcome) => outcome.code), ['ok', 'ok'], before.map((o) => o.error?.message).join('; '));

    await first.stop();
    const impostor = await startSshd({ port: first.port });
    started.push(impostor);
    assert.notDeepStrictEqual(impostor.hostKeyFingerprints, first.hostKeyFingerprints, 'the new server must have new keys');

    for (let round = 0; round < 2; round += 1) {
      const after = await Promise.all([
        codeOf(tofu, { payload: 'tofu again', remotePath: `${dir.absolute}/tofu.txt` }),
        codeOf(pinned, { payload: 'pinned again', remotePath: `${dir.absolute}/pinned.txt` }),
      ]);
      assert.deepStrictEqual(after.map((outcome) => outcome.code), ['EHOSTKEY', 'EHOSTKEY'], after.map((o) => o.error?.message).join('; '));
    }
    const logs = impostor.logs();
    assert.strictEqual(count(logs, /Failed password|Accepted password|Failed publickey|Accepted publickey/g), 0, `credentials reached the impostor:\n${logs}`);
    const contents = await runAsUser(impostor, `cat '${dir.absolute}/tofu.txt' '${dir.absolute}/pinned.txt'`);
    assert.strictEqual(contents.stdout.toString(), 'tofupinned', 'the files written before the key change are untouched');
  });

  it('wrong credentials: 5 messages give 5 EAUTH errors and at most 5 authentication attempts at the server', async function () {
    const server = await startSshd();
    started.push(server);
    await loadFlow([connectionDef(server, { username: server.username }), uploadDef()], { conn: { password: `${server.password}-wrong` } });
    const up = track('up');
    for (let i = 0; i < 5; i += 1) {
      const { code, error } = await codeOf(up, { payload: `attempt ${i}`, remotePath: `faults-eauth-${i}.txt` });
      assert.strictEqual(code, 'EAUTH', error?.message ?? 'succeeded');
      assert.match(error?.message ?? '', /EAUTH/, 'the message says what went wrong');
    }
    // Five messages at once, too: still one clear error each.
    const burst = await Promise.all(Array.from({ length: 5 }, (_, i) => codeOf(up, { payload: 'x', remotePath: `faults-eauth-burst-${i}.txt` })));
    assert.deepStrictEqual(burst.map((outcome) => outcome.code), Array(5).fill('EAUTH'));

    const logs = server.logs();
    const connections = count(logs, /Connection from 127\.0\.0\.1/g);
    const failedPasswords = count(logs, /Failed password/g);
    assert.ok(connections >= 1 && connections <= 5, `${connections} connections for 10 messages:\n${logs}`);
    assert.ok(failedPasswords >= 1 && failedPasswords <= 5, `${failedPasswords} password attempts for 10 messages:\n${logs}`);
    assert.strictEqual(count(logs, /Accepted/g), 0);
  });
});
