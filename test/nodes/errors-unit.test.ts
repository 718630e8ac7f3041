/** How an engine error becomes what a Catch node sees, with a translator that really interpolates. */
import assert from 'assert';
import { TransferError } from '../../src/errors';
import { InputError } from '../../src/nodes/input-error';
import { toNodeError } from '../../src/nodes/node-error';
import { formatBytes, transferStatusText } from '../../src/nodes/progress';
import type { NodeAPI } from '../../src/nodes/red-types';

const catalog: Record<string, string> = {
  'scp-upload.errors.ENOENT': 'Not found on __host__: __path__ (__detail__)',
  'scp-upload.errors.EPROTO': 'Protocol error with __host__: __path__ (__detail__)',
  'scp-upload.errors.noRemotePath': 'The remote path is empty',
};
const RED = {
  _: (key: string, values: Record<string, unknown> = {}) =>
    (catalog[key] ?? key).replace(/__(\w+)__/g, (_all, name: string) => String(values[name] ?? '')),
} as unknown as NodeAPI;

describe('nodes: errors for Catch nodes', function () {
  it('translates with host, path and the engine summary, and keeps the code as an own property', function () {
    const error = toNodeError(RED, 'scp-upload', new TransferError('ENOENT', 'no such file', { host: 'u@h:22', path: '/x', detail: 'scp: /x: No such file' }), {
      host: 'fallback',
      path: 'fallback',
    });
    assert.strictEqual(error.message, 'Not found on u@h:22: /x (no such file: scp: /x: No such file)');
    assert.strictEqual(error.code, 'ENOENT');
    assert.ok(Object.prototype.hasOwnProperty.call(error, 'code'), 'Node-RED copies only an own `code`');
  });

  it('fills host and path from the context when the engine did not know them', function () {
    const error = toNodeError(RED, 'scp-upload', new TransferError('ENOENT', 'gone'), { host: 'u@h:22', path: '/y' });
    assert.strictEqual(error.message, 'Not found on u@h:22: /y (gone)');
  });

  it('input errors use their own key; unknown errors become EPROTO with cleaned text', function () {
    assert.strictEqual(toNodeError(RED, 'scp-upload', new InputError('noRemotePath', 'empty'), { host: 'h', path: '' }).message, 'The remote path is empty');
    const odd = toNodeError(RED, 'scp-upload', new Error('bad\u001b[31m thing'), { host: 'h', path: '/p' });
    assert.strictEqual(odd.code, 'EPROTO');
    assert.strictEqual(odd.message, 'Protocol error with h: /p (bad\\x1b[31m thing)');
  });

  it('formats sizes for the status in binary units, like the MiB of the size limit', function () {
    assert.strictEqual(formatBytes(0), '0 B');
    assert.strictEqual(formatBytes(1023), '1023 B');
    assert.strictEqual(formatBytes(1536), '1.5 KiB');
    assert.strictEqual(formatBytes(52_428_800), '50 MiB');
    assert.strictEqual(formatBytes(210 * 1024 * 1024), '210 MiB');
    assert.strictEqual(formatBytes(3 * 1024 ** 3), '3.0 GiB');
  });

  it('shows percent and rate while transferring, starting with a digit so the editor does not look it up', function () {
    assert.strictEqual(transferStatusText(42, 85 * 1024 * 1024), '42% · 85 MiB/s');
    assert.strictEqual(transferStatusText(0, 0), '0%');
  });
});
