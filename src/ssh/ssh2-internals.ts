/**
 * The one place that touches ssh2's private fields. ssh2 offers no public way to learn the server's
 * software version, the SFTP extensions and packet limits the server announced, the SSH-level state of a
 * channel (its stream 'close' waits until all data was read), or to send a keepalive round trip on demand;
 * these accessors read them, each with a safe fallback. `ssh2ShapeProblems` checks at start-up (the first
 * pool) that the installed ssh2 still has that shape, so a changed ssh2 gives a clear warning instead of
 * quietly slower transfers, slots held too long or connections not checked after a timeout.
 * package.json pins ssh2 to the minor version these fields were read from (TESTED_SSH2_MINOR).
 */
import * as net from 'node:net';
import { Client } from 'ssh2';
import { cryptoBindingAvailable } from './crypto-binding';
import type { PacketRecycler } from './packet-recycler';
import type { WarnFunction } from './types';

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
  _protocol?: { ping?: unknown; _cipher?: unknown } | null;
}
interface CipherInternals {
  allocPacket?: unknown;
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

/**
 * ssh2's outgoing ciphers (with its native crypto binding) that encrypt a packet in place and write that
 * same buffer to the socket: only their packets can be recycled once the socket has written them.
 */
const IN_PLACE_CIPHERS = new Set(['AESGCMCipherBinding', 'ChaChaPolyCipherBinding', 'GenericCipherBinding']);

/**
 * Lets `recycler` supply the buffers of the outgoing packets of `client`, whose transport is `socket`
 * (ours): the cipher's `allocPacket` asks the recycler first (for this cipher and every one a re-key
 * installs), and a recycled buffer goes back to it from the socket's write callback. Other ciphers (no
 * native binding) keep ssh2's own allocation. Returns what is missing when ssh2 has another shape; then
 * nothing is changed.
 */
export function recycleOutgoingPackets(client: Client, socket: net.Socket, recycler: PacketRecycler): string[] {
  const protocol = (client as unknown as ClientInternals)._protocol;
  if (!protocol || typeof protocol !== 'object' || !('_cipher' in protocol)) return ['Client has no _protocol._cipher'];
  const cipherName = (cipher: unknown): string => (cipher as { constructor?: { name?: unknown } } | null)?.constructor?.name as string;
  const adopt = (cipher: unknown): void => {
    recycler.reset();
    const fields = cipher as CipherInternals | null;
    if (!fields || typeof fields.allocPacket !== 'function' || !IN_PLACE_CIPHERS.has(cipherName(cipher))) return;
    const allocate = (fields.allocPacket as (payloadLength: number) => Buffer).bind(cipher);
    fields.allocPacket = (payloadLength: number): Buffer => recycler.packet(payloadLength, allocate);
  };
  let current: unknown = protocol._cipher;
  try {
    Object.defineProperty(protocol, '_cipher', {
      configurable: true,
      enumerable: true,
      get: () => current,
      set: (next: unknown) => {
        current = next;
        adopt(next);
      },
    });
  } catch {
    return ['Client._protocol._cipher can not be watched'];
  }
  adopt(current);
  // With ssh2's native crypto every cipher it negotiates is one of those: another name means ssh2 changed.
  const problems = cryptoBindingAvailable() && !IN_PLACE_CIPHERS.has(cipherName(current)) ? [`ssh2's cipher ${cipherName(current)} is not known to encrypt in place`] : [];
  const write = socket.write;
  socket.write = function writeRecycling(this: net.Socket, chunk: unknown, ...rest: unknown[]): boolean {
    // ssh2 writes each packet with the buffer alone; anything else goes through untouched.
    if (rest.length > 0 || !recycler.isLent(chunk)) return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    return (write as (data: Buffer, callback: (error?: Error | null) => void) => boolean).call(this, chunk, (error) => {
      if (!error) recycler.written(chunk);
    });
  } as typeof socket.write;
  return problems;
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

/** Warns (once per process for each problem) that ssh2's private fields differ from the tested ones. */
export function warnSsh2Changed(problems: string[], warn: WarnFunction): void {
  if (problems.length === 0) return;
  reportShapeProblems(problems, (detail) =>
    warn(`the installed ssh2 differs from the tested one (${detail}): some safeguards are off`, { code: 'ssh2Changed', values: { detail } }),
  );
}
