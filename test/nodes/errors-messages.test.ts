/**
 * Every message a Catch node can receive, built with the real en-US catalogs: each code, each reason and
 * each input-error key yields a text with no placeholder or key left in it, that says nothing twice, and
 * that names the host and path when the error knows them.
 */
import assert from 'assert';
import { TRANSFER_ERROR_CODES, TRANSFER_ERROR_REASONS, TransferError } from '../../src/errors';
import { INPUT_ERROR_KEYS, InputError } from '../../src/nodes/input-error';
import { toNodeError } from '../../src/nodes/node-error';
import type { NodeAPI } from '../../src/nodes/red-types';
import { assertReadable, lookUp, translate } from './catalog';

const RED = { _: translate } as unknown as NodeAPI;
const NAMESPACES = ['scp-upload', 'scp-download'] as const;
const HOST = 'pi@device.local:22';
const PATH = '/srv/data/report.csv';

/** Codes whose text is about the host or the node, not a path. */
const WITHOUT_PATH = new Set(['EAUTH', 'EHOSTKEY', 'ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'EPROXY', 'EPROXYAUTH', 'EINVAL']);

describe('nodes: every error message reads well (en-US)', function () {
  for (const namespace of NAMESPACES) {
    describe(namespace, function () {
      for (const code of TRANSFER_ERROR_CODES) {
        it(`${code}: host, path and the engine's words, nothing twice`, function () {
          const error = toNodeError(RED, namespace, new TransferError(code, 'cannot open the remote file', { host: HOST, path: PATH, detail: 'server words' }), {
            host: 'fallback',
            path: 'fallback',
          });
          assert.strictEqual(error.code, code);
          const expected = code === 'EABORTED' ? [PATH] : ['cannot open the remote file: server words'];
          if (!WITHOUT_PATH.has(code)) expected.push(PATH);
          if (code !== 'EINVAL') expected.push(HOST);
          assertReadable(error.message, expected);
        });
      }

      for (const reason of TRANSFER_ERROR_REASONS) {
        it(`reason ${reason}: its own text, with the path`, function () {
          const error = toNodeError(RED, namespace, new TransferError('EINVAL', 'the step', { host: HOST, path: PATH, reason }), { host: '', path: '' });
          assert.strictEqual(error.code, 'EINVAL');
          assert.ok(lookUp(`${namespace}.errors.${reason}`), 'the reason has a text');
          assertReadable(error.message, [PATH]);
        });
      }

      for (const key of INPUT_ERROR_KEYS) {
        const text = lookUp(`${namespace}.errors.${key}`);
        if (text === undefined) continue; // (a key the other node uses; the catalog-keys test checks the use)
        it(`input error ${key}: the catalog text and the value given, never the summary again`, function () {
          const error = toNodeError(RED, namespace, new InputError(key, 'the summary in english', { detail: 'VALUE' }), { host: HOST, path: '' });
          assert.strictEqual(error.code, 'EINVAL');
          assert.ok(!error.message.includes('the summary in english'), error.message);
          assertReadable(error.message, text.includes('__detail__') ? ['VALUE'] : []);
        });
      }
    });
  }

  it('a system error that escaped the engine unwrapped gets its situation\'s code, not EPROTO or EACCES', function () {
    const emfile = Object.assign(new Error("EMFILE: too many open files, open '/x'"), { code: 'EMFILE' });
    const error = toNodeError(RED, 'scp-upload', emfile, { host: HOST, path: PATH });
    assert.strictEqual(error.code, 'EIO');
    assertReadable(error.message, ['too many open files', PATH, HOST]);
    assert.ok(!/permission denied/i.test(error.message));
  });
});
