import type { SshWarning } from './types';

/** True when ssh2's native crypto binding loaded (without it ssh2 encrypts through Node's crypto per packet). */
export function cryptoBindingAvailable(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean };
    return crypto.bindingAvailable === true;
  } catch {
    return false;
  }
}

/** The installed ssh2's version, '' when it cannot be read. */
export function ssh2Version(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return String((require('ssh2/package.json') as { version?: unknown }).version ?? '');
  } catch {
    return '';
  }
}

/**
 * The warning for a missing binding, naming why. ssh2 1.17's binding cannot compile from Node.js 26 on (V8
 * removed v8::Context::GetIsolate, which it calls), so reinstalling with build tools does not help there;
 * anywhere else a missing binding means the install had no C++ toolchain.
 */
export function bindingMissingWarning(nodeVersion: string, ssh2: string): SshWarning {
  const nodeMajor = Number(nodeVersion.replace(/^v/, '').split('.')[0]);
  if (nodeMajor >= 26 && /^1\.17\./.test(ssh2)) {
    return { code: 'cryptoBindingUnsupported', values: { node: nodeVersion.replace(/^v/, ''), ssh2 } };
  }
  return { code: 'cryptoBindingMissing', values: {} };
}

/**
 * The English of the binding warnings. src/ssh cannot use Node-RED's i18n, so a hook that logs the message as
 * given (tests, bench, a caller outside Node-RED) gets this; the nodes translate the code from their catalogs,
 * whose en-US text this repeats word for word (test/ssh/crypto-binding.test.ts keeps the two equal).
 */
const BINDING_WARNINGS_ENGLISH: Record<string, string> = {
  cryptoBindingMissing: "ssh2's native crypto binding is not available: transfers will be much slower (reinstall ssh2 where python3, make and a C++ compiler are present)",
  cryptoBindingUnsupported:
    "ssh2 __ssh2__'s native crypto binding does not build on Node.js __node__: ssh2 encrypts through Node's own crypto instead, about as fast with AES-GCM (chosen first with OpenSSH), slower with chacha20-poly1305 or AES-CTR. Node.js 24 LTS runs the binding.",
};

/** The warning's English with its values filled in. */
export function bindingWarningEnglish(warning: SshWarning): string {
  return (BINDING_WARNINGS_ENGLISH[warning.code] ?? warning.code).replace(/__(\w+)__/g, (_all, name: string) => warning.values[name] ?? '');
}
