/**
 * OpenSSH's scp, a new process per copy (as users run it), under /usr/bin/time so the CPU of scp and of the
 * ssh it starts (both are its children, waited for) is counted.
 */
import { execFile } from 'node:child_process';
import type { SshdServer } from '../../test/harness';
import { elapsedMs, type Contender, type CopyJob, type Sample } from './types';

export const GCM = 'aes128-gcm@openssh.com';

export interface ScpVariant {
  /** -O: the legacy SCP protocol (what the nodes speak); without it OpenSSH 9 uses SFTP underneath */
  legacy: boolean;
  /** -c CIPHER; default: OpenSSH's own choice (chacha20-poly1305) */
  cipher?: string;
}

export function scpName(variant: ScpVariant): string {
  return ['scp', ...(variant.legacy ? ['-O'] : []), ...(variant.cipher ? ['-c aes128-gcm'] : [])].join(' ');
}

/** scp's options for the bench's sshd (key, port, no known_hosts), before the two ends of a copy. */
export function scpOptions(server: SshdServer, variant: ScpVariant): string[] {
  return [
    ...(variant.legacy ? ['-O'] : []),
    ...(variant.cipher ? ['-c', variant.cipher] : []),
    '-q',
    '-B',
    '-i', server.clientKeyPath,
    '-P', String(server.port),
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
  ];
}

/** `user@host:path` of the bench's sshd */
export function scpRemote(server: SshdServer, remote: string): string {
  return `${server.username}@${server.host}:${remote}`;
}

export function scpContender(server: SshdServer, variant: ScpVariant): Contender {
  const base = scpOptions(server, variant);
  const at = (remote: string): string => scpRemote(server, remote);
  return {
    name: scpName(variant),
    recursive: true,
    copy: (job: CopyJob) => {
      const ends = job.direction === 'up' ? [job.local, at(job.remote)] : [at(job.remote), job.local];
      return timedScp([...base, ...(job.recursive ? ['-r'] : []), ...ends]);
    },
  };
}

/**
 * /usr/bin/time's report of the CPU seconds of scp: wait4() gives the child's own time plus that of the
 * children it waited for, and scp waits for its ssh. The exec node's command prints the same line.
 */
export const TIME_FORMAT = 'BENCH_CPU %U %S';
const TIME_LINE = /^BENCH_CPU ([\d.]+) ([\d.]+)$/m;

/** user + system CPU seconds from /usr/bin/time's line in `output`, undefined without one */
export function timedCpuSeconds(output: string): number | undefined {
  const cpu = TIME_LINE.exec(output);
  return cpu ? Number(cpu[1]) + Number(cpu[2]) : undefined;
}

function timedScp(args: string[]): Promise<Sample> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/time', ['-f', TIME_FORMAT, 'scp', ...args], { maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => {
      const ms = elapsedMs(started);
      if (error) return reject(new Error(`scp ${args.join(' ')}: ${stderr || error.message}`));
      const cpuSeconds = timedCpuSeconds(stderr);
      resolve({ ms, ...(cpuSeconds === undefined ? {} : { cpuSeconds }) });
    });
  });
}
