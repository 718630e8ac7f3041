/** What the proxy client connects to, and how a proxy is named in messages (never with its credentials). */
import type * as net from 'node:net';
import type { ProxyConfig } from '../types';
import type { HandshakeReader } from './reader';

export interface ProxyTarget {
  host: string;
  port: number;
}

/** A handshake whose request was checked and built before any socket opened; run once the proxy answered the connect. */
export type ProxyHandshake = (socket: net.Socket, reader: HandshakeReader) => Promise<void>;

/** "SOCKS5 proxy 10.0.0.1:1080" / "HTTP proxy [::1]:3128": what the user recognises from the dialog. */
export function proxyLabel(proxy: ProxyConfig): string {
  const host = proxy.host.includes(':') ? `[${proxy.host}]` : proxy.host;
  return `${proxy.kind === 'socks5' ? 'SOCKS5' : 'HTTP'} proxy ${host}:${proxy.port}`;
}
