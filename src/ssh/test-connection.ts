import type { SshEndpoint } from './types';
import type { TransferErrorCode } from '../errors';

export interface ConnectionReport {
  reached: boolean;
  authenticated: boolean;
  serverVersion?: string;
  hostKeyFingerprint?: string;
  hostKeyType?: string;
  hostKeyTrusted?: boolean;
  scp: boolean | null;
  sftp: boolean | null;
  error?: { code: TransferErrorCode; message: string };
}

export interface TestConnectionOptions {
  /** record an untrusted host key's fingerprint instead of stopping; never authenticates then */
  inspectHostKey?: boolean;
}

export function testConnection(_endpoint: SshEndpoint, _options: TestConnectionOptions = {}): Promise<ConnectionReport> {
  return Promise.resolve({ reached: false, authenticated: false, scp: null, sftp: null });
}
