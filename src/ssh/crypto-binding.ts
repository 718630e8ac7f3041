/** True when ssh2's native crypto binding loaded (without it every cipher is much slower). */
export function cryptoBindingAvailable(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean };
    return crypto.bindingAvailable === true;
  } catch {
    return false;
  }
}
