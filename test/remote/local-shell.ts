/**
 * A ChannelProvider whose "exec" runs the command in a local shell (dash, bash, busybox ash, zsh, or a
 * PATH without `stat`), as a server's login shell would: the toolbox's shell commands can then be tested
 * in every shell a device may have, byte for byte, without a server per shell. No SFTP.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { ClientChannel } from 'ssh2';
import type { ChannelProvider, ExecLease } from '../../src/ssh/types';
import { makeTempDir } from '../harness';

export interface LocalShell {
  label: string;
  argv: string[];
  /** PATH for the command (a userland of its own) */
  path?: string;
}

/** Commands every toolbox script may call, linked into a PATH of their own. */
const TOOLS = ['sh', 'ls', 'date', 'mkdir', 'rm', 'rmdir', 'mv', 'chmod', 'cat', 'printf', 'test', '['];

/** A directory holding links to the system's tools except `stat` (a plain POSIX userland without it). */
export async function pathWithoutStat(): Promise<string> {
  const dir = await makeTempDir('nostat-bin');
  for (const tool of TOOLS) {
    for (const where of ['/usr/bin', '/bin']) {
      const target = join(where, tool);
      if (await fs.stat(target).then(() => true, () => false)) {
        await fs.symlink(target, join(dir, tool));
        break;
      }
    }
  }
  return dir;
}

/** A directory where every BusyBox applet is a link to busybox: a BusyBox userland (stat, find, ls, ...). */
export async function busyboxPath(): Promise<string> {
  const dir = await makeTempDir('busybox-bin');
  const list = await new Promise<string>((resolve, reject) => {
    const child = spawn('/usr/bin/busybox', ['--list']);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
  for (const applet of list.split('\n').filter(Boolean)) await fs.symlink('/usr/bin/busybox', join(dir, applet));
  return dir;
}

export const SHELLS: LocalShell[] = [
  { label: 'dash', argv: ['/bin/dash', '-c'] },
  { label: 'bash', argv: ['/bin/bash', '-c'] },
  { label: 'zsh', argv: ['/usr/bin/zsh', '-c'] },
  { label: 'busybox ash', argv: ['/usr/bin/busybox', 'sh', '-c'] },
];

/** Runs every exec in `shell` with `cwd` as the working directory (the "home" of relative paths). */
export function localShellProvider(shell: LocalShell, cwd: string): ChannelProvider & { commands: Buffer[] } {
  const commands: Buffer[] = [];
  return {
    label: `local ${shell.label}`,
    commands,
    exec: async (command) => {
      const bytes = Buffer.isBuffer(command) ? command : Buffer.from(command);
      commands.push(bytes);
      const env = shell.path ? { PATH: shell.path, HOME: cwd } : { ...process.env, HOME: cwd };
      // The command as one argv string, byte for byte (latin1 keeps every byte).
      const child = spawn(shell.argv[0] as string, [...shell.argv.slice(1), bytes.toString('latin1')], { cwd, env, stdio: 'pipe' });
      const channel = new EventEmitter() as EventEmitter & Record<string, unknown>;
      const stderr = new EventEmitter();
      Object.assign(channel, {
        stderr,
        end: () => child.stdin.end(),
        destroy: () => child.kill('SIGKILL'),
        readableLength: 0,
      });
      child.stdout.on('data', (chunk: Buffer) => channel.emit('data', chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.emit('data', chunk));
      child.on('error', (error) => channel.emit('error', error));
      child.on('close', (code) => {
        channel.emit('exit', code);
        channel.emit('close', code);
      });
      const lease: ExecLease = { channel: channel as unknown as ClientChannel, connectionError: () => undefined };
      return lease;
    },
    sftp: () => Promise.reject(new Error('no SFTP in a local shell')),
  };
}
