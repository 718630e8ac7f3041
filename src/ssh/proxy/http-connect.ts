/**
 * The client side of an HTTP CONNECT tunnel (RFC 9110 §9.3.6) with optional Basic authentication. Only the
 * status line decides; the reply's header block is bounded, and a reply that is not HTTP fails with EPROTO.
 */
import type * as net from 'node:net';
import { TransferError } from '../../errors';
import { cleanText } from '../../text';
import type { ProxyConfig } from '../types';
import type { HandshakeReader } from './reader';
import { proxyLabel, type ProxyTarget } from './target';

/** A proxy's reply header larger than this is not a CONNECT reply. */
const MAX_REPLY_HEADER_BYTES = 16 * 1024;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?\r\n/;

export async function httpConnectHandshake(socket: net.Socket, reader: HandshakeReader, proxy: ProxyConfig, target: ProxyTarget): Promise<void> {
  const where = proxyLabel(proxy);
  const proxyWhere = `${proxy.host}:${proxy.port}`;
  // A host with spaces or line breaks would let the request say more than we mean: refuse it outright.
  if (!/^[A-Za-z0-9._:%-]+$/.test(target.host)) {
    throw new TransferError('EINVAL', 'the device host name cannot be sent to an HTTP proxy', { host: target.host });
  }
  const authority = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.username !== undefined) {
    if (proxy.username.includes(':') || /[\r\n]/.test(proxy.username)) {
      throw new TransferError('EINVAL', 'an HTTP proxy user name must not contain ":" or a line break', { host: proxyWhere });
    }
    const token = Buffer.from(`${proxy.username}:${proxy.password ?? ''}`, 'utf8').toString('base64');
    lines.push(`Proxy-Authorization: Basic ${token}`);
  }
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);

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
}
