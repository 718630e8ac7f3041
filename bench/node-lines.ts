/**
 * `npm run bench:lines`: one big download through the package's engine on each Node.js line of the test matrix
 * (the machine's Node and the registry binaries of scripts/node-lines.js), each from the tarball installed for
 * that line, so ssh2's native crypto binding is there where it builds and missing where it does not. Every
 * download runs in a fresh process (bench/line-download-child.ts); contenders are interleaved in rounds.
 * Prints a Markdown table (median wall time, throughput, CPU seconds per GiB) and writes it to bench/results/.
 *
 * BENCH_LINE_MIB (default 512), BENCH_ROUNDS (default 5), BENCH_LINES (e.g. `20,26`: only those majors;
 * default all), BENCH_LINE_CIPHERS (e.g. `aes128-ctr,chacha20-poly1305@openssh.com`: each line once more with
 * only that cipher offered, next to the default order, which negotiates aes128-gcm@openssh.com with OpenSSH).
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeTempDir, runAsUser, serverPath, startSshd, type SshdServer } from '../test/harness';
import { runCleanupsSync } from '../test/harness/cleanup';
import { nodeLine, nodeLineMajors, nodeLinesMissing } from '../test/support/node-lines';
import { installedPackage, PACKAGE_JSON, startInstalls, type Leg } from '../test/package/support';
import { loadAverage, machine } from './proc';
import { median, rotate } from './stats';

const ROOT = resolve(__dirname, '..', '..');
const MIB = 1024 * 1024;

interface Contender {
  label: string;
  node: string;
  dist: string;
  cipher?: import('ssh2').CipherAlgorithm[];
}

interface Sample {
  version: string;
  binding: boolean;
  ms: number;
  cpuMs: number;
}

function runChild(contender: Contender, server: SshdServer, remote: string, local: string): Promise<Sample> {
  const input = {
    dist: contender.dist,
    server: { host: server.host, port: server.port, username: server.username, clientKey: server.clientKey, hostKeyFingerprints: server.hostKeyFingerprints },
    remote,
    local,
    ...(contender.cipher ? { cipher: contender.cipher } : {}),
  };
  const child = join(__dirname, 'line-download-child.js');
  return new Promise((done, fail) => {
    execFile(contender.node, [child, JSON.stringify(input)], { maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`${contender.label}: ${error.message}\n${stderr}`));
      else done(JSON.parse(stdout.trim().split('\n').pop() ?? '') as Sample);
    });
  });
}

async function main(): Promise<void> {
  const bytes = (Number(process.env.BENCH_LINE_MIB) || 512) * MIB;
  const rounds = Number(process.env.BENCH_ROUNDS) || 5;
  const ciphers = (process.env.BENCH_LINE_CIPHERS ?? '').split(',').filter(Boolean) as Array<import('ssh2').CipherAlgorithm>;
  const only = (process.env.BENCH_LINES ?? '').split(',').filter(Boolean).map(Number);
  const loadStart = loadAverage();
  const server = await startSshd();
  const remoteName = 'bench-line.bin';
  await runAsUser(server, `head -c ${bytes} /dev/urandom > ${remoteName}`);
  const remote = serverPath(server, remoteName);
  const missing = nodeLinesMissing();
  if (missing) console.log(`only the machine's Node: ${missing}`);
  const machineMajor = Number(process.versions.node.split('.')[0]);
  const legs: Leg[] = (['machine', ...(missing ? [] : nodeLineMajors())] as Leg[]).filter(
    (leg) => only.length === 0 || only.includes(leg === 'machine' ? machineMajor : leg),
  );
  console.log(`installing ${PACKAGE_JSON.name} from its tarball for ${legs.join(', ')}...`);
  startInstalls(legs);
  const contenders: Contender[] = [];
  for (const leg of legs) {
    const { userDir } = await installedPackage(leg);
    const dist = join(userDir, 'node_modules', ...PACKAGE_JSON.name.split('/'), 'dist');
    const node = leg === 'machine' ? process.execPath : (nodeLine(leg)?.node ?? '');
    const label = `Node ${leg === 'machine' ? machineMajor : leg}`;
    contenders.push({ label, node, dist });
    for (const cipher of ciphers) contenders.push({ label: `${label}, ${cipher}`, node, dist, cipher: [cipher] });
  }
  const local = join(await makeTempDir('bench-lines'), 'download.bin');
  const samples = new Map<string, Sample[]>(contenders.map((contender) => [contender.label, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (const contender of rotate(contenders, round)) {
      const sample = await runChild(contender, server, remote, local);
      const size = (await fs.stat(local)).size;
      if (size !== bytes) throw new Error(`${contender.label}: downloaded ${size} bytes, expected ${bytes}`);
      await fs.rm(local);
      samples.get(contender.label)?.push(sample);
      console.log(`round ${round + 1}/${rounds} ${contender.label}: ${(sample.ms / 1000).toFixed(2)} s, CPU ${(sample.cpuMs / 1000).toFixed(2)} s`);
    }
  }
  const loadEnd = loadAverage();
  await server.stop();
  const gib = bytes / (1024 * MIB);
  const rows = contenders.map((contender) => {
    const list = samples.get(contender.label) ?? [];
    const seconds = median(list.map((sample) => sample.ms)) / 1000;
    const cpuPerGib = median(list.map((sample) => sample.cpuMs)) / 1000 / gib;
    const first = list[0];
    const order = contender.cipher ? `${contender.cipher[0]} only` : 'default (aes128-gcm@openssh.com)';
    return `| ${first.version} | ${first.binding ? 'yes' : 'no (JavaScript)'} | ${order} | ${seconds.toFixed(2)} | ${(bytes / MIB / seconds).toFixed(0)} | ${cpuPerGib.toFixed(2)} |`;
  });
  const table = [
    `${bytes / MIB} MiB download through the engine, ${rounds} rounds, medians; ${machine()}; load average ${loadStart.map((v) => v.toFixed(2)).join(' ')} at the start, ${loadEnd.map((v) => v.toFixed(2)).join(' ')} at the end; ${new Date().toISOString()}`,
    '',
    '| Node.js | ssh2 native binding | ciphers offered | seconds | MiB/s | CPU s/GiB |',
    '| --- | --- | --- | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
  console.log(`\n${table}\n`);
  const dir = join(ROOT, 'bench', 'results');
  await fs.mkdir(dir, { recursive: true });
  const file = join(dir, `node-lines-${new Date().toISOString().replace(/[:.]/g, '-')}.md`);
  await fs.writeFile(file, `${table}\n`);
  console.log(`written: ${file}`);
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => runCleanupsSync());
