/**
 * The conformance table (issue 8): every behaviour row runs over SCP and over SFTP against the real sshd,
 * and both must give the same outcome: the same files with the same contents, modes (and times when
 * preserved), the same result, or the same error code and message (only the transport's name and the
 * rows' own directories are normalised). Each row also states what that outcome must be, so two
 * transports agreeing on something wrong still fail. Where the protocols truly differ the row says why
 * and asserts each side (the help documents it). Rows marked `auto` run a third time with transport 'auto'
 * (small jobs over the kept SFTP session once the server proved SFTP sees the shell's paths): the same
 * outcome as the transport they name, over the transport they say auto picks.
 */
import * as assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import type { ChannelProvider } from '../../src/ssh/types';
import { download, upload, type TransportChoice, type TransportUsed } from '../../src/transfer';
import { type SshdServer, isRoot, makeServerDir, makeTempDir, runAsUser, skipOrFail, startSshd } from '../harness';
import { poolProvider, useSharedPool } from '../transfer/support';
import { DOWNLOAD_ROWS } from './download-rows';
import { type Outcome, type Places, collect } from './outcome';
import { PULL_ROWS } from './pull-rows';
import { type Row, downloadRequest, envFor, failsWith, uploadRequest } from './row';
import { LINK_ROWS } from './link-rows';
import { UPLOAD_ROWS } from './upload-rows';
import { describeRemoteRows } from './remote-rows';
import { killAt } from '../transfer/support';

const TRANSPORTS: TransportUsed[] = ['scp', 'sftp'];

async function runRow(row: Row, transport: TransportChoice, server: SshdServer, channels: () => Promise<ChannelProvider>): Promise<Outcome> {
  const remote = await makeServerDir(server, `conform-${transport}`);
  const local = await makeTempDir(`conform-${transport}`);
  const source = await makeTempDir(`conform-src-${transport}`);
  const env = envFor({ transport, server, channels: await channels(), remote, local, source });
  const places: Places = { remoteAbsolute: remote.absolute, remoteRelative: remote.relative, local, source, transport };
  await row.setup?.(env);
  try {
    const { outcome, view } = await collect(server, places, () => row.act(env), row.times === true);
    await row.restore?.(env);
    const seen = { ...(await view()), ...outcome };
    return row.vary ? row.vary(seen) : seen;
  } finally {
    await row.cleanup?.(env);
  }
}

/** Runs the row on both transports; fails with every difference and every broken expectation at once. */
async function conform(row: Row, server: SshdServer, channels: (transport: TransportChoice) => Promise<ChannelProvider>): Promise<void> {
  const outcomes = {} as Record<TransportUsed, Outcome>;
  for (const transport of TRANSPORTS) outcomes[transport] = await runRow(row, transport, server, () => channels(transport));
  // CONFORM_DUMP=<file>: every row's two outcomes as JSON lines, to read the table whole.
  if (process.env.CONFORM_DUMP) appendFileSync(process.env.CONFORM_DUMP, `${JSON.stringify({ row: row.name, ...outcomes })}\n`);
  const problems: string[] = [];
  const attempt = (what: string, check: () => void): void => {
    try {
      check();
    } catch (error) {
      problems.push(`${what}: ${(error as Error).message}`);
    }
  };
  if (row.protocolDifference) {
    attempt(`the protocols differ (${row.protocolDifference.why})`, () => row.protocolDifference?.check(outcomes.scp, outcomes.sftp));
  } else {
    attempt('SCP (actual) and SFTP (expected) differ', () => assert.deepEqual(outcomes.scp, outcomes.sftp));
    for (const transport of TRANSPORTS) attempt(`${transport} breaks the row's expectation`, () => row.expect(outcomes[transport]));
  }
  let shownAuto = '';
  if (row.auto) {
    const { like, via } = row.auto;
    const { via: used, ...auto } = await runRow(row, 'auto', server, () => channels('auto'));
    shownAuto = `\n--- auto (via ${used ?? 'the error'}):\n${JSON.stringify(auto, null, 2)}`;
    attempt(`auto (actual) and ${like} (expected) differ`, () => assert.deepEqual(eitherTransport(auto), eitherTransport(outcomes[like])));
    if (!auto.error) attempt(`auto moved the data over ${used}, expected ${via}`, () => assert.equal(used, via));
  }
  if (problems.length > 0) {
    const shown = TRANSPORTS.map((transport) => `--- ${transport}:\n${JSON.stringify(outcomes[transport], null, 2)}`).join('\n');
    throw new Error(`${row.name}\n${problems.join('\n\n')}\n${shown}${shownAuto}`);
  }
}

