/**
 * Load through one config node: 1,000 upload messages of 4 KiB (distinct names, distinct random contents)
 * sent at once to a sshd limited to MaxSessions 10 / MaxStartups 10. Every file must arrive intact (sizes
 * and SHA-256 checked on the server), no message may fail, and the pool must never hold more channels
 * than its caps allow (sampled continuously while the load runs, plus the pool's own per-connection peak).
 */
import assert from 'assert';
import crypto from 'crypto';
import { makeServerDir, runAsUser } from '../harness';
import { connectionDef, helper, loadFlow, track, uploadDef, useNodeRed } from './support';
import { useOwnSshd } from '../support';
import { poolStatsOf } from '../support/red';

const MESSAGES = 1000;
const FILE_SIZE = 4 * 1024;
const MAX_CHANNELS = 10;
const MAX_CONNECTIONS = 2;

describe('faults: load, 1,000 uploads at once through one connection node', function () {
  this.timeout(120_000);
  useNodeRed();
  const server = useOwnSshd({ throwawayUser: true, config: ['MaxSessions 10', 'MaxStartups 10'] });

  it('every file arrives intact, no message fails, and channels stay within the caps', async function () {
    const dir = await makeServerDir(server, 'faults-load');
    await loadFlow(
      [
        connectionDef(server, { username: server.username, maxChannels: MAX_CHANNELS, maxConnections: MAX_CONNECTIONS, transport: 'auto' }),
        uploadDef({ progress: false, wires: [['out']] }),
      ],
      { conn: { password: server.password } },
    );
    const connection = { poolStats: poolStatsOf() };
    const up = track('up');
    let results = 0;
    helper.getNode('out').on('input', () => {
      results += 1;
    });

    const expected = new Map<string, string>();
    const messages = Array.from({ length: MESSAGES }, (_, i) => {
      const name = `file-${String(i).padStart(4, '0')}.bin`;
      const data = crypto.randomBytes(FILE_SIZE);
      expected.set(name, crypto.createHash('sha256').update(data).digest('hex'));
      return { payload: data, remotePath: `${dir.absolute}/${name}` };
    });
    assert.strictEqual(new Set(expected.values()).size, MESSAGES, 'contents are distinct');

    // Sample the pool on every turn of the event loop while the load runs.
    let peakChannels = 0;
    let peakConnections = 0;
    let peakQueued = 0;
    let sampling = true;
    const sample = (): void => {
      const stats = connection.poolStats();
      if (stats) {
        peakChannels = Math.max(peakChannels, stats.channels);
        peakConnections = Math.max(peakConnections, stats.connections);
        peakQueued = Math.max(peakQueued, stats.queued);
      }
      if (sampling) setImmediate(sample);
    };
    sample();

    for (const msg of messages) up.node.receive(msg);
    const completions = await up.wait(MESSAGES);
    sampling = false;

    const failures = completions.filter((completion) => completion.error);
    assert.deepStrictEqual(
      failures.slice(0, 5).map((completion) => `${String(completion.error?.code)} ${String(completion.msg.remotePath)}`),
      [],
      `${failures.length} of ${MESSAGES} messages failed`,
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.strictEqual(results, MESSAGES, 'one result message per input');

    const stats = connection.poolStats();
    assert.ok(stats, 'the pool was used');
    assert.ok(stats.maxChannelsSeen >= 1 && stats.maxChannelsSeen <= MAX_CHANNELS, `per-connection peak ${stats.maxChannelsSeen} > ${MAX_CHANNELS}`);
    assert.ok(peakChannels >= 1 && peakChannels <= MAX_CHANNELS * MAX_CONNECTIONS, `total channel peak ${peakChannels}`);
    assert.ok(peakConnections <= MAX_CONNECTIONS, `${peakConnections} connections`);
    assert.ok(peakQueued > 0, 'the load was high enough to queue requests');

    const listing = await runAsUser(server, `cd '${dir.absolute}' && ls -A | wc -l && stat -c '%n %s' -- * && sha256sum -- *`);
    assert.strictEqual(listing.code, 0, listing.stderr);
    const lines = listing.stdout.toString().trim().split('\n');
    assert.strictEqual(Number(lines[0]), MESSAGES, 'exactly the uploaded files, no temporary file left');
    const sizes = new Map(lines.slice(1, 1 + MESSAGES).map((line) => line.split(' ') as [string, string]));
    const hashes = new Map(
      lines.slice(1 + MESSAGES).map((line) => {
        const [hash, name] = line.split(/\s+/);
        return [name, hash];
      }),
    );
    for (const [name, hash] of expected) {
      assert.strictEqual(sizes.get(name), String(FILE_SIZE), `size of ${name}`);
      assert.strictEqual(hashes.get(name), hash, `contents of ${name}`);
    }
    console.log(`      peaks: ${peakChannels} channels, ${peakConnections} connections, ${peakQueued} queued; per connection ${stats.maxChannelsSeen}`);
  });
});
