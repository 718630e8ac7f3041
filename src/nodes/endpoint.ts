/**
 * Turns what the scp-connection dialog stores (properties + credentials) into the engine's SshEndpoint and
 * PoolOptions. Pure functions without Node-RED, shared by the config node and its "Test connection"
 * endpoint so both read a form the same way.
 */
import os from 'os';
import path from 'path';
import type { Algorithms } from 'ssh2';
import { TransferError } from '../errors';
import { COMPRESSION_ALGORITHMS } from '../ssh';
import type { AuthConfig, HostKeyPolicy, PoolOptions, ProxyConfig, SshEndpoint } from '../ssh/types';
import type { TransportChoice } from '../transfer';

export type HostKeyPolicyName = 'tofu' | 'fingerprint' | 'known_hosts' | 'any';
export type AgentChoice = 'none' | 'env' | 'path';

/** The scp-connection node's properties, as flows.json holds them (numbers may arrive as strings). */
export interface ConnectionSettings {
  host?: string;
  port?: number | string;
  username?: string;
  agent?: AgentChoice;
  agentSocket?: string;
  keyboardInteractive?: boolean;
  privateKeyPath?: string;
  hostKeyPolicy?: HostKeyPolicyName;
  hostFingerprints?: string;
  knownHostsFile?: string;
  transport?: TransportChoice;
  readyTimeout?: number | string;
  idleTimeout?: number | string;
  /** seconds one transfer may take in all; blank or 0 = no limit */
  transferTimeout?: number | string;
  keepaliveInterval?: number | string;
  maxChannels?: number | string;
  maxConnections?: number | string;
  algorithms?: string;
  jumpHost?: string;
  /** let msg.host, msg.port and msg.username choose the device (a fleet behind one dialog) */
  deviceOverride?: boolean;
  /** devices connected at once when messages name devices */
  maxDevices?: number | string;
  /** ssh -C: zlib compression, offered first and taken when the server agrees */
  compression?: boolean;
  proxyType?: ProxyKind;
  proxyHost?: string;
  proxyPort?: number | string;
  /** blank: the proxy asks for no credentials */
  proxyUsername?: string;
}

export type ProxyKind = 'none' | 'socks5' | 'http';

export interface ConnectionCredentials {
  password?: string;
  privateKey?: string;
  passphrase?: string;
  proxyPassword?: string;
}

export const DEFAULTS = {
  port: 22,
  readyTimeoutS: 20,
  idleTimeoutS: 30,
  transferTimeoutS: 0,
  keepaliveIntervalS: 15,
  maxChannels: 8,
  maxConnections: 2,
  maxDevices: 20,
  knownHostsFile: '~/.ssh/known_hosts',
  socks5Port: 1080,
  httpProxyPort: 3128,
} as const;

/** The ssh2 algorithm lists a user may override; anything else in the JSON is a mistake worth reporting. */
const ALGORITHM_KEYS = ['kex', 'cipher', 'serverHostKey', 'hmac', 'compress'] as const;

/** Private keys pasted on Windows or read from a CRLF file must still parse: one line ending, LF. */
export function normaliseLineEndings(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** A whole number within [min, max]; absent or blank gives the default, anything else is EINVAL. */
export function parseCount(value: unknown, fallback: number, min: number, max: number, what: string): number {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return fallback;
  const number = typeof value === 'number' ? value : Number(String(value).trim());
  // A fraction (a port of 2601.5) would pass here and fail much later as a confusing network error.
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new TransferError('EINVAL', `${what} must be a whole number from ${min} to ${max}`, { detail: String(value) });
  }
  return number;
}

export function expandHome(file: string): string {
  if (file === '~') return os.homedir();
  if (file.startsWith('~/')) return path.join(os.homedir(), file.slice(2));
  return file;
}

