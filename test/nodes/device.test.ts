/**
 * Which device a message goes to (src/nodes/device.ts): msg.host, msg.port and msg.username are checked
 * before any connection, a bad value is an EINVAL naming it, and without the connection's opt-in a
 * message naming another device is refused instead of silently going to the configured host.
 */
import assert from 'assert';
import { DeviceError, deviceFor, deviceLabel, parseHost, parsePort, parseUsername, type DeviceErrorKey } from '../../src/nodes/device';
import { splitFingerprints } from '../../src/nodes/endpoint';
import { lookUp } from './catalog';

const CONFIGURED = { host: 'gateway.example', port: 22, username: 'collector' };

/** The DeviceError `work` throws: its catalog key and the value it names. */
function refusal(work: () => unknown): { key: DeviceErrorKey; value: string; property: string; message: string } {
  try {
    work();
  } catch (error) {
    assert.ok(error instanceof DeviceError, `a DeviceError, got ${String(error)}`);
    assert.strictEqual(error.code, 'EINVAL');
    return { key: error.key, value: error.values.value, property: error.values.property, message: error.message };
  }
  assert.fail('no error');
}

describe('nodes: the device a message names', function () {
  it('accepts host names, IPv4 and IPv6 addresses (brackets removed), trimmed', function () {
    assert.strictEqual(parseHost('sensor-17.plant.example'), 'sensor-17.plant.example');
    assert.strictEqual(parseHost('  router  '), 'router');
    assert.strictEqual(parseHost('edge_node.local.'), 'edge_node.local.');
    assert.strictEqual(parseHost('192.168.10.7'), '192.168.10.7');
    assert.strictEqual(parseHost('fd00::17'), 'fd00::17');
    assert.strictEqual(parseHost('[fd00::17]'), 'fd00::17');
    assert.strictEqual(parseHost('[::1]'), '::1');
    assert.strictEqual(parseHost('::ffff:10.0.0.1'), '::ffff:10.0.0.1');
  });

  it('refuses a bad host with EINVAL naming the value', function () {
    const bad: unknown[] = ['', '   ', 'two words', 'host:22', 'ssh://host', '300.1.1.1', '10.0.0.256', '[host]', '[fd00::1', 'fd00::1]', '[10.0.0.1]',
      '-leading.example', 'trailing-.example', 'a..b', 'semi;colon', `${'a'.repeat(64)}.example`, `${'abcdefghi.'.repeat(26)}com`, 42, null, {}, ['h']];
    for (const value of bad) {
      const { key, value: shown, property } = refusal(() => parseHost(value));
      assert.strictEqual(key, 'badHost', String(value));
      assert.strictEqual(property, 'msg.host');
      // The value as given, quoted; a very long one shortened.
      if (typeof value === 'string' && value.length <= 100) assert.strictEqual(shown, `"${value}"`);
      else if (typeof value === 'string') assert.ok(shown.startsWith(`"${value.slice(0, 90)}`), shown);
    }
    assert.match(refusal(() => parseHost('two words')).message, /msg\.host = "two words"/);
  });

  it('ports: whole numbers from 1 to 65535, as numbers or digit strings; 0, 70000, 1.5 and text are EINVAL', function () {
    assert.strictEqual(parsePort(22), 22);
    assert.strictEqual(parsePort(65535), 65535);
    assert.strictEqual(parsePort(' 2222 '), 2222);
    for (const value of [0, 70000, 1.5, -22, NaN, Infinity, '0', '70000', '1.5', '22a', '', '0x16', '1e3', true, [22]]) {
      const { key, value: shown } = refusal(() => parsePort(value));
      assert.strictEqual(key, 'badPort', String(value));
      assert.ok(shown.includes(String(value)), `${shown} names ${String(value)}`);
    }
  });

  it('user names: non-empty, no spaces or control characters', function () {
    assert.strictEqual(parseUsername('pi'), 'pi');
    assert.strictEqual(parseUsername('DOMAIN\\svc.collector'), 'DOMAIN\\svc.collector');
    for (const value of ['', 'two words', 'tab\there', 'new\nline', 7, null]) {
      assert.strictEqual(refusal(() => parseUsername(value)).key, 'badUsername', String(value));
    }
  });

  it('with the override on, msg.host, msg.port and msg.username choose the device; absent ones keep the configured', function () {
    assert.deepStrictEqual(deviceFor({ host: '[fd00::9]', port: '2201' }, CONFIGURED, true), { host: 'fd00::9', port: 2201, username: 'collector' });
    assert.deepStrictEqual(deviceFor({ username: 'root2' }, CONFIGURED, true), { ...CONFIGURED, username: 'root2' });
    assert.deepStrictEqual(deviceFor({ host: null, port: undefined }, CONFIGURED, true), CONFIGURED);
    assert.strictEqual(refusal(() => deviceFor({ host: 'ok.example', port: 0 }, CONFIGURED, true)).key, 'badPort');
    assert.strictEqual(refusal(() => deviceFor({ host: 'not ok' }, CONFIGURED, true)).key, 'badHost');
  });

  it('with the override off (the default), naming another device is EINVAL overrideOff, never the configured host instead', function () {
    for (const msg of [{ host: 'other.example' }, { port: 2222 }, { username: 'someone' }, { host: 'not a host' }, { port: 70000 }]) {
      const { key, property } = refusal(() => deviceFor(msg, CONFIGURED, false));
      assert.strictEqual(key, 'overrideOff', JSON.stringify(msg));
      assert.strictEqual(property, `msg.${Object.keys(msg)[0]}`);
    }
    // The configured device itself, however spelt, is not another device.
    assert.deepStrictEqual(deviceFor({ host: 'GATEWAY.example', port: '22', username: 'collector' }, CONFIGURED, false), CONFIGURED);
    assert.deepStrictEqual(deviceFor({}, CONFIGURED, false), CONFIGURED);
    // A whole endpoint as the configured device: only its address comes back (never its credentials).
    assert.deepStrictEqual(deviceFor({ port: 2201 }, { ...CONFIGURED, auth: { password: 'secret' } } as typeof CONFIGURED, true), { ...CONFIGURED, port: 2201 });
    const v6 = { host: '::1', port: 22, username: 'u' };
    assert.deepStrictEqual(deviceFor({ host: '[::1]' }, v6, false), v6);
  });

  it('labels: IPv6 in brackets, as the user wrote the host otherwise', function () {
    assert.strictEqual(deviceLabel({ host: 'fd00::1', port: 22, username: 'u' }), 'u@[fd00::1]:22');
    assert.strictEqual(deviceLabel({ host: 'Box', port: 2222, username: 'u' }), 'u@Box:2222');
  });

  it('every device error has its text in the scp-connection catalog, naming the property and the value', function () {
    for (const key of ['badHost', 'badPort', 'badUsername', 'overrideOff'] as const) {
      const text = lookUp(`scp-connection.errors.${key}`);
      assert.ok(typeof text === 'string' && text.includes('__property__') && text.includes('__value__'), `${key}: ${String(text)}`);
    }
    assert.match(String(lookUp('scp-connection.errors.overrideOff')), /Let messages choose the device/);
    assert.strictEqual(lookUp('scp-connection.label.deviceOverride'), 'Let messages choose the device (msg.host, msg.port, msg.username)');
  });

  it('pinned fingerprints: one per line or separated by commas, comments skipped', function () {
    assert.deepStrictEqual(splitFingerprints('SHA256:aaa, SHA256:bbb\n# old\nSHA256:ccc,\r\n'), ['SHA256:aaa', 'SHA256:bbb', 'SHA256:ccc']);
  });
});
