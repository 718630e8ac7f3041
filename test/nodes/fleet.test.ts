/**
 * Fleets: one scp-connection with "Let messages choose the device" serves many devices, against real
 * servers. One sshd listens on 16 loopback addresses (its limit of listen sockets), a second one with
 * other host keys on 2 more, Dropbear is one more, and one device is down (its sshd stopped), later back
 * with a new host key. A flow splits a list of 20 hosts into 20
 * messages, each pulls that device's logs into <dir>/<host>-<port>/, and a join collects every outcome
 * (results and caught errors alike), so a flow sees the whole fleet in one message.
 */
import assert from 'assert';
import { serverKey } from '../../src/engine';
import type { SshEndpoint } from '../../src/ssh/types';
import fs from 'fs';
import path from 'path';
import {
  makeServerDir,
  makeTempDir,
  needThrowawayUser,
  runAsUser,
  startDropbear,
  startSilentServer,
  startSshd,
  type SilentServer,
  type SshdServer,
} from '../harness';
import { translatedNodes } from './catalog';
import { allNodes, helper, nodeRedUserDir, useNodeRed, type Msg } from './support';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const sequenceNodes = require('@node-red/nodes/core/sequence/17-split.js') as unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const changeNode = require('@node-red/nodes/core/function/15-change.js') as unknown;

interface Device {
  host: string;
  port: number;
}

