/**
 * The pure parts of the remote toolbox: `ls -l` mode strings of the fallback into st_mode bits (setuid,
 * setgid, sticky, with and without execute), the list filter (glob dialect, types, minimum age with an
 * unknown time) and the sort (ties keep name order either way; limit), and hostile numbers refused.
 */
import * as assert from 'node:assert/strict';
import { TransferError } from '../../src/errors';
import { entryFilter, makeEntry, sortAndLimit } from '../../src/remote/entries';
import { modeOfPermissionString } from '../../src/remote/shell-remote';
import { remote, MAX_ENTRIES_CAP, type ListOptions, type RemoteEntry } from '../../src/remote';
import { InputError } from '../../src/nodes/input-error';
import { remoteRequestOf } from '../../src/nodes/remote-input';
import type { ChannelProvider } from '../../src/ssh/types';
import { forgetTransport, knowsTransport, learnTransport } from '../../src/transfer';

const BASE: ListOptions = { recursive: false, maxDepth: 1, maxEntries: 100 };

function entry(name: string, size: number, mtime: number | null, type: RemoteEntry['type'] = 'file'): RemoteEntry {
  return { name, path: `d/${name}`, type, size, mode: 0o644, mtime };
}

describe('remote toolbox: pure parts', () => {
  it('reads ls mode strings with special bits, and refuses what is not one', () => {
    assert.equal(modeOfPermissionString('-rw-r-----'), 0o100640);
    assert.equal(modeOfPermissionString('drwsr-sr-t'), 0o040000 | 0o7755);
    assert.equal(modeOfPermissionString('-rwSr-Sr-T'), 0o100000 | 0o7644);
    assert.equal(modeOfPermissionString('lrwxrwxrwx'), 0o120777);
    assert.equal(modeOfPermissionString('crw-rw-rw-.'), 0o020666);
    assert.equal(modeOfPermissionString('prw-r--r--+'), 0o010644);
    for (const junk of ['', 'total 12', 'xrw-r--r--', '-rwxrwxrw']) assert.equal(modeOfPermissionString(junk), undefined, junk);
  });

  it('filters by the glob dialect, type and minimum age (an unknown time is never old enough)', () => {
    const now = 1_700_000_000;
    const entries = [entry('a.csv', 1, now - 100), entry('b.csv', 1, now - 10), entry('c.txt', 1, now - 100), entry('d.csv', 1, null), entry('e.csv', 0, now - 100, 'directory')];
    const keep = entryFilter({ ...BASE, pattern: '[a-d].csv', types: ['file'], minAgeSeconds: 60 }, 'h', now);
    assert.deepEqual(entries.filter(keep).map((e) => e.name), ['a.csv']);
    assert.throws(() => entryFilter({ ...BASE, pattern: '[z-a]' }, 'h', now), (error: TransferError) => error.code === 'EINVAL');
  });

  it('sorts by name, time or size either way (ties in name order), then limits', () => {
    const entries = [entry('b', 2, 5), entry('a', 2, 5), entry('c', 1, null)];
    const names = (options: Partial<ListOptions>): string[] => sortAndLimit(entries, { ...BASE, ...options }).map((e) => e.name as string);
    assert.deepEqual(names({}), ['a', 'b', 'c']);
    assert.deepEqual(names({ sort: { by: 'name', descending: true } }), ['c', 'b', 'a']);
    assert.deepEqual(names({ sort: { by: 'size', descending: true } }), ['a', 'b', 'c']);
    assert.deepEqual(names({ sort: { by: 'mtime', descending: false } }), ['c', 'a', 'b']);
    assert.deepEqual(names({ sort: { by: 'mtime', descending: true }, limit: 1 }), ['a']);
  });

  it('refuses hostile numbers and keeps a name that is not UTF-8 as its bytes', () => {
    const dir = Buffer.from('d');
    const refused = (attrs: { mode: unknown; size: unknown; mtime: unknown }): boolean => {
      try {
        makeEntry(dir, Buffer.from('x'), attrs, 'h');
        return false;
      } catch (error) {
        return (error as TransferError).code === 'EPROTO';
      }
    };
    assert.ok(refused({ mode: 0o100644, size: -1, mtime: 0 }));
    assert.ok(refused({ mode: 0o100644, size: 2 ** 60, mtime: 0 }));
    assert.ok(refused({ mode: 0o100644, size: Number.NaN, mtime: 0 }));
    assert.ok(refused({ mode: 0o100644, size: 1, mtime: 2 ** 32 }));
    assert.ok(refused({ mode: 0o100644, size: 1, mtime: -(2 ** 32) - 1 }));
    // A real file dated before 1970 (stat %Y over the shell): its time, not a refusal.
    assert.equal(makeEntry(dir, Buffer.from('x'), { mode: 0o100644, size: 1, mtime: -86400 }, 'h').entry.mtime, -86400);
    assert.ok(refused({ mode: 0x10000, size: 1, mtime: 0 }));
    const made = makeEntry(dir, Buffer.from([0x66, 0xff]), { mode: 0o100644, size: 1, mtime: null }, 'h');
    assert.ok(Buffer.isBuffer(made.entry.name) && made.entry.name.equals(Buffer.from([0x66, 0xff])));
    assert.equal(made.entry.mtime, null);
  });

  it('sorts an unknown time before every known one, a pre-1970 time too', () => {
    const entries = [entry('old', 1, -86400), entry('unknown', 1, null), entry('new', 1, 5)];
    assert.deepEqual(sortAndLimit(entries, { ...BASE, sort: { by: 'mtime', descending: false } }).map((e) => e.name), ['unknown', 'old', 'new']);
  });

  it('refuses an entry limit past MAX_ENTRIES_CAP: in the node (badListOption) and in the engine (EINVAL)', async () => {
    assert.equal(MAX_ENTRIES_CAP, 1_000_000);
    const request = (maxEntries: number): ReturnType<typeof remoteRequestOf> => remoteRequestOf({ operation: 'list', maxEntries }, {}, 'list', [Buffer.from('d')], undefined);
    assert.deepEqual((request(MAX_ENTRIES_CAP) as { options: ListOptions }).options.maxEntries, MAX_ENTRIES_CAP);
    assert.throws(() => request(MAX_ENTRIES_CAP + 1), (error: InputError) => error instanceof InputError && error.messageKey === 'badListOption' && /at most 1000000/.test(error.message));
    // Refused before any channel is asked for: the provider is never used.
    const never = (): never => assert.fail('no channel for a refused request');
    const channels: ChannelProvider = { label: 'h:22', exec: never, sftp: never };
    await assert.rejects(
      remote({ channels, transport: 'sftp', idleTimeoutMs: 1000 }, { operation: 'list', path: Buffer.from('d'), options: { ...BASE, maxEntries: 5_000_000 } }),
      (error: TransferError) => error.code === 'EINVAL' && /entry limit must be at most 1000000/.test(error.message),
    );
  });

  it('remembers what auto learned in one place for transfers and the toolbox; forgetTransport clears both', () => {
    const never = (): never => assert.fail('unused');
    const channels: ChannelProvider = { label: 'h:22', exec: never, sftp: never };
    learnTransport(channels, 'noScp');
    learnTransport(channels, 'noSftp');
    assert.ok(knowsTransport(channels, 'noScp') && knowsTransport(channels, 'noSftp'));
    forgetTransport(channels);
    assert.ok(!knowsTransport(channels, 'noScp') && !knowsTransport(channels, 'noSftp'));
  });
});
