import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { makeTempDir } from '../harness';
import { checkTofu } from '../../src/ssh/tofu';

describe('tofu store', () => {
  it('keeps every entry when many hosts are first seen at once, and leaves no temporary file', async () => {
    const dir = await makeTempDir('ssh-tofu');
    const store = path.join(dir, 'hosts.json');
    const verdicts = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        checkTofu(store, `host${i}.example`, 22, { type: 'ssh-ed25519', fingerprint: `SHA256:${i}` }, { store: true, label: `host${i}` }),
      ),
    );
    assert.deepEqual(new Set(verdicts.map((verdict) => verdict.kind)), new Set(['stored']));
    const saved = JSON.parse(await fs.readFile(store, 'utf8')) as Record<string, { fingerprint: string }>;
    assert.equal(Object.keys(saved).length, 10);
    assert.equal(saved['host7.example:22'].fingerprint, 'SHA256:7');
    assert.deepEqual(await fs.readdir(dir), ['hosts.json']);
  });

  it('matches on type as well as fingerprint', async () => {
    const store = path.join(await makeTempDir('ssh-tofu'), 'hosts.json');
    const key = { type: 'ssh-ed25519', fingerprint: 'SHA256:abc' };
    assert.equal((await checkTofu(store, 'h', 2222, key, { store: true, label: 'h' })).kind, 'stored');
    assert.equal((await checkTofu(store, 'H', 2222, key, { store: true, label: 'h' })).kind, 'match');
    assert.equal((await checkTofu(store, 'h', 2222, { ...key, type: 'ssh-rsa' }, { store: true, label: 'h' })).kind, 'mismatch');
    assert.equal((await checkTofu(store, 'h', 22, key, { store: false, label: 'h' })).kind, 'unknown');
  });
});