/** Validates the optional algorithms JSON: an object of the ssh2 keys, each a list of names (or ssh2's {append|prepend|remove} form). */
export function parseAlgorithms(text: string | undefined): Algorithms | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TransferError('EINVAL', 'algorithms is not valid JSON', { detail: (error as Error).message });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TransferError('EINVAL', 'algorithms must be a JSON object');
  }
  const isNameList = (list: unknown): boolean =>
    (typeof list === 'string' && list !== '') || (Array.isArray(list) && list.every((name) => typeof name === 'string' && name !== ''));
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!(ALGORITHM_KEYS as readonly string[]).includes(key)) {
      throw new TransferError('EINVAL', `algorithms has an unknown key; use ${ALGORITHM_KEYS.join(', ')}`, { detail: key });
    }
    const valid =
      isNameList(value) ||
      (value !== null &&
        typeof value === 'object' &&
        !Array.isArray(value) &&
        Object.keys(value).length > 0 &&
        Object.entries(value as Record<string, unknown>).every(
          ([op, list]) => ['append', 'prepend', 'remove'].includes(op) && isNameList(list),
        ));
    if (!valid) {
      throw new TransferError('EINVAL', `algorithms.${key} must be a list of algorithm names`);
    }
  }
  return parsed as Algorithms;
}