/** 16 devices on one sshd (OpenSSH's MAX_LISTEN_SOCKS), 2 on another with its own keys */
const FLEET_ADDRESSES = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`);
const SECOND_ADDRESSES = ['127.0.0.17', '127.0.0.18'];

function deviceDir(device: Device): string {
  return `${device.host}-${device.port}`;
}

/** The known_hosts line of `server` for another address it listens on. */
function knownHostsLineAt(server: SshdServer, host: string): string {
  return server.knownHostsLine.replace(/^\[127\.0\.0\.1\]/, `[${host}]`);
}

function connection(server: SshdServer, props: Record<string, unknown>): Record<string, unknown> {
  return {
    id: 'conn',
    type: 'scp-connection',
    host: server.host,
    port: server.port,
    username: server.username,
    transport: 'auto',
    deviceOverride: true,
    ...props,
  };
}

/** A change node rule: msg.<property> = JSONata `expression`. */
function setRule(property: string, expression: string): Record<string, unknown> {
  return { t: 'set', p: property, pt: 'msg', to: expression, tot: 'jsonata' };
}

/** split → set msg.host/port/remotePath/localPath → scp download (glob into a directory) → join, errors too. */
function fleetFlow(remoteBase: string, localBase: string): Record<string, unknown>[] {
  const where = 'payload.host & "-" & $string(payload.port)';
  return [
    { id: 'tab', type: 'tab', label: 'fleet' },
    { id: 'splitter', type: 'split', z: 'tab', splt: '\\n', spltType: 'str', arraySplt: 1, arraySpltType: 'len', stream: false, addname: '', wires: [['prep']] },
    {
      id: 'prep',
      type: 'change',
      z: 'tab',
      rules: [
        setRule('host', 'payload.host'),
        setRule('port', 'payload.port'),
        setRule('remotePath', `${JSON.stringify(remoteBase + '/')} & ${where} & "/*.log"`),
        setRule('localPath', `${JSON.stringify(localBase + '/')} & ${where}`),
      ],
      wires: [['down']],
    },
    {
      id: 'down',
      type: 'scp download',
      z: 'tab',
      connection: 'conn',
      remotePath: 'remotePath',
      remotePathType: 'msg',
      target: 'directory',
      localPath: 'localPath',
      localPathType: 'msg',
      glob: true,
      recursive: false,
      preserve: true,
      overwrite: 'overwrite',
      progress: true,
      wires: [['fetched'], ['progress']],
    },
    {
      id: 'fetched',
      type: 'change',
      z: 'tab',
      rules: [setRule('payload', '{"host": scp.host, "port": scp.port, "username": scp.username, "files": [scp.files.localPath]}')],
      wires: [['joiner']],
    },
    { id: 'failures', type: 'catch', z: 'tab', scope: ['down'], uncaught: false, wires: [['failed']] },
    {
      id: 'failed',
      type: 'change',
      z: 'tab',
      rules: [setRule('payload', '{"host": scp.host, "port": scp.port, "username": scp.username, "code": error.code, "message": error.message}')],
      wires: [['joiner']],
    },
    {
      id: 'joiner',
      type: 'join',
      z: 'tab',
      mode: 'auto',
      build: 'array',
      property: 'payload',
      propertyType: 'msg',
      key: 'topic',
      joiner: '\\n',
      joinerType: 'str',
      accumulate: false,
      timeout: '',
      count: '',
      reduceRight: false,
      wires: [['out']],
    },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'progress', type: 'helper', z: 'tab' },
  ];
}

interface Outcome {
  host: string;
  port: number;
  username: string;
  files?: string[];
  code?: string;
  message?: string;
}

/** Sends the list into the flow; resolves with the joined outcomes and every progress message seen. */
function collect(devices: Device[]): Promise<{ outcomes: Outcome[]; progress: Msg[] }> {
  const progress: Msg[] = [];
  helper.getNode('progress').on('input', (msg: Msg) => progress.push(msg));
  return new Promise((resolve) => {
    helper.getNode('out').on('input', (msg: Msg) => resolve({ outcomes: msg.payload as Outcome[], progress }));
    helper.getNode('splitter').receive({ payload: devices });
  });
}

describe('nodes: a fleet behind one connection (two sshd on 18 addresses, Dropbear, a device down, a key changed)', function () {
  this.timeout(180_000);
  useNodeRed();
  let fleet: SshdServer;
  let second: SshdServer;
  let dropbear: SshdServer;
  let reinstalled: SshdServer;
  const started: SshdServer[] = [];
  let silent: SilentServer | undefined;

  before(async function () {
    needThrowawayUser(this);
    fleet = await startSshd({ extraAddresses: FLEET_ADDRESSES.slice(1) });
    second = await startSshd({ extraAddresses: SECOND_ADDRESSES });
    dropbear = await startDropbear();
    // A device whose key we knew, now down (nothing listens on its port: ECONNREFUSED) ...
    reinstalled = await startSshd();
    started.push(fleet, second, dropbear, reinstalled);
    await reinstalled.stop();
  });
  after(async function () {
    for (const server of started) if (server.isRunning()) await server.stop();
    await silent?.close();
  });

  it('20 hosts split into 20 messages: each pulls its own files into <dir>/<host>-<port>/, one down (ECONNREFUSED), later with a changed key (EHOSTKEY, no login attempt)', async function () {
    const devices: Device[] = [
      ...FLEET_ADDRESSES.map((host) => ({ host, port: fleet.port })),
      ...SECOND_ADDRESSES.map((host) => ({ host, port: second.port })),
      { host: dropbear.host, port: dropbear.port },
      { host: reinstalled.host, port: reinstalled.port },
    ];
    const healthy = devices.slice(0, 19);
    const down = devices[19];
    const remote = await makeServerDir(fleet, 'fleet');
    // Every device has its own logs (all servers share one account here, so one folder per device).
    const script = healthy
      .map((device) => `mkdir '${deviceDir(device)}' && printf '%s\\n' '${deviceDir(device)} a' > '${deviceDir(device)}/a.log' && printf '%s\\n' '${deviceDir(device)} b' > '${deviceDir(device)}/b.log'`)
      .join(' && ');
    assert.strictEqual((await runAsUser(fleet, `cd '${remote.absolute}' && ${script}`)).code, 0);
    const local = await makeTempDir('fleet-local');
    // One folder per device, made by the collector (a download into a folder needs it to exist).
    for (const device of devices) fs.mkdirSync(path.join(local, deviceDir(device)));
    const knownHosts = path.join(await makeTempDir('fleet-known-hosts'), 'known_hosts');
    fs.writeFileSync(
      knownHosts,
      [
        ...FLEET_ADDRESSES.map((host) => knownHostsLineAt(fleet, host)),
        ...SECOND_ADDRESSES.map((host) => knownHostsLineAt(second, host)),
        dropbear.knownHostsLine,
        reinstalled.knownHostsLine,
      ].join('\n') + '\n',
    );

    await helper.load(
      [...translatedNodes, sequenceNodes, changeNode],
      [...fleetFlow(remote.absolute, local), connection(fleet, { hostKeyPolicy: 'known_hosts', knownHostsFile: knownHosts })],
      { conn: { password: fleet.password } },
    );

    const first = await collect(devices);
    assert.strictEqual(first.outcomes.length, 20);
    // In list order (the join rebuilds the split's order); each outcome names the device that served it.
    assert.deepStrictEqual(
      first.outcomes.map((outcome) => [outcome.host, outcome.port, outcome.username]),
      devices.map((device) => [device.host, device.port, fleet.username]),
    );
    const failedFirst = first.outcomes.filter((outcome) => outcome.code !== undefined);
    assert.deepStrictEqual(failedFirst.map((outcome) => outcome.code), ['ECONNREFUSED'], JSON.stringify(failedFirst));
    for (const [index, device] of healthy.entries()) {
      const dir = path.join(local, deviceDir(device));
      assert.deepStrictEqual((first.outcomes[index].files ?? []).sort(), [path.join(dir, 'a.log'), path.join(dir, 'b.log')]);
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['a.log', 'b.log'], `${dir} holds that device's files only`);
      assert.strictEqual(fs.readFileSync(path.join(dir, 'a.log'), 'utf8'), `${deviceDir(device)} a\n`);
      assert.strictEqual(fs.readFileSync(path.join(dir, 'b.log'), 'utf8'), `${deviceDir(device)} b\n`);
    }
    assert.deepStrictEqual(fs.readdirSync(path.join(local, deviceDir(down))), [], 'nothing from the device that was down');
    assert.match(failedFirst[0].message ?? '', new RegExp(`^Error: Connection refused by 127\\.0\\.0\\.1:${down.port} `));
    // Progress names its device too, and the device it names is the one whose files it reports.
    assert.ok(first.progress.length >= 19, `${first.progress.length} progress messages`);
    for (const msg of first.progress) {
      const scp = msg.scp as Device & { username: string };
      assert.strictEqual(scp.username, fleet.username);
      assert.ok(String(msg.remotePath).includes(`/${deviceDir(scp)}/`), `${String(msg.remotePath)} is on ${deviceDir(scp)}`);
    }
    const stats = (helper.getNode('conn') as unknown as { poolStats(): { devices: number } }).poolStats();
    assert.ok(stats.devices <= 20, `${stats.devices} devices at once`);

    // The device comes back reinstalled: same address, a new host key. It is refused before any login.
    const impostor = await startSshd({ port: down.port });
    started.push(impostor);
    assert.notDeepStrictEqual(impostor.hostKeyFingerprints, reinstalled.hostKeyFingerprints);
    const again = await collect(devices);
    const failedSecond = again.outcomes.filter((outcome) => outcome.code !== undefined);
    assert.deepStrictEqual(
      failedSecond.map((outcome) => [outcome.code, outcome.host, outcome.port]),
      [['EHOSTKEY', down.host, down.port]],
      JSON.stringify(failedSecond),
    );
    assert.strictEqual(again.outcomes.filter((outcome) => outcome.files?.length === 2).length, 19, 'the other 19 went on');
    const logs = impostor.logs();
    assert.match(logs, /Connection from 127\.0\.0\.1/, 'the changed device was contacted');
    assert.doesNotMatch(logs, /Accepted|Failed|Postponed|Invalid user|userauth/i, `a login was attempted on the changed device:\n${logs}`);
  });

  it('at most "Devices at once" devices are connected; a device that never answers delays only its own message', async function () {
    silent = await startSilentServer();
    const remote = await makeServerDir(fleet, 'fleet-cap');
    assert.strictEqual((await runAsUser(fleet, `printf 'reading' > '${remote.absolute}/now.txt'`)).code, 0);
    await helper.load(
      allNodes,
      [
        { id: 'tab', type: 'tab', label: 'fleet cap' },
        // Two devices at once; the silent one holds its place for the whole login timeout.
        connection(fleet, { hostKeyPolicy: 'fingerprint', hostFingerprints: fleet.hostKeyFingerprints.join('\n'), maxDevices: 2, readyTimeout: 120 }),
        { id: 'down', type: 'scp download', z: 'tab', connection: 'conn', remotePath: 'remotePath', remotePathType: 'msg', target: 'payload', wires: [['out']] },
        { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'out', type: 'helper', z: 'tab' },
        { id: 'caught', type: 'helper', z: 'tab' },
      ],
      { conn: { password: fleet.password } },
    );
    const connectionNode = helper.getNode('conn') as unknown as { poolStats(): { devices: number } | undefined };
    const results: Msg[] = [];
    const caught: Msg[] = [];
    const devicesSeen: number[] = [];
    const three = new Promise<void>((resolve) => {
      helper.getNode('out').on('input', (msg: Msg) => {
        results.push(msg);
        devicesSeen.push(connectionNode.poolStats()?.devices ?? 0);
        if (results.length === 3) resolve();
      });
    });
    helper.getNode('caught').on('input', (msg: Msg) => caught.push(msg));
    const down = helper.getNode('down');
    down.receive({ host: silent.host, port: silent.port, remotePath: `${remote.absolute}/now.txt` });
    for (const host of ['127.0.0.3', '127.0.0.4', '127.0.0.5']) down.receive({ host, port: fleet.port, remotePath: `${remote.absolute}/now.txt` });
    await three;
    assert.deepStrictEqual(results.map((msg) => (msg.scp as Device).host).sort(), ['127.0.0.3', '127.0.0.4', '127.0.0.5']);
    for (const msg of results) assert.strictEqual(String(msg.payload), 'reading');
    assert.deepStrictEqual(caught, [], 'the silent device is still logging in, nothing failed');
    assert.ok(devicesSeen.every((count) => count <= 2), `devices at once: ${devicesSeen.join(', ')}`);
    assert.ok(silent.connectionCount() >= 1, 'the silent device was being contacted all along');
  });

  it('trust on first use per host and port, and a set of pinned fingerprints (comma-separated) any of which a device may show', async function () {
    const remote = await makeServerDir(fleet, 'fleet-trust');
    assert.strictEqual((await runAsUser(fleet, `printf 'x' > '${remote.absolute}/r.txt'`)).code, 0);
    const flow = (props: Record<string, unknown>): Record<string, unknown>[] => [
      { id: 'tab', type: 'tab', label: 'fleet trust' },
      connection(fleet, props),
      { id: 'down', type: 'scp download', z: 'tab', connection: 'conn', remotePath: 'remotePath', remotePathType: 'msg', target: 'payload', wires: [['out']] },
      { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'out', type: 'helper', z: 'tab' },
      { id: 'caught', type: 'helper', z: 'tab' },
    ];
    /** One message to `device`: 'ok' or the error code its Catch node saw (and the message, translated). */
    const fetch = (device: Device): Promise<{ code: string; message?: string }> =>
      new Promise((resolve) => {
        const out = helper.getNode('out');
        const caught = helper.getNode('caught');
        const finish = (outcome: { code: string; message?: string }): void => {
          out.removeAllListeners('input');
          caught.removeAllListeners('input');
          resolve(outcome);
        };
        out.on('input', () => finish({ code: 'ok' }));
        caught.on('input', (msg: Msg) => {
          const error = msg.error as { code: string; message: string };
          finish({ code: error.code, message: error.message });
        });
        helper.getNode('down').receive({ host: device.host, port: device.port, remotePath: `${remote.absolute}/r.txt` });
      });

    const store = path.join(nodeRedUserDir(), 'scp-known-hosts.json');
    fs.rmSync(store, { force: true });
    await helper.load(allNodes, flow({ hostKeyPolicy: 'tofu' }), { conn: { password: fleet.password } });
    const tofuDevices: Device[] = [
      { host: '127.0.0.1', port: fleet.port },
      { host: '127.0.0.2', port: fleet.port },
      { host: '127.0.0.1', port: dropbear.port },
    ];
    for (const device of tofuDevices) assert.deepStrictEqual(await fetch(device), { code: 'ok' }, deviceDir(device));
    const remembered = JSON.parse(fs.readFileSync(store, 'utf8')) as Record<string, { fingerprint: string }>;
    assert.deepStrictEqual(
      Object.fromEntries(Object.entries(remembered).map(([key, record]) => [key, record.fingerprint])),
      {
        [`127.0.0.1:${fleet.port}`]: fleet.hostKeyFingerprints[0],
        [`127.0.0.2:${fleet.port}`]: fleet.hostKeyFingerprints[0],
        [`127.0.0.1:${dropbear.port}`]: dropbear.hostKeyFingerprints[0],
      },
    );
    await helper.unload();

    const stranger = await startSshd();
    started.push(stranger);
    await helper.load(
      translatedNodes,
      flow({ hostKeyPolicy: 'fingerprint', hostFingerprints: `${fleet.hostKeyFingerprints[0]}, ${dropbear.hostKeyFingerprints[0]}` }),
      { conn: { password: fleet.password } },
    );
    assert.deepStrictEqual(await fetch({ host: '127.0.0.6', port: fleet.port }), { code: 'ok' });
    assert.deepStrictEqual(await fetch({ host: '127.0.0.1', port: dropbear.port }), { code: 'ok' });
    const refused = await fetch({ host: stranger.host, port: stranger.port });
    assert.strictEqual(refused.code, 'EHOSTKEY');
    assert.ok(refused.message?.includes(`127.0.0.1:${stranger.port}`), refused.message);
    assert.doesNotMatch(stranger.logs(), /Accepted|Failed|Postponed/);
    // A device named badly is refused before any connection, naming the value.
    const bad = await fetch({ host: 'no such host!', port: fleet.port });
    assert.strictEqual(bad.code, 'EINVAL');
    assert.match(bad.message ?? '', /msg\.host is not a host name, an IPv4 or an IPv6 address: "no such host!"/);
    const badPort = await fetch({ host: '127.0.0.6', port: 70000 });
    assert.match(badPort.message ?? '', /msg\.port must be a whole number from 1 to 65535: 70000/);
  });

  it('with the option off, a message naming another device fails with EINVAL saying how to allow it, and nothing is contacted', async function () {
    const elsewhere = await startSilentServer();
    try {
      await helper.load(
        translatedNodes,
        [
          { id: 'tab', type: 'tab', label: 'fleet off' },
          // The configured device never answers either: a message sent to it would hang, not fail at once.
          { ...connection(fleet, { hostKeyPolicy: 'fingerprint', hostFingerprints: fleet.hostKeyFingerprints.join('\n') }), host: elsewhere.host, port: elsewhere.port, deviceOverride: false },
          { id: 'down', type: 'scp download', z: 'tab', connection: 'conn', remotePath: 'remotePath', remotePathType: 'msg', target: 'payload', wires: [['out']] },
          { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
          { id: 'out', type: 'helper', z: 'tab' },
          { id: 'caught', type: 'helper', z: 'tab' },
        ],
        { conn: { password: fleet.password } },
      );
      const logBefore = fleet.logs().length;
      const caught = new Promise<Msg>((resolve) => helper.getNode('caught').on('input', resolve));
      helper.getNode('down').receive({ host: '127.0.0.7', port: fleet.port, remotePath: 'x.txt' });
      const error = (await caught).error as { code: string; message: string };
      assert.strictEqual(error.code, 'EINVAL');
      assert.match(error.message, /msg\.(host|port) names another device \(.*\), but this connection does not let messages choose the device: tick "Let messages choose the device"/);
      assert.strictEqual(elsewhere.connectionCount(), 0, 'neither the configured nor the named device was contacted');
      assert.doesNotMatch(fleet.logs().slice(logBefore), /on 127\.0\.0\.7/);
    } finally {
      await elsewhere.close();
    }
  });

  it('leftover temporary names are journalled per device: one file per (user, host, port), shared by messages naming the configured device', async function () {
    await helper.load(allNodes, [{ id: 'tab', type: 'tab', label: 'fleet journal' }, connection(fleet, { hostKeyPolicy: 'any' })], { conn: { password: fleet.password } });
    const conn = helper.getNode('conn') as unknown as {
      deviceFor(msg: Msg): { label: string; host: string; port: number; username: string };
    };
    // The engine keeps one journal per server account under scp-leftovers/, named by serverKey of the device.
    const journalOf = (msg: Msg): Promise<string> => {
      const { host, port, username } = conn.deviceFor(msg);
      return Promise.resolve(path.join(nodeRedUserDir(), 'scp-leftovers', `${serverKey({ host, port, username } as SshEndpoint)}.json`));
    };
    const configured = await journalOf({});
    const files = [
      configured,
      await journalOf({ host: '127.0.0.2' }),
      await journalOf({ host: '127.0.0.2', port: dropbear.port }),
      await journalOf({ host: '127.0.0.2', username: 'someone-else' }),
    ];
    assert.strictEqual(new Set(files).size, 4, files.join('\n'));
    for (const file of files) assert.strictEqual(path.dirname(file), path.join(nodeRedUserDir(), 'scp-leftovers'));
    assert.strictEqual(await journalOf({ host: fleet.host, port: String(fleet.port), username: fleet.username }), configured);
    assert.strictEqual(conn.deviceFor({ host: '[::1]', port: 2222 }).label, `${fleet.username}@[::1]:2222`);
  });
});
