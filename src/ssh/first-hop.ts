/**
 * The byte stream an SSH connection runs on: a TCP socket to the device, a tunnel through a SOCKS5 or HTTP
 * CONNECT proxy, or a channel through a jump host (whose own connection goes through the proxy, the first
 * hop being the only one Node-RED opens itself).
 */
import * as net from 'node:net';
import type { Client, ClientChannel } from 'ssh2';
import { TransferError } from '../errors';
import { cleanText } from '../text';
import { openProxyTunnel } from './proxy';
import type { SshEndpoint } from './types';

/** What the first hop needs of the jump host's connection (an SshConnection; named here so this file need not import it). */
export interface JumpConnection {
  readonly client: Client;
  readonly where: string;
  end(): Promise<void>;
}

/** The part of connection.ts's ConnectObserver that the first hop fills in. */
interface ReachObserver {
  reached?: boolean;
}

export interface FirstHop<J extends JumpConnection> {
  socket: net.Socket | ClientChannel;
  /** the jump host's connection the socket is a channel of (ended with the connection on top) */
  jump?: J;
}

type Ssh2Error = Error & { reason?: unknown };

/** The connection deadline of an endpoint (connect + handshake + authentication). */
export function readyTimeoutOf(endpoint: SshEndpoint): number {
  return endpoint.readyTimeoutMs || 20_000;
}

/** Opens the first hop; a TCP socket is returned still connecting (its errors surface through ssh2). */
export async function openFirstHop<J extends JumpConnection>(
  endpoint: SshEndpoint,
  options: { signal?: AbortSignal; observer?: ReachObserver },
  openJump: (jumpEndpoint: SshEndpoint) => Promise<J>,
): Promise<FirstHop<J>> {
  const reached = (): void => {
    if (options.observer) options.observer.reached = true;
  };
  if (endpoint.jumpHost) {
    // Only the first hop's TCP connection can go through the proxy: the jump host inherits this one's.
    const jumpEndpoint = endpoint.proxy && !endpoint.jumpHost.proxy ? { ...endpoint.jumpHost, proxy: endpoint.proxy } : endpoint.jumpHost;
    const jump = await openJump(jumpEndpoint).catch((error: unknown) => {
      throw error instanceof TransferError
        ? new TransferError(error.code, `jump host: ${error.summary}`, { host: error.host, path: error.path, detail: error.detail, cause: error })
        : error;
    });
    try {
      const socket = await forwardThrough(jump, endpoint);
      reached();
      return { socket, jump };
    } catch (error) {
      await jump.end();
      throw error;
    }
  }
  if (endpoint.proxy) {
    // The proxy's handshake is part of connecting: it shares the connection deadline.
    const socket = await openProxyTunnel(endpoint.proxy, endpoint, { deadlineMs: readyTimeoutOf(endpoint), signal: options.signal });
    reached();
    return { socket };
  }
  const socket = net.connect({ host: endpoint.host, port: endpoint.port });
  socket.on('error', () => undefined);
  socket.setNoDelay(true);
  socket.on('connect', reached);
  return { socket };
}

/** Opens a direct-tcpip channel from the jump host to the target, to carry the target's SSH stream. */
function forwardThrough(jump: JumpConnection, endpoint: SshEndpoint): Promise<ClientChannel> {
  const target = `${endpoint.host}:${endpoint.port}`;
  return new Promise((resolve, reject) => {
    const failed = (error: Ssh2Error): TransferError => {
      const detail = cleanText(error.message ?? String(error), 200);
      // RFC 4254 reason 2 is "connect failed": the jump host could not reach the target.
      const code = error.reason === 2 ? 'ECONNREFUSED' : 'ECONNRESET';
      return new TransferError(code, `jump host ${jump.where} could not open a connection to ${target}`, { host: target, detail });
    };
    try {
      jump.client.forwardOut('127.0.0.1', 0, endpoint.host, endpoint.port, (error, stream) => {
        if (error) reject(failed(error));
        else resolve(stream);
      });
    } catch (error) {
      reject(failed(error as Ssh2Error));
    }
  });
}
