/**
 * A TCP connection to the device through a SOCKS5 or HTTP CONNECT proxy. The socket has an error listener
 * from birth, the whole handshake has one deadline and obeys the abort signal, and every failure destroys
 * the socket and names the proxy (proxy down, wrong proxy credentials) or the device (the proxy could not
 * reach it) — never a credential.
 */
import * as net from 'node:net';
import { codeFromSocketError, TransferError } from '../../errors';
import { cleanText } from '../../text';
import type { ProxyConfig } from '../types';
import { prepareHttpConnect } from './http-connect';
import { HandshakeReader } from './reader';
import { prepareSocks5 } from './socks5';
import { proxyLabel, type ProxyHandshake, type ProxyTarget } from './target';

export { proxyLabel, type ProxyTarget } from './target';

export interface TunnelOptions {
  /** the bound of TCP connect + proxy handshake */
  deadlineMs: number;
  signal?: AbortSignal;
}

/** Resolves with a paused socket whose next bytes come from the device, or rejects with a TransferError. */
export function openProxyTunnel(proxy: ProxyConfig, target: ProxyTarget, options: TunnelOptions): Promise<net.Socket> {
  const where = proxyLabel(proxy);
  const proxyWhere = `${proxy.host}:${proxy.port}`;
  return new Promise((resolve, reject) => {
    // What cannot be sent (a host name with a line break, an over-long SOCKS name) fails before a socket opens.
    let handshake: ProxyHandshake;
    try {
      handshake = proxy.kind === 'socks5' ? prepareSocks5(proxy, target) : prepareHttpConnect(proxy, target);
    } catch (error) {
      reject(error);
      return;
    }
    let settled = false;
    let connected = false;
    const socket = net.connect({ host: proxy.host, port: proxy.port });
    const reader = new HandshakeReader(socket);
    const finish = (error?: TransferError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', onAbort);
      if (error) {
        socket.destroy();
        reject(error);
        return;
      }
      reader.release();
      resolve(socket);
    };
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const code = codeFromSocketError(error);
      const summary: Record<string, string> = {
        ECONNREFUSED: `${where} refused the connection (is the proxy running?)`,
        ENOTFOUND: `the host name of the ${where} does not resolve`,
        EHOSTUNREACH: `no route to the ${where}`,
      };
      const text = summary[code] ?? (connected ? `the connection to the ${where} failed` : `the ${where} cannot be reached`);
      finish(new TransferError(code, text, { host: proxyWhere, detail: cleanText(error.message ?? String(error), 200) }));
    });
    socket.setNoDelay(true);
    const onAbort = (): void => finish(new TransferError('EABORTED', `connecting through the ${where} was aborted`, { host: proxyWhere }));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const deadline = setTimeout(() => {
      finish(
        new TransferError('ETIMEDOUT', connected ? `the ${where} did not finish its handshake in time` : `connecting to the ${where} timed out`, {
          host: proxyWhere,
          detail: `after ${options.deadlineMs} ms`,
        }),
      );
    }, Math.max(1, options.deadlineMs));
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    socket.once('connect', () => {
      connected = true;
      handshake(socket, reader).then(
        () => finish(),
        (error: unknown) => {
          finish(
            error instanceof TransferError
              ? error
              : new TransferError('ECONNRESET', `the ${where} closed the connection during its handshake`, {
                  host: proxyWhere,
                  detail: cleanText((error as Error)?.message ?? String(error), 200),
                }),
          );
        },
      );
    });
  });
}
