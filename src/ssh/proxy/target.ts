/** What the proxy client connects to, and how a proxy is named in messages (never with its credentials). */
import type { ProxyConfig } from '../types';

export interface ProxyTarget {
  host: string;
  port: number;
}

/** "SOCKS5 proxy 10.0.0.1:1080" / "HTTP proxy [::1]:3128": what the user recognises from the dialog. */
export function proxyLabel(proxy: ProxyConfig): string {
  const host = proxy.host.includes(':') ? `[${proxy.host}]` : proxy.host;
  return `${proxy.kind === 'socks5' ? 'SOCKS5' : 'HTTP'} proxy ${host}:${proxy.port}`;
}
