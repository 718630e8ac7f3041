/**
 * Kept parts in the leftover journal file (kind 'part', resume): they survive a reload with their mark, are
 * never handed to the sweep as orphans, are forgotten like any name, and a part line without a valid mark
 * (or naming something that is not our temporary name) is refused on load.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { FileLeftoverJournal, type Leftover } from '../../src/transfer';
import { makeTempDir } from '../harness';

const MARK = { key: 'a'.repeat(64), side: 'remote' as const, size: 1000, mtime: 1600000000000, since: 1700000000000 };

describe('leftover journal: kept parts (resume)', () => {
  it('keeps a part with its mark across a reload, never as an orphan, and forgets it', async () => {
    const dir = await makeTempDir('journal-parts');
    const file = join(dir, 'journal');
    const part: Leftover = { path: Buffer.from('dir/.f.bin.scp-0123456789abcdef.part'), kind: 'part', part: MARK };
    const temporary: Leftover = { path: Buffer.from('dir/.g.bin.scp-fedcba9876543210.part'), kind: 'file' };
    const first = new FileLeftoverJournal(file);
    await first.record([part, temporary]);
    first.release([part, temporary]);
    const reloaded = new FileLeftoverJournal(file);
    assert.deepEqual((await reloaded.parts()).map((item) => [item.path.toString(), item.part]), [[part.path.toString(), MARK]]);
    assert.deepEqual((await reloaded.takeOrphans()).map((item) => item.kind), ['file']);
    await reloaded.forget([part]);
    assert.deepEqual(await new FileLeftoverJournal(file).parts(), []);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('refuses a part line without a valid mark, or not naming our temporary name', async () => {
    const dir = await makeTempDir('journal-parts-bad');
    const file = join(dir, 'journal');
    const b64 = (text: string): string => Buffer.from(text).toString('base64');
    const good = b64('.f.scp-0123456789abcdef.part');
    await fs.writeFile(
      file,
      [
        'scp-leftovers 2',
        `+part ${good}`,
        `+part ${good} ${b64(JSON.stringify({ ...MARK, key: 'short' }))}`,
        `+part ${b64('/etc/passwd')} ${b64(JSON.stringify(MARK))}`,
        `+part ${b64('.h.scp-0123456789abcdef.part')} ${b64(JSON.stringify(MARK))}`,
        '',
      ].join('\n'),
    );
    const logged: string[] = [];
    const journal = new FileLeftoverJournal(file, (text) => logged.push(text));
    assert.deepEqual((await journal.parts()).map((item) => item.path.toString()), ['.h.scp-0123456789abcdef.part']);
    assert.match(logged.join('\n'), /3 entries/u);
    await fs.rm(dir, { recursive: true, force: true });
  });
});
