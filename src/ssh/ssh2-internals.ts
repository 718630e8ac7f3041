/**
 * The one place that touches ssh2's private fields. ssh2 offers no public way to learn the server's
 * software version, the SFTP extensions and packet limits the server announced, the SSH-level state of a
 * channel (its stream 'close' waits until all data was read), or to send a keepalive round trip on demand;
 * these accessors read them, each with a safe fallback. `ssh2ShapeProblems` checks at start-up (the first
 * pool) that the installed ssh2 still has that shape, so a changed ssh2 gives a clear warning instead of
 * quietly slower transfers, slots held too long or connections not checked after a timeout.
 * package.json pins ssh2 to the minor version these fields were read from (TESTED_SSH2_MINOR).
 */
import { Client } from 'ssh2';

/** The ssh2 minor version whose internals this module was written against (package.json pins `~1.17.0`). */
export const TESTED_SSH2_MINOR = '1.17';

type ChannelState = { state?: unknown };
interface ChannelInternals {
  incoming?: ChannelState;
  outgoing?: ChannelState;
}
interface ClientInternals {
  _remoteVer?: unknown;
  _callbacks?: unknown;
  _protocol?: { ping?: unknown } | null;
}
interface SftpInternals extends ChannelInternals {
  _extensions?: unknown;
  _maxReadLen?: unknown;
  _maxWriteLen?: unknown;
}

// ------------------------------------------------------------------------------------------ accessors

/** The server's software version from its identification line ("OpenSSH_9.2p1 ..."), once the handshake began. */
export function remoteSoftwareVersion(client: Client): string | undefined {
  const version = (client as unknown as ClientInternals)._remoteVer;
  return typeof version === 'string' ? version : undefined;
}

/** The extensions the SFTP server announced in its VERSION reply (e.g. posix-rename@openssh.com); {} when unknown. */
export function sftpExtensions(sftp: unknown): Record<string, string> {
  const extensions = (sftp as SftpInternals | null)?._extensions;
  return extensions !== null && typeof extensions === 'object' ? (extensions as Record<string, string>) : {};
}

/** The largest read ssh2 will ask of this server in one request (OpenSSH announces it via limits@openssh.com). */
export function sftpMaxReadLen(sftp: unknown): number | undefined {
  const value = (sftp as SftpInternals | null)?._maxReadLen;
  return typeof value === 'number' ? value : undefined;
}

export function sftpMaxWriteLen(sftp: unknown): number | undefined {
  const value = (sftp as SftpInternals | null)?._maxWriteLen;
  return typeof value === 'number' ? value : undefined;
}

/**
 * Calls `listener` when ssh2 changes `channel[side].state` to `value`: 'incoming' 'closed' is the server's
 * CHANNEL_CLOSE (ssh2 emits the stream's 'close' only once its data was read to the end), 'outgoing'
 * 'closing' is our own close. Returns false when the channel lacks that field (another ssh2 shape).
 */
export function onChannelState(channel: unknown, side: 'incoming' | 'outgoing', value: string, listener: () => void): boolean {
  const holder = (channel as ChannelInternals | null)?.[side];
  if (!holder || typeof holder !== 'object' || typeof holder.state !== 'string') return false;
  let state: unknown = holder.state;
  const descriptor = Object.getOwnPropertyDescriptor(holder, 'state');
  const previousSet = descriptor?.set;
  try {
    Object.defineProperty(holder, 'state', {
      configurable: true,
      enumerable: true,
      get: () => state,
      set: (next: unknown) => {
        previousSet?.(next);
        const changed = next !== state;
        state = next;
        if (changed && next === value) setImmediate(listener);
      },
    });
  } catch {
    return false;
  }
  return true;
}

/** The SSH-level state of one side of a channel ('open', 'eof', 'closing', 'closed'), or undefined. */
export function channelState(channel: unknown, side: 'incoming' | 'outgoing'): string | undefined {
  const state = (channel as ChannelInternals | null)?.[side]?.state;
  return typeof state === 'string' ? state : undefined;
}

