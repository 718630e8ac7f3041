/**
 * The client side of a SOCKS5 CONNECT (RFC 1928) with optional user/password authentication (RFC 1929).
 * Every reply is checked before it is believed: a proxy that answers with something else fails with EPROTO.
 */
import * as net from 'node:net';
import { TransferError } from '../../errors';
import type { ProxyConfig } from '../types';
import type { HandshakeReader } from './reader';
import { proxyLabel, type ProxyHandshake, type ProxyTarget } from './target';

const VERSION = 5;
const METHOD_NONE = 0x00;
const METHOD_PASSWORD = 0x02;
const METHOD_REFUSED = 0xff;
const COMMAND_CONNECT = 0x01;
const ADDRESS_IPV4 = 0x01;
const ADDRESS_DOMAIN = 0x03;
const ADDRESS_IPV6 = 0x04;

/** RFC 1928 reply codes: the ones that say the device itself was not reachable keep the network's codes. */
const REPLIES: Record<number, { code: TransferError['code']; meaning: string }> = {
  1: { code: 'EPROXY', meaning: 'general SOCKS server failure' },
  2: { code: 'EPROXY', meaning: 'connection not allowed by ruleset' },
  3: { code: 'EHOSTUNREACH', meaning: 'network unreachable' },
  4: { code: 'EHOSTUNREACH', meaning: 'host unreachable' },
  5: { code: 'ECONNREFUSED', meaning: 'connection refused by the device' },
  6: { code: 'ETIMEDOUT', meaning: 'TTL expired' },
  7: { code: 'EPROXY', meaning: 'command not supported' },
  8: { code: 'EPROXY', meaning: 'address type not supported' },
};

/**
 * Checks and encodes the device's address and the credentials before any socket opens (a name that cannot
 * be sent is EINVAL at once); the handshake it returns runs on a socket already connected to the proxy.
 */
export function prepareSocks5(proxy: ProxyConfig, target: ProxyTarget): ProxyHandshake {
  const address = encodeAddress(target.host);
  const credentials = proxy.username !== undefined ? encodeCredentials(proxy.username, proxy.password ?? '') : undefined;
  return (socket, reader) => socks5Handshake(socket, reader, proxy, target, address, credentials);
}

/** Runs the handshake; resolves once the tunnel stands. */
async function socks5Handshake(
  socket: net.Socket,
  reader: HandshakeReader,
  proxy: ProxyConfig,
  target: ProxyTarget,
  address: Buffer,
  credentials: Buffer | undefined,
): Promise<void> {
  const where = proxyLabel(proxy);
  const deviceWhere = `${target.host}:${target.port}`;
  const broken = (what: string): TransferError =>
    new TransferError('EPROTO', `${where} does not speak SOCKS5`, { host: `${proxy.host}:${proxy.port}`, detail: what });

  socket.write(Buffer.from(credentials ? [VERSION, 2, METHOD_NONE, METHOD_PASSWORD] : [VERSION, 1, METHOD_NONE]));
  const choice = await reader.bytes(2);
  if (choice[0] !== VERSION) throw broken(`greeting answered with version ${choice[0]}`);
  const method = choice[1];
  if (method === METHOD_REFUSED || (method === METHOD_PASSWORD && !credentials)) {
    throw new TransferError('EPROXYAUTH', `${where} wants credentials that were not given`, {
      host: `${proxy.host}:${proxy.port}`,
      detail: credentials ? 'it accepts none of the offered methods' : 'set the proxy user and password',
    });
  }
  if (method === METHOD_PASSWORD && credentials) {
    socket.write(credentials);
    const status = await reader.bytes(2);
    // RFC 1929 says version 1, yet some proxies echo 5 here: only the status decides.
    if (status[1] !== 0) {
      throw new TransferError('EPROXYAUTH', `${where} refused the proxy user name or password`, { host: `${proxy.host}:${proxy.port}` });
    }
  } else if (method !== METHOD_NONE) {
    throw broken(`it chose method ${method}, which was not offered`);
  }

  const port = Buffer.alloc(2);
  port.writeUInt16BE(target.port);
  socket.write(Buffer.concat([Buffer.from([VERSION, COMMAND_CONNECT, 0]), address, port]));
  const head = await reader.bytes(4);
  if (head[0] !== VERSION) throw broken(`connect answered with version ${head[0]}`);
  const reply = head[1] as number;
  if (reply !== 0) {
    const known = REPLIES[reply];
    throw new TransferError(known?.code ?? 'EPROXY', `${where} could not connect to ${deviceWhere}`, {
      host: deviceWhere,
      detail: `${known?.meaning ?? 'unknown reply'} (SOCKS reply ${reply})`,
    });
  }
  // The bound address that follows is of no use to us, but it must be read off the stream.
  switch (head[3]) {
    case ADDRESS_IPV4:
      await reader.bytes(4 + 2);
      break;
    case ADDRESS_IPV6:
      await reader.bytes(16 + 2);
      break;
    case ADDRESS_DOMAIN: {
      const length = (await reader.bytes(1))[0] as number;
      await reader.bytes(length + 2);
      break;
    }
    default:
      throw broken(`bound address of unknown type ${head[3]}`);
  }
}

function encodeAddress(host: string): Buffer {
  if (net.isIPv4(host)) return Buffer.from([ADDRESS_IPV4, ...host.split('.').map(Number)]);
  if (net.isIPv6(host)) return Buffer.concat([Buffer.from([ADDRESS_IPV6]), ipv6Bytes(host)]);
  const name = Buffer.from(host, 'utf8');
  if (name.length === 0 || name.length > 255) throw new TransferError('EINVAL', 'a host name sent to a SOCKS5 proxy must be 1 to 255 bytes', { host });
  return Buffer.concat([Buffer.from([ADDRESS_DOMAIN, name.length]), name]);
}

/** The 16 bytes of an IPv6 address (net.isIPv6 has accepted it), "::" and an embedded IPv4 tail included. */
function ipv6Bytes(text: string): Buffer {
  let address = text.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (v4?.[1]) {
    const parts = v4[1].split('.').map(Number);
    address = address.slice(0, -v4[1].length) + `${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [left = '', right] = address.split('::');
  const head = left === '' ? [] : left.split(':');
  const tail = right === undefined || right === '' ? [] : right.split(':');
  const groups = right === undefined ? head : [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => bytes.writeUInt16BE(parseInt(group, 16), index * 2));
  return bytes;
}

function encodeCredentials(username: string, password: string): Buffer {
  const user = Buffer.from(username, 'utf8');
  const pass = Buffer.from(password, 'utf8');
  if (user.length < 1 || user.length > 255 || pass.length > 255) {
    throw new TransferError('EINVAL', 'a SOCKS5 proxy user name must be 1 to 255 bytes and its password at most 255');
  }
  return Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]);
}
