import * as assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { checkKnownHosts, knownHostsName, parseKnownHosts } from '../../src/ssh/known-hosts';
import { fingerprintOf, normaliseFingerprint } from '../../src/ssh/fingerprint';
import { sshKeyPair } from '../harness';

function newKey(type: 'ed25519' | 'ecdsa' = 'ed25519'): { line: string; blob: Buffer; fingerprint: string } {
  const pair = sshKeyPair(type === 'ecdsa' ? 'ecdsa' : 'ed25519');
  const [keyType, base64] = pair.public.split(' ');
  const blob = Buffer.from(base64, 'base64');
  return { line: `${keyType} ${base64}`, blob, fingerprint: fingerprintOf(blob) };
}

/** An OpenSSH hashed host name, computed the way ssh-keygen -H does (checked against ssh-keygen in host-key tests). */
function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('known_hosts matching', () => {
  const key = newKey();
  const other = newKey();

  it('names non-22 ports as [host]:port and lower-cases', () => {
    assert.equal(knownHostsName('Example.COM', 22), 'example.com');
    assert.equal(knownHostsName('Example.COM', 2222), '[example.com]:2222');
  });

  it('matches a plain name on port 22 but not the same name on another port', () => {
    const text = `example.com ${key.line}\n`;
    assert.equal(checkKnownHosts(text, 'example.com', 22, key.blob).kind, 'match');
    assert.equal(checkKnownHosts(text, 'EXAMPLE.com', 22, key.blob).kind, 'match');
    assert.equal(checkKnownHosts(text, 'example.com', 2222, key.blob).kind, 'unknown');
  });

  it('matches [host]:port entries and comma lists', () => {
    const text = `# comment\n\nfoo,[example.com]:2222,bar ${key.line} a comment\n`;
    assert.equal(checkKnownHosts(text, 'example.com', 2222, key.blob).kind, 'match');
    assert.equal(checkKnownHosts(text, 'bar', 22, key.blob).kind, 'match');
    assert.equal(checkKnownHosts(text, 'example.com', 2223, key.blob).kind, 'unknown');
  });

  it('matches hashed names', () => {
    const text = `${hashed('[10.0.0.7]:2200')} ${key.line}\n`;
    assert.equal(checkKnownHosts(text, '10.0.0.7', 2200, key.blob).kind, 'match');
    assert.equal(checkKnownHosts(text, '10.0.0.7', 22, key.blob).kind, 'unknown');
    assert.equal(checkKnownHosts(text, '10.0.0.8', 2200, key.blob).kind, 'unknown');
  });

  it('honours * and ? wildcards and ! negation', () => {
    const text = `*.example.com,!secret.example.com ${key.line}\nhost? ${key.line}\n`;
    assert.equal(checkKnownHosts(text, 'a.example.com', 22, key.blob).kind, 'match');
    assert.equal(checkKnownHosts(text, 'secret.example.com', 22, key.blob).kind, 'unknown');
    assert.equal(checkKnownHosts(text, 'host1', 22, key.blob).kind, 'match');
    assert.equal(checkKnownHosts(text, 'host12', 22, key.blob).kind, 'unknown');
    assert.equal(checkKnownHosts(`[10.0.0.*]:2222 ${key.line}\n`, '10.0.0.9', 2222, key.blob).kind, 'match');
  });

  it('reports a listed host with another key as a mismatch, naming the expected fingerprints', () => {
    const verdict = checkKnownHosts(`example.com ${other.line}\n`, 'example.com', 22, key.blob);
    assert.deepEqual(verdict, { kind: 'mismatch', expected: [other.fingerprint] });
  });

  it('requires the key type to match as well as the blob', () => {
    // Same base64 blob, but the line claims another type: the line is corrupt and is ignored.
    const [, base64] = key.line.split(' ');
    assert.equal(parseKnownHosts(`example.com ssh-rsa ${base64}\n`).length, 0);
    assert.equal(checkKnownHosts(`example.com ssh-rsa ${base64}\n`, 'example.com', 22, key.blob).kind, 'unknown');
  });

  it('refuses a @revoked key even when another line trusts it', () => {
    const text = `example.com ${key.line}\n@revoked * ${key.line}\n`;
    assert.equal(checkKnownHosts(text, 'example.com', 22, key.blob).kind, 'revoked');
    assert.equal(checkKnownHosts(text, 'elsewhere', 22, key.blob).kind, 'revoked');
  });

  it('never trusts through @cert-authority lines, and says so when those are all that match', () => {
    const text = `@cert-authority *.example.com ${key.line}\n`;
    assert.equal(checkKnownHosts(text, 'a.example.com', 22, key.blob).kind, 'ca-only');
    assert.equal(checkKnownHosts(text, 'other.org', 22, key.blob).kind, 'unknown');
  });

  it('skips malformed lines', () => {
    assert.equal(parseKnownHosts(`example.com\n@bogus example.com ${key.line}\nexample.com ${key.line}\nx y !!!\n`).length, 1);
  });
});

describe('fingerprints', () => {
  it('normalises what users paste', () => {
    const canonical = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU';
    assert.equal(normaliseFingerprint(canonical), canonical);
    assert.equal(normaliseFingerprint('47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='), canonical);
    assert.equal(normaliseFingerprint(' sha256: 47DEQpj8HBSa+/TImW+5 JCeuQeRkm5NMpJWZG3hSuFU '), canonical);
  });

  it('computes SHA256 of the blob without padding', () => {
    assert.equal(fingerprintOf(Buffer.alloc(0)), 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU');
  });
});
