/**
 * "Must never hang", through the nodes: the connection's transfer time limit ends a transfer that a server
 * keeps alive by trickling (and frees its channel slot); a server that freezes in the middle of an upload
 * fails that message at about the idle timeout (the clean-up after it does not wait the idle time again),
 * and the next message is not handed to the frozen connection. Plus the port check of the connection form.
 */
import assert from 'assert';
import { spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { makeTempDir, startFakeServer, unfolding, type FakeExecRequest, type FakeServer } from '../harness';
import { allNodes, codeOf, connectionDef, downloadDef, elapsed, helper, runLocally, sinks, track, uploadDef, useNodeRed, type Credentials, type Msg } from './support';
import { eventually } from '../support';

const IDLE_S = 2;

/** Runs the command for real with /bin/sh, streaming both ways (a real scp sink or source behind the fake). */
function runStreaming({ command, channel }: FakeExecRequest): void {
  const child = spawn('/bin/sh', ['-c', command], { stdio: 'pipe' });
  child.on('error', () => channel.close());
  child.stdin.on('error', () => undefined);
  channel.pipe(child.stdin);
  child.stdout.pipe(channel, { end: false });
  child.stderr.pipe(channel.stderr, { end: false });
  child.on('close', (code) => {
    channel.exit(code ?? 1);
    channel.end();
  });
}

type Register = (red: Record<string, unknown>) => void;
type Translate = ((key: string, values?: Record<string, unknown>) => string) & { recording?: boolean };

/** What the nodes asked RED._ to translate (the test helper returns bare keys, so the values are checked here). */
const translations: Array<{ key: string; values?: Record<string, unknown> }> = [];

const recordingNodes = (allNodes as Register[]).map((register) => (red: Record<string, unknown>) => {
  const original = red._ as Translate;
  if (!original.recording) {
    const translate: Translate = (key, values) => {
      translations.push({ key, values });
      return original(key, values);
    };
    translate.recording = true;
    red._ = translate;
  }
  register(red);
});

async function loadFlow(nodes: Msg[], credentials: Credentials = {}): Promise<void> {
  await helper.load(recordingNodes, [...nodes, ...sinks()], credentials);
}

/** The values the last error message of `key` was translated with. */
function lastValues(key: string): Record<string, unknown> {
  const found = translations.filter((entry) => entry.key === key).pop();
  assert.ok(found, `no ${key} message; translated: ${translations.map((entry) => entry.key).join(', ')}`);
  return found.values ?? {};
}

interface PoolStatsLike {
  connections: number;
  channels: number;
}

function poolStats(): PoolStatsLike | undefined {
  return (helper.getNode('conn') as unknown as { poolStats(): PoolStatsLike | undefined }).poolStats();
}

describe('faults: transfers that must not hang', function () {
  this.timeout(60_000);
  useNodeRed();
  const servers: FakeServer[] = [];
  after(async function () {
    for (const server of servers) await server.close();
  });

  it('the transfer time limit ends a download that a server trickles, with ETIMEDOUT naming host and path, and frees the channel', async function () {
    const fake = await startFakeServer(({ channel }) => {
      let acks = 0;
      let timer: NodeJS.Timeout | undefined;
      channel.on('close', () => clearInterval(timer));
      channel.on('data', (chunk: Buffer) => {
        for (const byte of chunk) {
          if (byte !== 0) continue;
          acks += 1;
          // Announce 1 MiB, then send one byte every 300 ms: never idle for 2 s, never done.
          if (acks === 1) channel.write(Buffer.from('C0644 1048576 trickle.bin\n'));
          else if (acks === 2) timer = setInterval(() => channel.write(Buffer.from([1])), 300);
        }
      });
    });
    servers.push(fake);
    await loadFlow([connectionDef(fake, { idleTimeout: IDLE_S, transferTimeout: 3 }), downloadDef()], { conn: { password: fake.password } });
    const down = track('down');
    const { code, error } = await codeOf(down, { remotePath: '/srv/trickle.bin' });
    assert.strictEqual(code, 'ETIMEDOUT', error?.message ?? 'succeeded');
    const values = lastValues('scp-download.errors.ETIMEDOUT');
    assert.match(String(values.detail), /did not finish within 3 s, its time limit/);
    assert.strictEqual(values.path, '/srv/trickle.bin');
    assert.match(String(values.host), /127\.0\.0\.1/);
    // The trickling channel is closed and its slot given back; the connection stays for the next message.
    await eventually('the channel slot to be released', () => poolStats()?.channels === 0);
    assert.strictEqual(poolStats()?.connections, 1);
    assert.deepStrictEqual(fake.handlerErrors, []);
  });

  it('without a time limit (blank) the same connection settings parse and the transfer is not cut short', async function () {
    const fake = await startFakeServer(({ channel }) => {
      channel.once('data', () => {
        channel.write(Buffer.from('C0644 4 ok.bin\n'));
        channel.once('data', () => {
          channel.write(Buffer.concat([Buffer.from('done'), Buffer.from([0])]));
          channel.once('data', () => {
            channel.exit(0);
            channel.end();
          });
        });
      });
    });
    servers.push(fake);
    await loadFlow([connectionDef(fake, { idleTimeout: IDLE_S, transferTimeout: '' }), downloadDef()], { conn: { password: fake.password } });
    const { code, error } = await codeOf(track('down'), { remotePath: '/srv/ok.bin' });
    assert.strictEqual(code, 'ok', error?.message);
  });

  it('a server that freezes mid-upload: ETIMEDOUT at about the idle timeout, and the next message gets a new connection', async function () {
    const root = await makeTempDir('faults-freeze');
    let frozen = false;
    const fake = await startFakeServer(
      // A single file's upload comes folded into one command: the handler plays its scp -t part.
      unfolding((request) => {
        if (!request.command.startsWith('scp ')) return runLocally(request);
        if (request.connectionNumber > 1) return runStreaming(request);
        // The first connection: ready, accept the file record, and freeze when its data starts.
        const { channel } = request;
        channel.write(Buffer.from([0]));
        let records = 0;
        channel.on('data', (chunk: Buffer) => {
          if (frozen) return;
          if (records === 0 && chunk[0] === 0x43 /* C */) {
            records += 1;
            channel.write(Buffer.from([0]));
            return;
          }
          frozen = true;
          fake.freeze();
        });
      }),
    );
    servers.push(fake);
    // Long enough that waiting the idle time a second time (the old clean-up) cannot pass for a short clean-up.
    const idleS = 8;
    await loadFlow([connectionDef(fake, { idleTimeout: idleS }), uploadDef()], { conn: { password: fake.password } });
    const up = track('up');
    const first = path.join(root, 'first.bin');
    const stalled = await elapsed(() => codeOf(up, { payload: Buffer.alloc(512 * 1024, 7), remotePath: first }));
    assert.strictEqual(stalled.value.code, 'ETIMEDOUT', stalled.value.error?.message ?? 'succeeded');
    assert.ok(frozen, 'the server froze in the middle of the data');
    // A correctness bound, not a benchmark: the idle timeout once plus the clean-up's fixed bound (CLEANUP_TIMEOUT_MS, 4 s) and
    // some slack. Before the fix the clean-up waited on the frozen connection for the idle time again (16 s).
    const bound = idleS * 1000 + 6500;
    assert.ok(stalled.ms < bound, `the error came after ${stalled.ms} ms (idle timeout ${idleS} s, bound ${bound} ms)`);

    const second = path.join(root, 'second.bin');
    const next = await elapsed(() => codeOf(up, { payload: Buffer.from('after the freeze'), remotePath: second }));
    assert.strictEqual(next.value.code, 'ok', next.value.error?.message);
    assert.strictEqual(fs.readFileSync(second, 'utf8'), 'after the freeze');
    assert.ok(fake.connectionCount() >= 2, 'the next message went over a new connection');
    // Before the fix it waited on the frozen connection until ssh2's keepalive gave up (about a minute).
    assert.ok(next.ms < bound, `the next message took ${next.ms} ms: it waited on the frozen connection`);
    assert.deepStrictEqual(fake.handlerErrors, []);
  });

  it('a port with a fraction fails each message with EINVAL naming the port', async function () {
    await loadFlow([connectionDef({ host: '127.0.0.1', port: 22, hostKeyFingerprints: ['SHA256:x'] }, { port: '2601.5' }), uploadDef()], {
      conn: { password: 'irrelevant' },
    });
    const { code, error } = await codeOf(track('up'), { payload: Buffer.from('x'), remotePath: '/tmp/never.txt' });
    assert.strictEqual(code, 'EINVAL', error?.message);
    assert.match(String(lastValues('scp-upload.errors.EINVAL').detail), /port must be a whole number from 1 to 65535/);
  });
});
