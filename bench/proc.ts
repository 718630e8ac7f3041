/** What /proc tells about a process (CPU time, RSS) and the machine (load, CPU), plus the tools' versions. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

/** Kernel clock ticks per second (USER_HZ), what /proc/<pid>/stat counts CPU time in. */
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at state: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/** Samples a process's RSS every `everyMs` until stopped; returns the peak seen. */
export function watchPeakRss(pid: number, everyMs = 50): { stop(): number } {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      // the process ended: the peak so far stands
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

export function loadAverage(): number[] {
  return loadavg();
}

export function machine(): string {
  const list = cpus();
  return `${list.length} cores (${list[0]?.model.trim() ?? 'unknown CPU'}), Linux`;
}

function firstLine(command: string, args: string[]): string {
  try {
    const result = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return result.split('\n')[0].trim();
  } catch {
    return 'unknown';
  }
}

export function versions(root: string): Record<string, string> {
  const packageVersion = (name: string): string => {
    try {
      return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'missing';
    }
  };
  return {
    'Node.js': process.version,
    'Node-RED': packageVersion('node-red'),
    OpenSSH: firstLine('sh', ['-c', 'ssh -V 2>&1']).split(',')[0].replace(/^OpenSSH_/, ''),
    ssh2: packageVersion('ssh2'),
    'ssh2-sftp-client': packageVersion('ssh2-sftp-client'),
  };
}