/**
 * Sends one keepalive@openssh.com global request (what ssh2's own keepalive sends) and calls `onReply` when
 * the server answers it (success or failure: either is a sign of life). ssh2 matches global replies to a
 * queue of callbacks in order, so ours joins that queue. Returns false when it cannot be sent (another ssh2
 * shape, or the connection is gone).
 */
export function sendKeepalive(client: Client, onReply: () => void): boolean {
  const internals = client as unknown as ClientInternals;
  const protocol = internals._protocol;
  const callbacks = internals._callbacks;
  if (!protocol || typeof protocol.ping !== 'function' || !Array.isArray(callbacks)) return false;
  try {
    callbacks.push(() => onReply());
    (protocol.ping as () => void).call(protocol);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------- self-check

/** What a fresh ssh2 Client must carry for the accessors above (fields its constructor declares). */
export function clientShapeProblems(client: unknown): string[] {
  const problems: string[] = [];
  const fields = client !== null && typeof client === 'object' ? client : {};
  for (const field of ['_remoteVer', '_callbacks', '_protocol']) {
    if (!(field in fields)) problems.push(`Client has no ${field}`);
  }
  return problems;
}

/** What an open exec channel or SFTP session must carry: the SSH-level states of both sides. */
export function channelShapeProblems(channel: unknown, what = 'channel'): string[] {
  const problems: string[] = [];
  for (const side of ['incoming', 'outgoing'] as const) {
    if (channelState(channel, side) === undefined) problems.push(`${what} has no ${side}.state`);
  }
  return problems;
}

/** What an SFTP session must carry: the channel states, its extensions and its packet limits. */
export function sftpShapeProblems(sftp: unknown): string[] {
  const problems = channelShapeProblems(sftp, 'SFTP session');
  const fields = sftp as SftpInternals | null;
  if (!fields || fields._extensions === null || typeof fields._extensions !== 'object') problems.push('SFTP session has no _extensions');
  if (typeof fields?._maxReadLen !== 'number') problems.push('SFTP session has no _maxReadLen');
  if (typeof fields?._maxWriteLen !== 'number') problems.push('SFTP session has no _maxWriteLen');
  return problems;
}

/** The installed ssh2's version ("1.17.0"), or undefined when its package.json cannot be read. */
export function installedSsh2Version(): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const manifest = require('ssh2/package.json') as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The start-up check: the installed ssh2's version against the tested minor, and the private fields a
 * fresh Client and ssh2's protocol carry. Returns the problems found (none with the tested ssh2).
 * `version` and `client` are parameters so a test can show what a changed ssh2 reports.
 */
export function ssh2ShapeProblems(version: string | undefined = installedSsh2Version(), client: unknown = new Client()): string[] {
  const problems: string[] = [];
  if (version === undefined) problems.push('the ssh2 version is unknown');
  else if (!version.startsWith(`${TESTED_SSH2_MINOR}.`)) problems.push(`ssh2 ${version} is installed, ${TESTED_SSH2_MINOR}.x was tested`);
  problems.push(...clientShapeProblems(client));
  if (!hasProtocolPing()) problems.push("ssh2's protocol has no ping()");
  return problems;
}

function hasProtocolPing(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Protocol = require('ssh2/lib/protocol/Protocol.js') as { prototype?: { ping?: unknown } };
    return typeof Protocol.prototype?.ping === 'function';
  } catch {
    return false;
  }
}

let reported: Set<string> | undefined;

/**
 * Calls `warn` once per process for each problem not reported before (the start-up check, then the shapes
 * of the first real channel and SFTP session). Returns the new problems.
 */
export function reportShapeProblems(problems: string[], warn: (detail: string) => void): string[] {
  reported ??= new Set();
  const fresh = problems.filter((problem) => !reported?.has(problem));
  for (const problem of fresh) reported.add(problem);
  if (fresh.length > 0) warn(fresh.join('; '));
  return fresh;
}
