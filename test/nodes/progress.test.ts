/**
 * What the progress output and the status say about a transfer: the total from the first message of an
 * upload, a skipped file counted as done (not as `total: 0`), remote paths shown as the message gave them
 * (`name.bin`, not `./name.bin`), and status texts that the editor can translate (catalog keys) or show as
 * they are (numbers: `42% · 85 MiB/s`, `✓ 3.0 MiB`).
 */
import assert from 'assert';
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { makeTempDir, runAsUser, sharedSshd, type SshdServer } from '../harness';
import { connectionDef, downloadDef, helper, loadFlow, resultOf, send, uploadDef, useNodeRed, type Msg } from './support';

type Status = { fill?: string; shape?: string; text?: string };
type Progress = Record<string, unknown>;

const SIZE = 3 * 1024 * 1024;

function payloads(messages: Msg[]): Progress[] {
  return messages.map((message) => message.payload as Progress);
}

/** Every status text the node set, in order. */
function statusTexts(node: { status: { getCalls(): Array<{ args: unknown[]; thisValue: unknown }> } }): string[] {
  return node.status
    .getCalls()
    .filter((call) => call.thisValue === node)
    .map((call) => String((call.args[0] as Status).text ?? ''));
}

describe('nodes: progress totals, skipped files, paths as given, status texts (real sshd)', function () {
  this.timeout(60_000);
  useNodeRed();

  let server: SshdServer;
  /** a bare name in the test user's home: the one case where the engine joins onto an implied "." */
  let bareName: string;
  let localFile: string;
  let data: Buffer;

  before(async function () {
    server = await sharedSshd();
    bareName = `progress-${crypto.randomBytes(5).toString('hex')}.bin`;
    data = crypto.randomBytes(SIZE);
    localFile = path.join(await makeTempDir('progress-local'), 'big.bin');
    fs.writeFileSync(localFile, data);
  });

  after(async function () {
    await runAsUser(server, `rm -f -- '${bareName}'`);
  });

  it('uploads a local file to a bare name: the first message knows the total, paths show no "./"', async function () {
    await loadFlow([connectionDef(server), uploadDef({ progress: true, outputs: 2 })], { conn: { password: server.password } });
    const outcome = await send('up', { remotePath: bareName, localPath: localFile });
    const result = resultOf(outcome);
    const progress = payloads(outcome.progress);
    assert.ok(progress.length >= 2, `a first and a last progress message (got ${progress.length})`);
    assert.strictEqual(progress[0].total, SIZE, 'the first progress message already knows the total');
    for (const payload of progress) assert.strictEqual(payload.file, bareName, 'the file as the message named it');
    const last = progress[progress.length - 1];
    assert.deepStrictEqual(
      { bytes: last.bytes, total: last.total, percent: last.percent, fileBytes: last.fileBytes, skipped: last.skipped },
      { bytes: SIZE, total: SIZE, percent: 100, fileBytes: SIZE, skipped: 0 },
    );
    const files = (result.scp as { files: Array<{ remotePath: string; transferred: boolean }> }).files;
    assert.deepStrictEqual(files.map((file) => [file.remotePath, file.transferred]), [[bareName, true]]);
    const size = await runAsUser(server, `wc -c < '${bareName}'`);
    assert.strictEqual(Number(size.stdout.toString().trim()), SIZE);
  });

  it('a file skipped because it exists counts as done: its size is the total, nothing copied, skipped 1', async function () {
    await loadFlow([connectionDef(server), uploadDef({ progress: true, outputs: 2, overwrite: 'skip' })], { conn: { password: server.password } });
    const outcome = await send('up', { remotePath: bareName, localPath: localFile });
    resultOf(outcome);
    const last = payloads(outcome.progress).pop();
    assert.ok(last, 'a last progress message');
    assert.deepStrictEqual(
      { file: last.file, bytes: last.bytes, total: last.total, percent: last.percent, fileBytes: last.fileBytes, fileSize: last.fileSize, skipped: last.skipped },
      { file: bareName, bytes: 0, total: SIZE, percent: 100, fileBytes: 0, fileSize: SIZE, skipped: 1 },
    );
  });

  it('downloads a bare name: progress and result show it as given', async function () {
    await loadFlow([connectionDef(server), downloadDef({ progress: true, outputs: 2 })], { conn: { password: server.password } });
    const outcome = await send('down', { remotePath: bareName });
    const result = resultOf(outcome);
    assert.ok(Buffer.isBuffer(result.payload) && (result.payload as Buffer).equals(data), 'the content came back');
    for (const payload of payloads(outcome.progress)) assert.strictEqual(payload.file, bareName);
    const files = (result.scp as { files: Array<{ remotePath: string }> }).files;
    assert.deepStrictEqual(files.map((file) => file.remotePath), [bareName]);
  });

  it('status texts: words are catalog keys for the editor to translate, numbers are shown as they are', async function () {
    await loadFlow([connectionDef(server), uploadDef({ progress: true, outputs: 2 })], { conn: { password: server.password } });
    const up = helper.getNode('up');
    resultOf(await send('up', { remotePath: bareName, localPath: localFile }));
    const texts = statusTexts(up).filter(Boolean);
    assert.strictEqual(texts[0], 'scp-upload.status.connecting');
    assert.strictEqual(texts[texts.length - 1], '✓ 3.0 MiB');
    for (const text of texts) {
      // The editor looks a text that starts with a letter up in the node's catalog: it must be a key there.
      if (/^[@a-zA-Z]/.test(text)) assert.match(text, /^scp-upload\.status\.(connecting|keyUnverified)$/);
      else assert.match(text, /^(\d{1,3}%( · \d+(\.\d)? (B|KiB|MiB|GiB)\/s)?|✓ .+)$/, text);
    }
  });
});
