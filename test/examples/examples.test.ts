/**
 * Every example flow of examples/ (what a user imports from Menu → Import → Examples), loaded from its
 * file into Node-RED and run end to end against real servers: only the shared connection is pointed at the
 * test sshd and only the per-run values its comment node names (paths, folders, the device list) are
 * rewritten. Each run asserts on the real effect: files on the server or here, with their contents, and the
 * messages the debug nodes show. A new example is one JSON file and one row in RUNS.
 */
import assert from 'assert';
import crypto from 'crypto';
import fs from 'fs';
import http from 'http';
import path from 'path';
import { generateTestKey, makeServerDir, makeTempDir, runAsUser, sharedSshd, type SshdServer } from '../harness';
import { freePort } from '../support/node-red-process';
import { helper, useNodeRed } from '../support/red';
import {
  coreRegisters,
  exampleFiles,
  httpNodeAppOfFlow,
  modulesFor,
  named,
  PACKAGE_TYPES,
  pointAt,
  prepareFleet,
  readExample,
  rewrite,
  SHARED_CONNECTION,
  type Flow,
} from './support';

type Msg = Record<string, unknown>;

/** The messages that reach the node called `name`, from now on, and a way to wait for the first `count`. */
interface Seen {
  messages: Msg[];
  wait(count?: number): Promise<Msg[]>;
}

function watchNode(flow: Flow, name: string): Seen {
  const messages: Msg[] = [];
  const waiting: Array<{ count: number; resolve: (messages: Msg[]) => void }> = [];
  helper.getNode(named(flow, name).id).on('input', (msg: Msg) => {
    messages.push(msg);
    for (const waiter of waiting.filter((entry) => messages.length >= entry.count)) waiter.resolve(messages.slice());
  });
  return {
    messages,
    wait: (count = 1) =>
      new Promise((resolve) => {
        if (messages.length >= count) resolve(messages.slice());
        else waiting.push({ count, resolve });
      }),
  };
}

/** The status objects the node called `name` shows, from now on. */
function statusesOf(flow: Flow, name: string): Array<{ text?: string; fill?: string }> {
  const statuses: Array<{ text?: string; fill?: string }> = [];
  helper.getNode(named(flow, name).id).on('call:status', (call: { args: unknown[] }) => statuses.push(call.args[0] as { text?: string }));
  return statuses;
}

/**
 * Waits until the watch node called `name` reports changes in `dir`: its watcher starts asynchronously (the
 * first one in a process first probes the platform). Folders made as probes are not files: the example's
 * switch drops them.
 */
async function watching(flow: Flow, name: string, dir: string): Promise<void> {
  const node = helper.getNode(named(flow, name).id);
  let seen = false;
  node.on('call:send', () => (seen = true));
  for (let probe = 0; probe < 40 && !seen; probe++) {
    fs.mkdirSync(path.join(dir, `probe-${probe}`));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!seen) throw new Error(`the watch node "${name}" reported nothing from ${dir} in 10 s`);
}

async function load(flow: Flow, credentials: Record<string, string>): Promise<void> {
  await helper.load(modulesFor(flow), flow, { [SHARED_CONNECTION.id]: credentials });
}

function clicked(flow: Flow, injectName: string): void {
  helper.getNode(named(flow, injectName).id).receive({});
}

/**
 * Loads the flow, clicks the inject node `injectName` and waits for the first message at the debug node
 * `debugName`; `errors` holds what the flow's "error" debug node received, `watched` what the nodes named in
 * `alsoWatched` received (watched from before the click).
 */
async function firstMessageAfterClick(
  flow: Flow,
  credentials: Record<string, string>,
  injectName: string,
  debugName: string,
  alsoWatched: string[] = [],
): Promise<{ msg: Msg; errors: Seen; watched: Seen[] }> {
  await load(flow, credentials);
  const debug = watchNode(flow, debugName);
  const watched = alsoWatched.map((name) => watchNode(flow, name));
  const errors = watchNode(flow, 'error');
  clicked(flow, injectName);
  const [msg] = await debug.wait();
  return { msg, errors, watched };
}

