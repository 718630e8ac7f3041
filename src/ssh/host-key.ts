/**
 * Host-key policies. The decision is made inside ssh2's `hostVerifier`, i.e. during key exchange and
 * before any authentication request, so a refused server never sees a credential.
 */
import { promises as fs } from 'node:fs';
import { TransferError } from '../errors';
import { fingerprintOf, normaliseFingerprint } from './fingerprint';
import { checkKnownHosts, keyTypeOfBlob } from './known-hosts';
import { checkTofu } from './tofu';
import type { HostKeyPolicy, WarnFunction } from './types';

export interface HostKeyDecision {
  type: string;
  fingerprint: string;
  trusted: boolean;
  /** why it is not trusted */
  error?: TransferError;
  /** a tofu policy met this host for the first time and did not store its key (storeTofu false) */
  unseen?: boolean;
}

export interface HostKeyContext {
  host: string;
  port: number;
  /** warnings (policy "any") go here */
  warn?: WarnFunction;
  /** false: a tofu policy that meets a new host trusts it for this connection without storing it */
  storeTofu?: boolean;
}

export async function decideHostKey(policy: HostKeyPolicy, blob: Buffer, context: HostKeyContext): Promise<HostKeyDecision> {
  const type = keyTypeOfBlob(blob);
  const fingerprint = fingerprintOf(blob);
  const where = `${context.host}:${context.port}`;
  const trusted = (): HostKeyDecision => ({ type, fingerprint, trusted: true });
  const refused = (summary: string, detail?: string): HostKeyDecision => ({
    type,
    fingerprint,
    trusted: false,
    error: new TransferError('EHOSTKEY', summary, { host: where, ...(detail ? { detail } : {}) }),
  });
  const mismatch = (expected: string[], detail?: string): HostKeyDecision =>
    refused(`host key for ${where} does not match: expected ${expected.join(' or ')}, got ${fingerprint}`, detail);

  switch (policy.kind) {
    case 'any':
      context.warn?.(`accepting the host key of ${where} without checking it (${type} ${fingerprint})`, {
        code: 'hostKeyUnchecked',
        values: { host: where, type, fingerprint },
      });
      return trusted();

    case 'fingerprint': {
      const pinned = policy.fingerprints.map((text) => text.trim()).filter(Boolean).map(normaliseFingerprint);
      if (pinned.length === 0) return refused(`no host key fingerprint is configured for ${where} (server offers ${fingerprint})`);
      return pinned.includes(fingerprint) ? trusted() : mismatch(pinned);
    }

    case 'known_hosts': {
      let text: string;
      try {
        text = await fs.readFile(policy.file, 'utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        return refused(`known_hosts file ${policy.file} cannot be read (${code}), so the host key of ${where} cannot be checked`, `server offers ${type} ${fingerprint}`);
      }
      const verdict = checkKnownHosts(text, context.host, context.port, blob);
      switch (verdict.kind) {
        case 'match':
          return trusted();
        case 'revoked':
          return refused(`host key ${fingerprint} of ${where} is marked @revoked in known_hosts file ${policy.file} (line ${verdict.line})`);
        case 'mismatch':
          return mismatch(verdict.expected, `known_hosts file ${policy.file}`);
        case 'ca-only':
          return refused(
            `host ${where} is listed in known_hosts file ${policy.file} only through a @cert-authority line: CA keys are not supported, add the host's own key`,
            `server offers ${type} ${fingerprint}`,
          );
        case 'unknown':
          return refused(`host ${where} is not in known_hosts file ${policy.file}`, `server offers ${type} ${fingerprint}`);
      }
      break;
    }

    case 'tofu': {
      try {
        const verdict = await checkTofu(policy.storeFile, context.host, context.port, { type, fingerprint }, {
          store: context.storeTofu !== false,
          label: where,
        });
        if (verdict.kind === 'mismatch') {
          return mismatch([verdict.record.fingerprint], `first seen ${verdict.record.firstSeen} as ${verdict.record.type}, stored in ${policy.storeFile}`);
        }
        return verdict.kind === 'unknown' ? { ...trusted(), unseen: true } : trusted();
      } catch (error) {
        if (error instanceof TransferError) return { type, fingerprint, trusted: false, error };
        return refused(`trusted host key store ${policy.storeFile} cannot be used`);
      }
    }
  }
  return refused(`unknown host key policy for ${where}`);
}
