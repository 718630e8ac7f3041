/**
 * The sweep of old resumable parts (src/transfer/link/resume/sweep-parts.ts) must not remove a part a running
 * job holds (found or being written), however old its mark: a slow job's part is not an orphan. Once the job
 * releases it, the same sweep removes it. Local parts only (the remote side goes through the same filter).
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { FileLeftoverJournal } from '../../src/transfer';
import { localTempName } from '../../src/transfer/leftovers/temp-name';
import type { Job } from '../../src/transfer/job/job';
import { findPart, keepPart, releaseParts, resumeKey } from '../../src/transfer/link/resume/kept-parts';
import { sweepOldParts } from '../../src/transfer/link/resume/sweep-parts';
import { makeTempDir } from '../harness';

describe('transfer: the sweep of old parts leaves held ones alone', () => {
  let local: string;
  before(async () => {
    local = await makeTempDir('link-resume-sweep');
  });
  after(async () => {
    if (local) await fs.rm(local, { recursive: true, force: true });
  });

  // Just what the part functions read of a job: its journal, resume age and host.
  const jobWith = (journal: FileLeftoverJournal): Job => ({ ctx: { leftovers: journal }, link: { resumeMaxAgeMs: 60_000 }, host: 'sweep.test' }) as unknown as Job;
  const noRemote = async (): Promise<never[]> => [];

  for (const how of ['found', 'kept'] as const) {
    it(`a part ${how} by a running job stays; once released, the sweep removes it`, async () => {
      const journal = new FileLeftoverJournal(join(local, `journal-${how}`));
      const partPath = join(local, localTempName(`file-${how}`));
      await fs.writeFile(partPath, 'half of it');
      const key = resumeKey('download', 'sweep.test', `/remote/${how}`, partPath);
      // An hour old: older than the 60 s resume age of every job here.
      await journal.record([{ path: Buffer.from(partPath), kind: 'part', part: { key, side: 'local', size: 20, mtime: 1, since: Date.now() - 3_600_000 } }]);
      const writer = jobWith(journal);
      if (how === 'found') assert.ok(await findPart(writer, key), 'the part is found');
      else {
        await keepPart(writer, Buffer.from(partPath), { key, side: 'local', size: 20, mtime: 1 });
        // The mark was renewed by keepPart; age it again, as a try that has run for over an hour would be.
        await journal.record([{ path: Buffer.from(partPath), kind: 'part', part: { key, side: 'local', size: 20, mtime: 1, since: Date.now() - 3_600_000 } }]);
      }
      await sweepOldParts(jobWith(journal), noRemote);
      assert.equal(await fs.readFile(partPath, 'utf8'), 'half of it', 'the held part is still there');
      assert.equal((await journal.parts()).length, 1, 'and still recorded');
      releaseParts(writer);
      await sweepOldParts(jobWith(journal), noRemote);
      await assert.rejects(fs.stat(partPath), 'the released old part is removed');
      assert.equal((await journal.parts()).length, 0, 'and forgotten');
    });
  }

  it('keepPart renews the age of the part on each try', async () => {
    const journal = new FileLeftoverJournal(join(local, 'journal-renew'));
    const partPath = join(local, localTempName('renew'));
    const key = resumeKey('download', 'sweep.test', '/remote/renew', partPath);
    await journal.record([{ path: Buffer.from(partPath), kind: 'part', part: { key, side: 'local', size: 20, mtime: 1, since: 1 } }]);
    const job = jobWith(journal);
    const before = Date.now();
    await keepPart(job, Buffer.from(partPath), { key, side: 'local', size: 20, mtime: 1 });
    releaseParts(job);
    const [part] = await journal.parts();
    assert.ok((part?.part?.since ?? 0) >= before, `since ${String(part?.part?.since)} renewed`);
  });
});
