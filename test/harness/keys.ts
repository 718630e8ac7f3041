/** Keys generated per run with the system's ssh-keygen, and fingerprints computed the way ssh-keygen prints them. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mustRun } from './exec';
import { makeTempDirSync } from './tmp';

export type HostKeyType = 'ed25519' | 'rsa' | 'ecdsa';

export interface ClientKeys {
  /** OpenSSH private key text, no passphrase */
  clientKey: string;
  clientKeyPath: string;
  /** RSA key in OpenSSH format, encrypted (aes256-ctr + bcrypt-pbkdf) with `clientKeyPassphrase` */
  clientKeyEncrypted: string;
  clientKeyEncryptedPath: string;
  clientKeyPassphrase: string;
  /** the two public key lines, as they go into authorized_keys */
  authorizedKeys: string;
}

/** "SHA256:<base64 without padding>" of a public key line ("type base64 [comment]"), as `ssh-keygen -l` prints it. */
export function fingerprintOfPublicKeyLine(line: string): string {
  const blob = line.trim().split(/\s+/)[1];
  if (!blob) throw new Error(`not a public key line: ${line}`);
  const digest = crypto.createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** "type base64" without the comment. */
export function publicKeyTypeAndBlob(line: string): string {
  const [type, blob] = line.trim().split(/\s+/);
  if (!type || !blob) throw new Error(`not a public key line: ${line}`);
  return `${type} ${blob}`;
}

export async function sshKeygen(type: HostKeyType, file: string, passphrase = '', comment = 'scp-test'): Promise<void> {
  const bits = type === 'rsa' ? ['-b', '2048'] : [];
  await mustRun('ssh-keygen', ['-q', '-t', type, ...bits, '-N', passphrase, '-C', comment, '-f', file]);
}

/** The SHA256 fingerprint printed by `ssh-keygen -lf <file>` (the independent reference for our own computation). */
export async function sshKeygenFingerprint(file: string): Promise<string> {
  const out = await mustRun('ssh-keygen', ['-l', '-E', 'sha256', '-f', file]);
  const match = /\b(SHA256:[A-Za-z0-9+/]+)/.exec(out);
  if (!match) throw new Error(`unexpected ssh-keygen -l output: ${out}`);
  return match[1] as string;
}

let clientKeys: Promise<ClientKeys> | undefined;

/** One pair of client keys per run, shared by every server. */
export function getClientKeys(): Promise<ClientKeys> {
  clientKeys ??= generateClientKeys();
  return clientKeys;
}

async function generateClientKeys(): Promise<ClientKeys> {
  const dir = makeTempDirSync('client-keys');
  const plainPath = path.join(dir, 'id_ed25519');
  const encryptedPath = path.join(dir, 'id_rsa_encrypted');
  const passphrase = `pass-${crypto.randomBytes(9).toString('hex')}`;
  await Promise.all([
    sshKeygen('ed25519', plainPath, '', 'scp-test-plain'),
    sshKeygen('rsa', encryptedPath, passphrase, 'scp-test-encrypted'),
  ]);
  fs.chmodSync(plainPath, 0o600);
  fs.chmodSync(encryptedPath, 0o600);
  const authorizedKeys =
    [plainPath, encryptedPath].map((p) => fs.readFileSync(`${p}.pub`, 'utf8').trim()).join('\n') + '\n';
  return {
    clientKey: fs.readFileSync(plainPath, 'utf8'),
    clientKeyPath: plainPath,
    clientKeyEncrypted: fs.readFileSync(encryptedPath, 'utf8'),
    clientKeyEncryptedPath: encryptedPath,
    clientKeyPassphrase: passphrase,
    authorizedKeys,
  };
}
