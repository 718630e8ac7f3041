/**
 * Dropbear 2022.82 up to 2024.85 drops the whole connection when a channel opens while another channel's
 * command ends (mkj/dropbear issue #321): the pool opens one channel at a time per connection on those
 * versions (src/ssh/server-quirks.ts). Many fast commands at once on the harness's real Dropbear (Debian 12
 * ships 2022.83) lose connections and jobs without that limit.
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { needThrowawayUser, startDropbear, type SshdServer } from '../harness';
import { SshPool } from '../../src/ssh';
import { serverQuirk } from '../../src/ssh/server-quirks';
import { collect, endpointFor, recordingLog } from './helpers';

/** Jobs started at once: far more than the channels the pool would allow without the limit (2 x 10). */
const JOBS = 40;

describe('ssh pool against Dropbear with the channel-close race', function () {
  this.timeout(120_000);
  let server: SshdServer;
  let software: string;

  before(async function () {
    needThrowawayUser(this);
    server = await startDropbear();
    software = await identification(server);
  });
  after(async () => {
    await server?.stop();
  });

  it(`runs ${JOBS} fast commands at once without losing one, one channel at a time per connection on affected versions`, async () => {
    const log = recordingLog();
    const pool = new SshPool(endpointFor(server, { privateKey: server.clientKey }), { maxChannelsPerConnection: 10, maxConnections: 2 }, { log });
    try {
      const results = await Promise.allSettled(
        Array.from({ length: JOBS }, (_, i) => pool.exec(`printf ${i} > job${i % 8}; echo ${i}`).then((lease) => collect(lease))),
      );
      const failures = results.flatMap((result, i) => {
        if (result.status === 'rejected') return [`job ${i}: ${(result.reason as Error).message}`];
        const { stdout, code } = result.value;
        return stdout === `${i}\n` && code === 0 ? [] : [`job ${i}: exit ${code}, stdout ${JSON.stringify(stdout)}`];
      });
      assert.deepEqual(failures, [], `${software}\n${log.debugs.join('\n')}\n${server.logs().slice(-2_000)}`);
      const told = log.debugs.filter((line) => /Dropbear issue #321/.test(line));
      if (serverQuirk(software)) {
        assert.equal(pool.stats().maxChannelsSeen, 1, `${software}: one channel at a time per connection`);
        assert.equal(told.length, 1, `said once per pool why:\n${log.debugs.join('\n')}`);
        assert.match(told[0] as string, /Dropbear 20\d\d\.\d+/);
      } else {
        assert.equal(told.length, 0, `${software} needs no limit`);
        assert.ok(pool.stats().maxChannelsSeen > 1, `${software}: channels ran in parallel`);
      }
    } finally {
      await pool.close();
    }
  });
});

/** The software part of the server's identification line ("dropbear_2022.83"). */
function identification(server: SshdServer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, server.host);
    let text = '';
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const line = /^SSH-2\.0-([^\r\n]*)\r?\n/m.exec(text);
      if (!line) return;
      socket.destroy();
      resolve((line[1] as string).split(' ')[0] as string);
    });
    socket.on('close', () => reject(new Error(`no identification line from ${server.host}:${server.port}: ${JSON.stringify(text)}`)));
  });
}
