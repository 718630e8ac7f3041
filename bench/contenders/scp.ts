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

export function scpContender(server: SshdServer, variant: ScpVariant): Contender {
  const base = [
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
  const at = (remote: string): string => `${server.username}@${server.host}:${remote}`;
  return {
    name: scpName(variant),
    recursive: true,
    copy: (job: CopyJob) => {
      const ends = job.direction === 'up' ? [job.local, at(job.remote)] : [at(job.remote), job.local];
      return timedScp([...base, ...(job.recursive ? ['-r'] : []), ...ends]);
    },
  };
}

const TIME_LINE = /^BENCH_CPU ([\d.]+) ([\d.]+)$/m;

function timedScp(args: string[]): Promise<Sample> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/time', ['-f', 'BENCH_CPU %U %S', 'scp', ...args], { maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => {
      const ms = elapsedMs(started);
      if (error) return reject(new Error(`scp ${args.join(' ')}: ${stderr || error.message}`));
      const cpu = TIME_LINE.exec(stderr);
      resolve({ ms, ...(cpu ? { cpuSeconds: Number(cpu[1]) + Number(cpu[2]) } : {}) });
    });
  });
}