/** Either transport's name as the placeholder (auto's outcome cannot tell which one an error came from). */
function eitherTransport(outcome: Outcome): Outcome {
  return JSON.parse(JSON.stringify(outcome).replace(/\b(?:scp|sftp)\b/gi, '<transport>')) as Outcome;
}

describe('conformance: one behaviour, the same outcome over SCP and SFTP (real sshd)', function () {
  this.timeout(120_000);
  const shared = useSharedPool();

  for (const row of [...UPLOAD_ROWS, ...DOWNLOAD_ROWS, ...LINK_ROWS, ...PULL_ROWS]) {
    if (row.awaits) {
      // Not skipped: proves the row still fails, so the mark goes as soon as the work it awaits lands.
      it(`${row.name} [still wrong, awaits ${row.awaits}]`, async function () {
        const passed = await conform(row, shared.server, async () => shared.channels).then(
          () => true,
          () => false,
        );
        assert.ok(!passed, `the row passes now: remove its "awaits" mark (${row.awaits})`);
      });
      continue;
    }
    it(row.name, async function () {
      if (row.needsRoot && !isRoot()) return skipOrFail(this, 'mounting a small tmpfs needs root');
      await conform(row, shared.server, async () => shared.channels);
    });
  }
});

describe('conformance: the connection is lost mid-transfer (own sshd, killed)', function () {
  this.timeout(180_000);
  let server: SshdServer;
  const pools: { close(): Promise<void> }[] = [];

  before(async function () {
    server = await startSshd();
  });
  afterEach(async () => {
    for (const pool of pools.splice(0)) await pool.close();
  });
  after(async () => server?.stop().catch(() => undefined));

  /** A fresh pool to a running server for each transport (the previous one saw the server die). */
  async function freshPool(): Promise<ChannelProvider> {
    if (!server.isRunning()) await server.restart();
    const pool = poolProvider(server);
    pools.push(pool);
    return pool;
  }

  /** How far the data got before the kill is the kernel's business: a temporary's size and content are not compared. */
  function loose(outcome: Outcome): Outcome {
    const strip = (entry: string): string => (entry.includes('.<tmp>.part\t') ? entry.split(' ').slice(0, 2).join(' ') : entry);
    return { ...outcome, remote: outcome.remote.map(strip), local: outcome.local.map(strip) };
  }

  const rows: Row[] = [
    {
      name: 'upload: connection lost: ECONNRESET, the final name never appears',
      act: (env) =>
        upload(
          env.ctx({ idleTimeoutMs: 3_000, onProgress: killAt(server, 2 * 1024 * 1024) }),
          uploadRequest(env.remote.relative, [{ kind: 'buffer', data: Buffer.alloc(64 * 1024 * 1024, 1), name: 'big.bin' }]),
        ),
      expect: (outcome) => {
        failsWith('ECONNRESET')(outcome);
        assert.ok(!outcome.remote.some((entry) => entry.startsWith('big.bin\t')), outcome.remote.join('\n'));
      },
    },
    {
      name: 'download: connection lost: ECONNRESET, the local directory left empty',
      setup: async (env) => void (await runAsUser(env.server, `head -c 67108864 /dev/zero > '${env.remote.relative}/big.bin'`)),
      act: (env) => download(env.ctx({ idleTimeoutMs: 3_000, onProgress: killAt(server, 2 * 1024 * 1024) }), downloadRequest(env, `${env.remote.relative}/big.bin`)),
      expect: (outcome) => {
        failsWith('ECONNRESET')(outcome);
        assert.deepEqual(outcome.local, []);
      },
    },
  ];

  for (const row of rows) {
    it(row.name, async function () {
      await conform({ ...row, vary: loose }, server, freshPool);
    });
  }
});

describeRemoteRows();
