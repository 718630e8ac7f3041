/**
 * PuTTY keys (issue 4): keys work "as ssh2 reads them". ssh2 reads PPK version 2 for ssh-rsa and ssh-dss;
 * PuTTYgen's default since 0.75 is version 3, which must fail with a message that says which export to make.
 * The PPK files are made by PuTTY's own puttygen from the harness's authorized keys, and used against the real sshd.
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, needThrowawayUser, sharedSshd, skipOrFail, type SshdServer } from '../harness';
import { SshPool } from '../../src/ssh';
import type { AuthConfig } from '../../src/ssh/types';
import { collect, endpointFor, rejection } from './helpers';

/** Runs puttygen; resolves with its exit code and stderr (a missing program rejects with ENOENT). */
function puttygen(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('puttygen', args, (error, _stdout, stderr) => {
      if (error && typeof (error as NodeJS.ErrnoException).code === 'string') {
        reject(error);
        return;
      }
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stderr: String(stderr) });
    });
  });
}

async function puttygenAvailable(): Promise<boolean> {
  try {
    return (await puttygen(['--version'])).code === 0;
  } catch {
    return false;
  }
}

describe('ssh: PuTTY (PPK) private keys', function () {
  let server: SshdServer;
  let dir: string;
  let oldPassphraseFile: string;
  let emptyPassphraseFile: string;

  before(async function () {
    needThrowawayUser(this);
    if (!(await puttygenAvailable())) skipOrFail(this, 'puttygen (Debian package putty-tools) to make PuTTY keys');
    server = await sharedSshd();
    dir = await makeTempDir('putty-keys');
    oldPassphraseFile = path.join(dir, 'old-passphrase');
    emptyPassphraseFile = path.join(dir, 'no-passphrase');
    // puttygen reads passphrases from files: no trailing newline, or it becomes part of the passphrase.
    await fs.writeFile(oldPassphraseFile, server.clientKeyPassphrase, { mode: 0o600 });
    await fs.writeFile(emptyPassphraseFile, '', { mode: 0o600 });
  });

  /** Converts an OpenSSH key file to a PPK file with puttygen and returns the PPK text. */
  async function convert(
    name: string,
    source: string,
    options: { version?: 2 | 3; encrypted: boolean; sourceEncrypted?: boolean },
  ): Promise<string> {
    const out = path.join(dir, `${name}.ppk`);
    const args = [source, '-O', 'private', '-o', out];
    if (options.sourceEncrypted !== false) args.push('--old-passphrase', oldPassphraseFile);
    if (options.version === 2) args.push('--ppk-param', 'version=2');
    // Without --new-passphrase puttygen keeps the source's passphrase; an empty one writes the key unencrypted.
    if (!options.encrypted) args.push('--new-passphrase', emptyPassphraseFile);
    const result = await puttygen(args);
    assert.equal(result.code, 0, `puttygen ${args.join(' ')}: ${result.stderr}`);
    const text = await fs.readFile(out, 'utf8');
    const expectedHeader = `PuTTY-User-Key-File-${options.version ?? 3}: `;
    assert.ok(text.startsWith(expectedHeader), `puttygen wrote ${text.split('\n')[0]}`);
    assert.match(text, options.encrypted ? /^Encryption: aes256-cbc$/m : /^Encryption: none$/m);
    return text;
  }

  async function loginAs(auth: AuthConfig): Promise<string> {
    const pool = new SshPool(endpointFor(server, auth));
    try {
      const result = await collect(await pool.exec('id -un'));
      assert.equal(result.code, 0, result.stderr);
      return result.stdout.trim();
    } finally {
      await pool.close();
    }
  }

  /** Fails with EAUTH before any connection is made, naming user@host:port and never the key or the passphrase. */
  async function refusedLocally(auth: AuthConfig, ppk: string): Promise<Error & { code?: string; host?: string }> {
    const from = server.logs().length;
    const pool = new SshPool(endpointFor(server, auth));
    try {
      const error = (await rejection(pool.exec('id -un'))) as Error & { code?: string; host?: string };
      assert.equal(error.code, 'EAUTH', error.message);
      assert.equal(error.host, `${server.username}@127.0.0.1:${server.port}`);
      assert.equal(pool.stats().connections, 0);
      for (const line of ppk.split('\n').filter((keyLine) => keyLine.length >= 16 && !keyLine.includes(':'))) {
        assert.ok(!error.message.includes(line), 'the message must not contain key material');
      }
      assert.ok(!error.message.includes(server.clientKeyPassphrase), 'the message must not contain the passphrase');
      assert.ok(!server.logs().slice(from).includes('Connection from'), 'no connection may be made');
      return error;
    } finally {
      await pool.close();
    }
  }

  it('logs in with an unencrypted PPK version 2 RSA key', async () => {
    const ppk = await convert('v2-plain', server.clientKeyEncryptedPath, { version: 2, encrypted: false });
    assert.equal(await loginAs({ privateKey: ppk }), server.username);
  });

  it('logs in with an unencrypted PPK version 2 key even when a passphrase is also configured', async () => {
    // ssh2 alone refuses this (it mixes the passphrase into the MAC check); a leftover passphrase must not matter.
    const ppk = await convert('v2-plain-extra', server.clientKeyEncryptedPath, { version: 2, encrypted: false });
    assert.equal(await loginAs({ privateKey: ppk, passphrase: 'left over from another key' }), server.username);
  });

  it('logs in with an encrypted PPK version 2 RSA key and its passphrase', async () => {
    const ppk = await convert('v2-encrypted', server.clientKeyEncryptedPath, { version: 2, encrypted: true });
    assert.equal(await loginAs({ privateKey: ppk, passphrase: server.clientKeyPassphrase }), server.username);
  });

  it('fails with EAUTH naming the passphrase when an encrypted PPK key gets a wrong or no passphrase', async () => {
    const ppk = await convert('v2-wrong', server.clientKeyEncryptedPath, { version: 2, encrypted: true });
    for (const passphrase of ['not-the-passphrase', undefined]) {
      const error = await refusedLocally({ privateKey: ppk, passphrase }, ppk);
      assert.match(error.message, /^the configured private key could not be decrypted: wrong or missing passphrase/);
      assert.ok(!error.message.includes('not-the-passphrase'));
    }
  });

  it('fails with EAUTH saying PPK version 3 is not supported and which formats to export, encrypted or not', async () => {
    const plain = await convert('v3-plain', server.clientKeyEncryptedPath, { encrypted: false });
    const encrypted = await convert('v3-encrypted', server.clientKeyEncryptedPath, { encrypted: true });
    for (const [ppk, passphrase] of [
      [plain, undefined],
      [encrypted, server.clientKeyPassphrase],
    ] as const) {
      const error = await refusedLocally({ privateKey: ppk, passphrase }, ppk);
      assert.match(error.message, /^the configured private key is a PuTTY key in the PPK version 3 format, which is not supported/);
      assert.match(error.message, /export it from PuTTYgen as PPK version 2 .* or in OpenSSH format/);
    }
  });

  it('names the PPK key file and the version 3 problem when the key is read from a path', async () => {
    const ppk = await convert('v3-file', server.clientKeyEncryptedPath, { encrypted: false });
    const file = path.join(dir, 'v3-file.ppk');
    const error = await refusedLocally({ privateKeyPath: file }, ppk);
    assert.ok(error.message.startsWith(`private key file ${file} is a PuTTY key in the PPK version 3 format`), error.message);
  });

  it('fails with EAUTH pointing to OpenSSH format for a PPK version 2 key type ssh2 cannot read (ed25519)', async () => {
    const ppk = await convert('v2-ed25519', server.clientKeyPath, { version: 2, encrypted: false, sourceEncrypted: false });
    assert.ok(ppk.startsWith('PuTTY-User-Key-File-2: ssh-ed25519'));
    const error = await refusedLocally({ privateKey: ppk }, ppk);
    assert.match(error.message, /is a PuTTY ssh-ed25519 key, which is supported only in OpenSSH format/);
  });
});
