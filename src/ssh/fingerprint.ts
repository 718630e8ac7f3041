import { createHash } from 'node:crypto';

/** "SHA256:<base64 without padding>" of an SSH public key blob, as `ssh-keygen -l` prints it */
export function fingerprintOf(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** A user-typed fingerprint in canonical form: "SHA256:" prefix, no padding, no spaces. */
export function normaliseFingerprint(input: string): string {
  let text = input.replace(/\s+/g, '');
  if (/^sha256:/i.test(text)) text = text.slice('sha256:'.length);
  return `SHA256:${text.replace(/=+$/, '')}`;
}