async function onServer(server: SshdServer, command: string): Promise<string> {
  const result = await runAsUser(server, command);
  assert.strictEqual(result.code, 0, `${command}: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

/** A fresh directory on the server (`prefix` names it) in which `command` has run, as the server's user. */
async function serverDirWith(server: SshdServer, prefix: string, command: string): Promise<{ relative: string; absolute: string }> {
  const dir = await makeServerDir(server, prefix);
  await onServer(server, `cd '${dir.absolute}' && ${command}`);
  return dir;
}

/** One multipart POST with a file field (or only a text field), as a browser form or curl -F sends it. */
async function postFile(app: unknown, url: string, file?: { name: string; content: Buffer }): Promise<{ status: number; body: unknown }> {
  const server = http.createServer(app as http.RequestListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as { port: number }).port;
    const form = new FormData();
    if (file) form.append('file', new Blob([file.content]), file.name);
    else form.append('note', 'no file');
    const response = await fetch(`http://127.0.0.1:${port}${url}`, { method: 'POST', body: form });
    return { status: response.status, body: await response.json() };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

interface RunContext {
  server: SshdServer;
  flow: Flow;
  credentials: Record<string, string>;
}

/** One row per example file: how a test runs it. */
const RUNS: Record<string, { it: string; run(ctx: RunContext): Promise<void> }> = {
  'Upload and download a payload.json': {
    it: 'the text goes to the remote file and comes back into the debug node',
    async run({ server, flow, credentials }) {
      const dir = await makeServerDir(server, 'example-roundtrip');
      const remoteFile = `${dir.absolute}/example.txt`;
      rewrite(flow, 'some text', 'remotePath', remoteFile);
      const { msg, errors } = await firstMessageAfterClick(flow, credentials, 'some text', 'downloaded');
      assert.strictEqual(msg.payload, 'Hello from Node-RED');
      assert.strictEqual(await onServer(server, `cat '${remoteFile}'`), 'Hello from Node-RED');
      assert.deepStrictEqual(errors.messages, []);
    },
  },

  'Clean up old files on a device.json': {
    it: 'the logs older than a week are listed and deleted in one message; newer logs and other files stay',
    async run({ server, flow, credentials }) {
      const dir = await serverDirWith(server, 'example-clean-up', 'printf 1 > old1.log && printf 2 > old2.log && printf 3 > new.log && printf 4 > old.txt && touch -d @1600000000 old1.log old.txt && touch -d @1600000100 old2.log');
      assert.strictEqual(named(flow, 'every day').repeat, '86400', 'the schedule is daily');
      rewrite(flow, 'every day', 'remotePath', dir.absolute);
      const { msg: list, errors, watched: [deleted] } = await firstMessageAfterClick(flow, credentials, 'every day', 'old logs', ['deleted']);
      assert.deepStrictEqual(
        (list.payload as Array<{ name: string; mtime: number }>).map((entry) => [entry.name, entry.mtime]),
        [
          ['old1.log', 1600000000],
          ['old2.log', 1600000100],
        ],
      );
      const [done] = await deleted.wait();
      assert.deepStrictEqual(done.payload, [
        { path: `${dir.absolute}/old1.log`, done: 'deleted' },
        { path: `${dir.absolute}/old2.log`, done: 'deleted' },
      ]);
      assert.strictEqual(await onServer(server, `ls -A '${dir.absolute}' | sort`), 'new.log\nold.txt\n');
      assert.deepStrictEqual(errors.messages, []);
    },
  },

  'Pull logs on a schedule.json': {
    it: 'every hour the remote *.log files land in the local folder (other files stay)',
    async run({ server, flow, credentials }) {
      const dir = await makeServerDir(server, 'example-logs');
      await onServer(server, `cd '${dir.absolute}' && printf 'one\\n' > a.log && printf 'two\\n' > b.log && printf 'not a log' > c.txt`);
      const local = await makeTempDir('example-logs-local');
      assert.strictEqual(named(flow, 'every hour').repeat, '3600', 'the schedule is hourly');
      rewrite(flow, 'every hour', 'remotePath', `${dir.absolute}/*.log`);
      rewrite(flow, 'every hour', 'localPath', local);
      await load(flow, credentials);
      const pulled = watchNode(flow, 'files pulled');
      clicked(flow, 'every hour');
      const [msg] = await pulled.wait();
      const files = (msg.scp as { files: Array<{ localPath: string }> }).files.map((file) => file.localPath).sort();
      assert.deepStrictEqual(files, [path.join(local, 'a.log'), path.join(local, 'b.log')]);
      assert.deepStrictEqual(fs.readdirSync(local).sort(), ['a.log', 'b.log']);
      assert.strictEqual(fs.readFileSync(path.join(local, 'a.log'), 'utf8'), 'one\n');
      assert.strictEqual(fs.readFileSync(path.join(local, 'b.log'), 'utf8'), 'two\n');
    },
  },

  'Scheduled pull that deletes what it fetched.json': {
    it: 'the matching files arrive in the folder (created) and are deleted on the server; the others stay',
    async run({ server, flow, credentials }) {
      // a.csv and b.csv are old; c.csv was written just now, so "Minimum age" (60 s) leaves it for a later pull.
      const dir = await serverDirWith(server, 'example-pull-delete', "printf 'a,1\\n' > a.csv && printf 'b,2\\n' > b.csv && touch -d @1600000000 a.csv b.csv && printf 'c,3\\n' > c.csv && printf open > partial.tmp");
      const local = path.join(await makeTempDir('example-pull-delete-local'), 'new-folder');
      assert.strictEqual(named(flow, 'every 15 minutes').repeat, '900', 'the schedule is every 15 minutes');
      rewrite(flow, 'every 15 minutes', 'remotePath', `${dir.absolute}/*.csv`);
      rewrite(flow, 'every 15 minutes', 'localPath', local);
      const { msg, errors } = await firstMessageAfterClick(flow, credentials, 'every 15 minutes', 'pulled and deleted');
      const files = (msg.scp as { files: Array<{ remotePath: string; removed?: boolean; skipped?: string }> }).files;
      assert.deepStrictEqual(
        files.map((file) => [file.remotePath, file.removed, file.skipped]),
        [
          [`${dir.absolute}/a.csv`, true, undefined],
          [`${dir.absolute}/b.csv`, true, undefined],
          [`${dir.absolute}/c.csv`, undefined, 'minimumAge'],
        ],
      );
      assert.deepStrictEqual(fs.readdirSync(local).sort(), ['a.csv', 'b.csv']);
      assert.strictEqual(fs.readFileSync(path.join(local, 'b.csv'), 'utf8'), 'b,2\n');
      assert.strictEqual(await onServer(server, `ls -A '${dir.absolute}'`), 'c.csv\npartial.tmp\n');
      assert.deepStrictEqual(errors.messages, []);
    },
  },

  'Only new files into a folder.json': {
    it: 'unchanged logs are skipped, a log that grew is fetched again, and the record outlives an emptied folder',
    async run({ server, flow, credentials }) {
      const dir = await makeServerDir(server, 'example-only-new');
      await onServer(server, `cd '${dir.absolute}' && printf 'one\\n' > app.log && printf 'x\\n' > other.log`);
      const local = path.join(await makeTempDir('example-only-new-local'), 'logs');
      rewrite(flow, 'every 5 minutes', 'remotePath', `${dir.absolute}/*.log`);
      rewrite(flow, 'every 5 minutes', 'localPath', local);
      await load(flow, credentials);
      const pulled = watchNode(flow, 'new or changed');
      const counts = async (count: number): Promise<number[]> => {
        clicked(flow, 'every 5 minutes');
        const scp = (await pulled.wait(count))[count - 1].scp as { fetched: number; skipped: number };
        return [scp.fetched, scp.skipped];
      };
      assert.deepStrictEqual(await counts(1), [2, 0]);
      assert.deepStrictEqual(await counts(2), [0, 2]);
      await onServer(server, `printf 'two\\n' >> '${dir.absolute}/app.log'`);
      assert.deepStrictEqual(await counts(3), [1, 1]);
      assert.strictEqual(fs.readFileSync(path.join(local, 'app.log'), 'utf8'), 'one\ntwo\n');
      // A later node empties the folder: the record of earlier pulls still knows both logs.
      fs.rmSync(local, { recursive: true });
      assert.deepStrictEqual(await counts(4), [0, 2]);
    },
  },

  'Push a file when it appears in a folder.json': {
    it: 'a file moved into the watched folder is copied, complete, into the remote folder',
    async run({ server, flow, credentials }) {
      const dir = await makeServerDir(server, 'example-inbox');
      const outbox = await makeTempDir('example-outbox');
      const staging = await makeTempDir('example-staging');
      rewrite(flow, 'local folder', 'files', outbox);
      rewrite(flow, 'remote folder', 'remotePath', `${dir.absolute}/`);
      await load(flow, credentials);
      await watching(flow, 'local folder', outbox);
      const pushed = watchNode(flow, 'pushed');
      const content = crypto.randomBytes(64 * 1024);
      fs.writeFileSync(path.join(staging, 'report.bin'), content);
      fs.renameSync(path.join(staging, 'report.bin'), path.join(outbox, 'report.bin'));
      const [msg] = await pushed.wait();
      const files = (msg.scp as { files: Array<{ remotePath: string; size: number }> }).files;
      assert.deepStrictEqual(
        files.map((file) => [file.remotePath, file.size]),
        [[`${dir.absolute}/report.bin`, content.length]],
      );
      const sha = (await onServer(server, `sha256sum '${dir.absolute}/report.bin'`)).split(' ')[0];
      assert.strictEqual(sha, crypto.createHash('sha256').update(content).digest('hex'));
    },
  },

  'Forward an HTTP upload to a server.json': {
    it: 'a file POSTed as a form goes on to the remote folder under its name (201); a failed copy answers 502 with the code',
    async run({ server, flow, credentials }) {
      const dir = await makeServerDir(server, 'example-uploads');
      rewrite(flow, 'remote folder', 'remotePath', `${dir.absolute}/`);
      await load(flow, credentials);
      const content = crypto.randomBytes(200 * 1024);
      const answer = await postFile(httpNodeAppOfFlow(), '/scp-upload', { name: 'photo 1.jpg', content });
      assert.deepStrictEqual(answer, { status: 201, body: { stored: `${dir.absolute}/photo 1.jpg`, bytes: content.length } });
      const sha = (await onServer(server, `sha256sum '${dir.absolute}/photo 1.jpg'`)).split(' ')[0];
      assert.strictEqual(sha, crypto.createHash('sha256').update(content).digest('hex'));

      // The remote folder gone: the copy fails, and the client hears why.
      // A form without a file is the client's mistake.
      assert.deepStrictEqual(await postFile(httpNodeAppOfFlow(), '/scp-upload'), { status: 400, body: { error: 'EINVAL' } });
      await onServer(server, `rm '${dir.absolute}/photo 1.jpg' && rmdir '${dir.absolute}'`);
      const failed = await postFile(httpNodeAppOfFlow(), '/scp-upload', { name: 'photo 2.jpg', content });
      assert.deepStrictEqual(failed, { status: 502, body: { error: 'ENOENT' } });
    },
  },

  'Show transfer progress.json': {
    it: 'a large download shows its percent in the node status and the debug node, ending at 100 %, and the file arrives whole',
    async run({ server, flow, credentials }) {
      const dir = await makeServerDir(server, 'example-progress');
      const remoteFile = `${dir.absolute}/big-file.bin`;
      await onServer(server, `head -c 8388608 /dev/urandom > '${remoteFile}'`);
      const localFile = path.join(await makeTempDir('example-progress-local'), 'big-file.bin');
      rewrite(flow, 'big file', 'remotePath', remoteFile);
      rewrite(flow, 'big file', 'localPath', localFile);
      await load(flow, credentials);
      const done = watchNode(flow, 'done');
      const progress = watchNode(flow, 'progress');
      const downloadStatus = statusesOf(flow, 'download');
      const debugStatus = statusesOf(flow, 'progress');
      clicked(flow, 'big file');
      const [msg] = await done.wait();
      assert.strictEqual((msg.scp as { bytes: number }).bytes, 8388608);
      const sha = (await onServer(server, `sha256sum '${remoteFile}'`)).split(' ')[0];
      assert.strictEqual(crypto.createHash('sha256').update(fs.readFileSync(localFile)).digest('hex'), sha);

      const last = progress.messages[progress.messages.length - 1].payload as { percent: number; bytes: number };
      assert.deepStrictEqual([last.percent, last.bytes], [100, 8388608]);
      await new Promise((resolve) => setImmediate(resolve));
      assert.strictEqual(debugStatus[debugStatus.length - 1]?.text, '100', 'the debug node shows the percent under itself');
      assert.match(downloadStatus[downloadStatus.length - 1]?.text ?? '', /✓ 8(\.0)? MiB/, JSON.stringify(downloadStatus));
    },
  },

  'Resumable firmware push with progress.json': {
    it: 'the image goes up verified (its sha256 in the result), with progress to 100 %, from the start when there is no part',
    async run({ server, flow, credentials }) {
      const dir = await makeServerDir(server, 'example-firmware');
      const remoteFile = `${dir.absolute}/firmware.bin`;
      const localFile = path.join(await makeTempDir('example-firmware-local'), 'firmware.bin');
      const image = crypto.randomBytes(6 * 1024 * 1024 + 5);
      fs.writeFileSync(localFile, image);
      const sha = crypto.createHash('sha256').update(image).digest('hex');
      rewrite(flow, 'firmware', 'localPath', localFile);
      rewrite(flow, 'firmware', 'remotePath', remoteFile);
      const { msg, errors, watched: [progress] } = await firstMessageAfterClick(flow, credentials, 'firmware', 'done', ['progress']);
      const scp = msg.scp as { bytes: number; resumedFrom?: number; files: Array<{ sha256?: string }> };
      assert.deepStrictEqual([scp.bytes, scp.resumedFrom, scp.files[0]?.sha256], [image.length, 0, sha]);
      assert.strictEqual((await onServer(server, `sha256sum '${remoteFile}'`)).split(' ')[0], sha);
      assert.strictEqual((await onServer(server, `ls -A '${dir.absolute}'`)).trim(), 'firmware.bin', 'no part is left');
      const last = progress.messages[progress.messages.length - 1].payload as { percent: number };
      assert.strictEqual(last.percent, 100);
      assert.strictEqual(errors.messages.length, 0);
    },
  },

  'Route errors by code.json': {
    it: 'a missing file takes the ENOENT output, a refused key the EAUTH/EHOSTKEY one, a closed port the unreachable one',
    async run({ server, flow, credentials }) {
      const outputs = ['not there', 'login or host key refused', 'server unreachable', 'other error'];
      const cases: Array<[string, string, Record<string, unknown>, Record<string, string>]> = [
        ['ENOENT', 'not there', {}, credentials],
        ['ECONNREFUSED', 'server unreachable', { port: await freePort() }, credentials],
        ['EAUTH', 'login or host key refused', {}, { privateKey: generateTestKey().privateKey }],
      ];
      const dir = await makeServerDir(server, 'example-errors');
      for (const [code, output, connection, caseCredentials] of cases) {
        const caseFlow = structuredClone(flow);
        rewrite(caseFlow, 'a missing file', 'remotePath', `${dir.absolute}/no-such-file.txt`);
        pointAt(caseFlow, server, connection);
        await load(caseFlow, caseCredentials);
        const seen = Object.fromEntries(outputs.map((name) => [name, watchNode(caseFlow, name)]));
        clicked(caseFlow, 'a missing file');
        const [msg] = await seen[output].wait();
        assert.strictEqual((msg.error as { code: string }).code, code);
        await new Promise((resolve) => setImmediate(resolve));
        for (const name of outputs) assert.strictEqual(seen[name].messages.length, name === output ? 1 : 0, `${code}: output "${name}"`);
        await helper.unload();
      }
    },
  },

  'Collect a file from a fleet of devices.json': {
    it: 'a list of devices behind one connection: each file saved under <folder>/<host>-<port>/, one line per device in order, the one down with ECONNREFUSED',
    async run({ flow, credentials }) {
      const fleet = await prepareFleet(flow);
      try {
        await load(flow, credentials);
        const fleetDebug = watchNode(flow, 'fleet');
        clicked(flow, 'devices');
        const [msg] = await fleetDebug.wait();
        assert.deepStrictEqual(msg.payload, fleet.expectedLines);
        for (const [file, content] of fleet.expectedFiles) assert.strictEqual(fs.readFileSync(file, 'utf8'), content, file);
        assert.deepStrictEqual(fs.readdirSync(fleet.local).sort(), fleet.expectedFiles.map(([file]) => path.basename(path.dirname(file))).sort(), 'nothing for the device that is down');
      } finally {
        await helper.unload();
        await fleet.stop();
      }
    },
  },
};

describe('examples: each example flow as a user imports it', function () {
  const files = exampleFiles();
  const flows = new Map(files.map((file) => [file, readExample(file)]));

  it('every example has a test run here, and every run has its example', function () {
    assert.deepStrictEqual(files, Object.keys(RUNS).sort());
  });

  it('all share one connection node (same id, name and settings) that holds no credential; every scp node uses it', function () {
    const shared = flows.get(files[0])?.find((node) => node.type === 'scp-connection');
    assert.ok(shared);
    assert.deepStrictEqual([shared.id, shared.name], [SHARED_CONNECTION.id, SHARED_CONNECTION.name]);
    for (const [file, flow] of flows) {
      const connections = flow.filter((node) => node.type === 'scp-connection');
      assert.deepStrictEqual(connections, [shared], `${file}: the one shared connection, identical`);
      for (const node of flow.filter((entry) => entry.type === 'scp upload' || entry.type === 'scp download')) {
        assert.strictEqual(node.connection, SHARED_CONNECTION.id, `${file}: ${String(node.name)}`);
      }
      const text = fs.readFileSync(path.join(__dirname, '../../../examples', file), 'utf8');
      assert.doesNotMatch(text, /"credentials"|"password"|"passphrase"|"privateKey"|PRIVATE KEY/, `${file} holds a credential`);
      assert.strictEqual(shared.privateKeyPath, '', 'no key path either');
    }
  });

  it('each is one tab of installed node types, ids unique across examples, and explains itself in a comment node', function () {
    const seenIds = new Map<string, string>();
    for (const [file, flow] of flows) {
      const tabs = flow.filter((node) => node.type === 'tab');
      assert.strictEqual(tabs.length, 1, `${file}: one tab`);
      assert.strictEqual(`${String(tabs[0].label)}.json`.length > 5, true);
      for (const node of flow) {
        if (node.type === 'tab' || node.type === 'scp-connection') continue;
        assert.strictEqual(node.z, tabs[0].id, `${file}: ${node.id} is on the example's tab`);
        assert.ok(PACKAGE_TYPES.includes(node.type) || coreRegisters(node.type), `${file}: node type "${node.type}" is not installed`);
        const other = seenIds.get(node.id);
        assert.strictEqual(other, undefined, `${file}: id ${node.id} also in ${String(other)}`);
        seenIds.set(node.id, file);
      }
      const comments = flow.filter((node) => node.type === 'comment');
      assert.ok(comments.length >= 1 && comments.every((node) => String(node.name).length > 0 && String(node.info).length > 0), `${file}: a comment node says what it does`);
    }
  });

  describe('run against the real sshd', function () {
    this.timeout(120_000);
    useNodeRed('examples-userdir');
    let server: SshdServer;
    before(async function () {
      server = await sharedSshd();
    });
    for (const [file, row] of Object.entries(RUNS)) {
      it(`${file.replace(/\.json$/, '')}: ${row.it}`, async function () {
        const flow = readExample(file);
        pointAt(flow, server);
        await row.run({ server, flow, credentials: { privateKey: server.clientKey } });
      });
    }
  });
});
