/**
 * The client side of an HTTP CONNECT tunnel (RFC 9110 §9.3.6) with optional Basic authentication. Only the
 * status line decides; the reply's header block is bounded, and a reply that is not HTTP fails with EPROTO.
 */
import * as net from 'node:net';
import { TransferError } from '../../errors';
import { cleanText } from '../../text';
import type { ProxyConfig } from '../types';
import { proxyLabel, type ProxyHandshake, type ProxyTarget } from './target';

/** A proxy's reply header larger than this is not a CONNECT reply. */
const MAX_REPLY_HEADER_BYTES = 16 * 1024;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?\r\n/;
/** RFC 3986 unreserved characters: all an IPv6 zone may hold here without more escaping. */
const ZONE = /^[A-Za-z0-9._~-]+$/;

/**
 * "host:port" for the request line. An IPv6 address goes in brackets, its zone's "%" written "%25" (RFC 6874).
 * A host with spaces or line breaks would let the request say more than we mean: it is refused outright.
 */
export function connectAuthority(target: ProxyTarget): string {
  const refuse = (): TransferError => new TransferError('EINVAL', 'the device host name cannot be sent to an HTTP proxy', { host: target.host });
  if (target.host.includes(':')) {
    const zoneAt = target.host.indexOf('%');
    const address = zoneAt === -1 ? target.host : target.host.slice(0, zoneAt);
    const zone = zoneAt === -1 ? undefined : target.host.slice(zoneAt + 1);
    if (!net.isIPv6(address) || (zone !== undefined && !ZONE.test(zone))) throw refuse();
    return `[${address}${zone === undefined ? '' : `%25${zone}`}]:${target.port}`;
  }
  if (!/^[A-Za-z0-9._-]+$/.test(target.host)) throw refuse();
  return `${target.host}:${target.port}`;
}

/** Checks and writes the request before any socket opens: a host or user name that cannot be sent is EINVAL at once. */
export function prepareHttpConnect(proxy: ProxyConfig, target: ProxyTarget): ProxyHandshake {
  const where = proxyLabel(proxy);
  const proxyWhere = `${proxy.host}:${proxy.port}`;
  const authority = connectAuthority(target);
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.username !== undefined) {
    if (proxy.username.includes(':') || /[\r\n]/.test(proxy.username)) {
      throw new TransferError('EINVAL', 'an HTTP proxy user name must not contain ":" or a line break', { host: proxyWhere });
    }
    const token = Buffer.from(`${proxy.username}:${proxy.password ?? ''}`, 'utf8').toString('base64');
    lines.push(`Proxy-Authorization: Basic ${token}`);
  }
  const request = `${lines.join('\r\n')}\r\n\r\n`;

  return async (socket, reader) => {
    socket.write(request);
    let header: Buffer;
    try {
      header = await reader.headerBlock(MAX_REPLY_HEADER_BYTES);
    } catch (error) {
      // "closed during the handshake" and "too long" are the proxy's fault; the caller maps a close itself.
      if (/longer than/.test((error as Error).message)) {
        throw new TransferError('EPROTO', `${where} sent a reply that is not HTTP`, { host: proxyWhere, detail: (error as Error).message });
      }
      throw error;
    }
    const status = STATUS_LINE.exec(header.toString('latin1'));
    if (!status) {
      throw new TransferError('EPROTO', `${where} sent a reply that is not HTTP`, {
        host: proxyWhere,
        detail: cleanText(header.subarray(0, 80).toString('latin1'), 80),
      });
    }
    const code = Number(status[1]);
    const reason = cleanText(status[2] ?? '', 80);
    if (code >= 200 && code < 300) return;
    // 407 is the standard answer; tinyproxy answers a CONNECT without credentials with 401.
    if (code === 407 || code === 401) {
      throw new TransferError('EPROXYAUTH', proxy.username === undefined ? `${where} wants credentials that were not given` : `${where} refused the proxy user name or password`, {
        host: proxyWhere,
        detail: `HTTP ${code} ${reason}`.trim(),
      });
    }
    throw new TransferError('EPROXY', `${where} could not connect to ${target.host}:${target.port}`, {
      host: `${target.host}:${target.port}`,
      detail: `HTTP ${code} ${reason}`.trim(),
    });
  };
}
