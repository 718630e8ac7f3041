/**
 * Which device a message is for. A config node serves its own endpoint; with "allow msg.host, msg.port
 * and msg.username" on, a message may name another device, and one dialog with one set of credentials
 * serves a fleet. Pure functions (no Node-RED): what the message asks for is checked here, before any
 * connection, and a bad value is an EINVAL naming it.
 */
import { isIP } from 'net';
import { TransferError } from '../errors';
import { cleanText } from '../text';

/** One device: the pool, the host-key check, the leftover journal and every message are per device. */
export interface DeviceAddress {
  /** as the socket connects to it: a name, an IPv4 or an IPv6 address (no brackets) */
  host: string;
  port: number;
  username: string;
}

/** The catalog keys (under `scp-connection.errors.`) of what can be wrong with a device in a message. */
export const DEVICE_ERROR_KEYS = ['badHost', 'badPort', 'badUsername', 'overrideOff'] as const;
export type DeviceErrorKey = (typeof DEVICE_ERROR_KEYS)[number];

/** An EINVAL about msg.host, msg.port or msg.username; `values` fill its catalog text. */
export class DeviceError extends TransferError {
  constructor(
    readonly key: DeviceErrorKey,
    summary: string,
    readonly values: { property: string; value: string },
  ) {
    super('EINVAL', summary, { detail: `${values.property} = ${values.value}` });
  }
}

/** The message properties that may name a device. */
export const DEVICE_PROPERTIES = ['host', 'port', 'username'] as const;

const HOST_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;
const MAX_HOST_NAME = 253;

/** A value as the user gave it, for the error text: short, printable, strings in quotes. */
function shown(value: unknown): string {
  return typeof value === 'string' ? `"${cleanText(value, 100)}"` : cleanText(String(value), 100);
}

/**
 * A host name (RFC 1123 labels; `_` too, which real networks use), an IPv4 address, or an IPv6 address
 * with or without brackets. Returns it as a socket connects to it: trimmed, IPv6 without brackets.
 * Anything else (spaces, a port glued on, `300.1.1.1`, a URL) is refused: it would fail later as a
 * confusing lookup error, or reach a host nobody meant.
 */
export function parseHost(value: unknown, property = 'msg.host'): string {
  const refuse = (): DeviceError =>
    new DeviceError('badHost', `${property} must be a host name, an IPv4 or an IPv6 address`, { property, value: shown(value) });
  if (typeof value !== 'string') throw refuse();
  const text = value.trim();
  if (text.startsWith('[') || text.endsWith(']')) {
    const inner = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : '';
    if (isIP(inner) !== 6) throw refuse();
    return inner;
  }
  if (isIP(text) !== 0) return text;
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name === '' || name.length > MAX_HOST_NAME) throw refuse();
  const labels = name.split('.');
  if (!labels.every((label) => HOST_LABEL.test(label))) throw refuse();
  // All-digit last label: meant as an IPv4 address, and not a valid one (a top-level domain is never numeric).
  if (/^\d+$/.test(labels[labels.length - 1])) throw refuse();
  return text;
}

/** A whole number from 1 to 65535, as a number or a string of digits. */
export function parsePort(value: unknown, property = 'msg.port'): number {
  const text = typeof value === 'string' ? value.trim() : undefined;
  const number = typeof value === 'number' ? value : text !== undefined && /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(number) || number < 1 || number > 65535) {
    throw new DeviceError('badPort', `${property} must be a whole number from 1 to 65535`, { property, value: shown(value) });
  }
  return number;
}

/** A login name: non-empty, without spaces or control characters (they would only fail at the server). */
export function parseUsername(value: unknown, property = 'msg.username'): string {
  const text = typeof value === 'string' ? value.trim() : '';
  // eslint-disable-next-line no-control-regex
  if (text === '' || text.length > 256 || /[\s\x00-\x1f\x7f]/.test(text)) {
    throw new DeviceError('badUsername', `${property} must be a user name without spaces`, { property, value: shown(value) });
  }
  return text;
}

/** "user@host:port", IPv6 in brackets: how messages name a device. */
export function deviceLabel(device: DeviceAddress): string {
  const host = device.host.includes(':') ? `[${device.host}]` : device.host;
  return `${device.username}@${host}:${device.port}`;
}

/**
 * The device a message is for. Without the override, a message that names another device fails with
 * EINVAL (`overrideOff`) rather than silently going to the configured one: copying from the wrong
 * machine is worse than an error. A message naming the configured device itself passes either way.
 */
export function deviceFor(msg: Record<string, unknown>, configured: DeviceAddress, overrideAllowed: boolean): DeviceAddress {
  const parsers = { host: parseHost, port: parsePort, username: parseUsername } as const;
  // Only the address: `configured` may be a whole endpoint, credentials included.
  const requested: DeviceAddress = { host: configured.host, port: configured.port, username: configured.username };
  for (const property of DEVICE_PROPERTIES) {
    const value = msg[property];
    if (value === undefined || value === null) continue;
    let parsed: string | number | undefined;
    try {
      parsed = parsers[property](value);
    } catch (error) {
      // Off, any other value is a device the connection refuses to go to: say that, not how to spell it.
      if (overrideAllowed) throw error;
    }
    const same = property === 'host' ? String(parsed).toLowerCase() === configured.host.toLowerCase() : parsed === configured[property];
    if (!overrideAllowed) {
      if (same) continue;
      throw new DeviceError('overrideOff', `msg.${property} names another device, and the connection does not allow that`, {
        property: `msg.${property}`,
        value: shown(value),
      });
    }
    if (property === 'port') requested.port = parsed as number;
    else requested[property] = parsed as string;
  }
  return requested;
}