/** Pinned fingerprints, one per line or separated by commas (a fleet's devices may have different keys). */
export function splitFingerprints(text: string | undefined): string[] {
  return (text ?? '')
    .split(/[\r\n,]+/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * `inspecting`: for the "Test connection" button, a fingerprint policy without fingerprints is allowed — it
 * trusts no key, so the report shows the server's fingerprint (to pin) and no credential is sent.
 */
export function hostKeyPolicyOf(settings: ConnectionSettings, tofuStoreFile: string, inspecting = false): HostKeyPolicy {
  const policy = settings.hostKeyPolicy ?? 'tofu';
  switch (policy) {
    case 'fingerprint': {
      const fingerprints = splitFingerprints(settings.hostFingerprints);
      if (fingerprints.length === 0 && !inspecting) {
        throw new TransferError('EINVAL', 'host key policy "fingerprint" needs at least one fingerprint');
      }
      return { kind: 'fingerprint', fingerprints };
    }
    case 'known_hosts':
      return { kind: 'known_hosts', file: expandHome(nonEmpty(settings.knownHostsFile?.trim()) ?? DEFAULTS.knownHostsFile) };
    case 'any':
      return { kind: 'any' };
    case 'tofu':
      return { kind: 'tofu', storeFile: tofuStoreFile };
    default:
      throw new TransferError('EINVAL', 'unknown host key policy', { detail: String(policy) });
  }
}

export function authOf(settings: ConnectionSettings, credentials: ConnectionCredentials): AuthConfig {
  const auth: AuthConfig = {};
  const password = nonEmpty(credentials.password);
  const privateKey = nonEmpty(credentials.privateKey);
  const passphrase = nonEmpty(credentials.passphrase);
  const keyPath = nonEmpty(settings.privateKeyPath?.trim());
  if (password !== undefined) auth.password = password;
  if (privateKey !== undefined) auth.privateKey = normaliseLineEndings(privateKey);
  else if (keyPath !== undefined) auth.privateKeyPath = expandHome(keyPath);
  if (passphrase !== undefined) auth.passphrase = passphrase;
  if (settings.agent === 'env') auth.agent = 'env';
  else if (settings.agent === 'path') {
    const socket = nonEmpty(settings.agentSocket?.trim());
    if (socket === undefined) throw new TransferError('EINVAL', 'ssh-agent socket path is empty');
    auth.agent = expandHome(socket);
  }
  if (settings.keyboardInteractive === true && password !== undefined) auth.keyboardInteractive = true;
  return auth;
}

/** The endpoint without its jump host (the caller resolves jumpHost, because that needs other nodes). */
export function endpointOf(
  settings: ConnectionSettings,
  credentials: ConnectionCredentials,
  tofuStoreFile: string,
  inspecting = false,
): SshEndpoint {
  // An IPv6 address may be written in brackets, as in a URL: the socket wants it without.
  const host = (settings.host?.trim() ?? '').replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new TransferError('EINVAL', 'the connection has no host');
  const username = settings.username?.trim() ?? '';
  if (username === '') throw new TransferError('EINVAL', 'the connection has no user name', { host });
  const endpoint: SshEndpoint = {
    host,
    port: parseCount(settings.port, DEFAULTS.port, 1, 65535, 'port'),
    username,
    auth: authOf(settings, credentials),
    hostKey: hostKeyPolicyOf(settings, tofuStoreFile, inspecting),
    readyTimeoutMs: parseCount(settings.readyTimeout, DEFAULTS.readyTimeoutS, 1, 3600, 'connect timeout') * 1000,
    keepaliveIntervalMs: parseCount(settings.keepaliveInterval, DEFAULTS.keepaliveIntervalS, 0, 3600, 'keepalive interval') * 1000,
  };
  const algorithms = parseAlgorithms(settings.algorithms);
  // The algorithms JSON is the expert's word: its own "compress" list wins over the checkbox.
  if (settings.compression === true && algorithms?.compress === undefined) {
    endpoint.algorithms = { ...algorithms, compress: COMPRESSION_ALGORITHMS };
  } else if (algorithms !== undefined) endpoint.algorithms = algorithms;
  const proxy = proxyOf(settings, credentials);
  if (proxy !== undefined) endpoint.proxy = proxy;
  return endpoint;
}

/** The proxy of the dialog, or undefined when there is none; a half-filled proxy is EINVAL, not a direct connection. */
export function proxyOf(settings: ConnectionSettings, credentials: ConnectionCredentials): ProxyConfig | undefined {
  const kind = settings.proxyType ?? 'none';
  if (kind === 'none') return undefined;
  if (kind !== 'socks5' && kind !== 'http') throw new TransferError('EINVAL', 'unknown proxy type', { detail: String(kind) });
  const host = (settings.proxyHost?.trim() ?? '').replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new TransferError('EINVAL', 'the proxy has no host');
  const proxy: ProxyConfig = {
    kind,
    host,
    port: parseCount(settings.proxyPort, kind === 'socks5' ? DEFAULTS.socks5Port : DEFAULTS.httpProxyPort, 1, 65535, 'proxy port'),
  };
  const username = nonEmpty(settings.proxyUsername?.trim());
  if (username !== undefined) {
    proxy.username = username;
    proxy.password = credentials.proxyPassword ?? '';
  }
  return proxy;
}

/** The same value written two ways ("22" and 22, "[::1]" and "::1", a blank port and its default) compares equal. */
function sameWayPort(value: number | string | undefined, fallback: number): string {
  const text = String(value ?? '').trim();
  if (text === '') return String(fallback);
  return Number.isNaN(Number(text)) ? text : String(Number(text));
}

function sameWayHost(value: string | undefined): string {
  return (value?.trim() ?? '').replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/**
 * Where a connection's secrets go: the device (host, port, user, jump host) and the proxy. "Test connection"
 * sends the stored secrets only to the deployed node's destination, so a host or proxy typed in the dialog
 * cannot be sent them (HTTP Basic would hand the proxy password to any host in clear text).
 */
export function destinationOf(settings: ConnectionSettings): string {
  const kind = settings.proxyType ?? 'none';
  const proxy =
    kind === 'none'
      ? ['none']
      : [kind, sameWayHost(settings.proxyHost), sameWayPort(settings.proxyPort, kind === 'socks5' ? DEFAULTS.socks5Port : DEFAULTS.httpProxyPort), settings.proxyUsername?.trim() ?? ''];
  return JSON.stringify([
    sameWayHost(settings.host),
    sameWayPort(settings.port, DEFAULTS.port),
    settings.username?.trim() ?? '',
    settings.jumpHost?.trim() ?? '',
    ...proxy,
  ]);
}

export function poolOptionsOf(settings: ConnectionSettings): Partial<PoolOptions> {
  return {
    maxChannelsPerConnection: parseCount(settings.maxChannels, DEFAULTS.maxChannels, 1, 64, 'channels per connection'),
    maxConnections: parseCount(settings.maxConnections, DEFAULTS.maxConnections, 1, 16, 'connections'),
  };
}

export function maxDevicesOf(settings: ConnectionSettings): number {
  return parseCount(settings.maxDevices, DEFAULTS.maxDevices, 1, 1000, 'devices connected at once');
}

export function transportOf(settings: ConnectionSettings): TransportChoice {
  const transport = settings.transport ?? 'auto';
  if (transport !== 'auto' && transport !== 'scp' && transport !== 'sftp') {
    throw new TransferError('EINVAL', 'unknown transport', { detail: String(transport) });
  }
  return transport;
}

export function idleTimeoutMsOf(settings: ConnectionSettings): number {
  return parseCount(settings.idleTimeout, DEFAULTS.idleTimeoutS, 1, 86400, 'idle timeout') * 1000;
}

/** The overall limit of one transfer (0 = none): a server trickling a byte now and then cannot hold a message forever. */
export function transferTimeoutMsOf(settings: ConnectionSettings): number {
  return parseCount(settings.transferTimeout, DEFAULTS.transferTimeoutS, 0, 7 * 86400, 'transfer time limit') * 1000;
}
