/**
 * OpenSSH known_hosts matching (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): plain and comma-separated names,
 * `[host]:port` for ports other than 22, hashed names `|1|salt|hmac`, `*`/`?` wildcards, `!` negation,
 * `@revoked` keys (never accepted, whatever the host) and `@cert-authority` lines (not supported here:
 * they never make a key trusted, but a host only they match gets its own message).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { fingerprintOf } from './fingerprint';

export interface KnownHostsEntry {
  marker: 'revoked' | 'cert-authority' | null;
  patterns: string;
  keyType: string;
  key: Buffer;
  line: number;
}

export type KnownHostsVerdict =
  | { kind: 'match'; line: number }
  | { kind: 'revoked'; line: number }
  /** the host is listed, but with other keys; `expected` are their fingerprints */
  | { kind: 'mismatch'; expected: string[] }
  /** only @cert-authority lines name the host */
  | { kind: 'ca-only' }
  | { kind: 'unknown' };

/** Parses known_hosts text; malformed lines are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/[ \t]+/);
    let marker: KnownHostsEntry['marker'] = null;
    if (fields[0].startsWith('@')) {
      const name = fields.shift()?.toLowerCase();
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else return;
    }
    if (fields.length < 3) return;
    const [patterns, keyType, keyBase64] = fields;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) return;
    const key = Buffer.from(keyBase64, 'base64');
    // The blob begins with its own type name; a line whose two disagree is corrupt.
    if (keyTypeOfBlob(key) !== keyType) return;
    entries.push({ marker, patterns, keyType, key, line: index + 1 });
  });
  return entries;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise (lower-cased). */
export function knownHostsName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** Decides whether `key` (an SSH public key blob) is trusted for host:port by the known_hosts text. */
export function checkKnownHosts(text: string, host: string, port: number, key: Buffer): KnownHostsVerdict {
  const entries = parseKnownHosts(text);
  const keyType = keyTypeOfBlob(key);
  const name = knownHostsName(host, port);
  const sameKey = (entry: KnownHostsEntry): boolean => entry.keyType === keyType && entry.key.equals(key);

  // A revoked key must never be accepted, whichever host names it.
  const revoked = entries.find((entry) => entry.marker === 'revoked' && sameKey(entry));
  if (revoked) return { kind: 'revoked', line: revoked.line };

  const forHost = entries.filter((entry) => entry.marker !== 'revoked' && hostMatches(entry.patterns, name));
  const plain = forHost.filter((entry) => entry.marker === null);
  const match = plain.find(sameKey);
  if (match) return { kind: 'match', line: match.line };
  if (plain.length > 0) {
    // Name the keys of the same type first: those are what the user most likely meant.
    const ordered = [...plain.filter((e) => e.keyType === keyType), ...plain.filter((e) => e.keyType !== keyType)];
    return { kind: 'mismatch', expected: [...new Set(ordered.map((entry) => fingerprintOf(entry.key)))] };
  }
  if (forHost.some((entry) => entry.marker === 'cert-authority')) return { kind: 'ca-only' };
  return { kind: 'unknown' };
}

/** The key type name at the start of an SSH public key blob ('' when the blob is malformed). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return '';
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) return '';
  return blob.toString('latin1', 4, 4 + length);
}

function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedNameMatches(patterns, name);
  let positive = false;
  for (const rawPattern of patterns.split(',')) {
    if (rawPattern === '') continue;
    const negated = rawPattern.startsWith('!');
    const pattern = (negated ? rawPattern.slice(1) : rawPattern).toLowerCase();
    if (!wildcardMatches(pattern, name)) continue;
    // A matching negation rules the line out, whatever else matched.
    if (negated) return false;
    positive = true;
  }
  return positive;
}

/** `|1|<base64 salt>|<base64 HMAC-SHA1(salt, name)>` */
function hashedNameMatches(field: string, name: string): boolean {
  const parts = field.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2], 'base64');
  const expected = Buffer.from(parts[3], 'base64');
  if (salt.length === 0 || expected.length !== 20) return false;
  const actual = createHmac('sha1', salt).update(name).digest();
  return timingSafeEqual(actual, expected);
}

function wildcardMatches(pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(name);
}
