/**
 * What a SIGKILLed test run leaves behind (no cleanup can run then): sshd/dropbear listeners, the throwaway
 * user, temp dirs. Each carries the id of the process that made it; when that process is gone, the next run
 * removes them. Nothing without our exact naming is touched.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAlive, killTree } from './proc';
import { TEMP_NAME } from './tmp';

let swept = false;

/** Once per process: kill orphaned harness servers and remove temp dirs of dead runs. */
export function sweepAbandoned(): void {
  if (swept) return;
  swept = true;
  const tmp = os.tmpdir();
  // sshd rewrites its command line ("sshd: /usr/sbin/sshd -D -f <config> ... [listener]"), so search all of it.
  const serverDir = new RegExp(`${escapeRegExp(tmp)}/scpt-(\\d+)-(sshd|dropbear)-`);
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let commandLine: string;
    try {
      const comm = fs.readFileSync(`/proc/${name}/comm`, 'utf8').trim();
      if (comm !== 'sshd' && comm !== 'dropbear') continue;
      commandLine = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    const owner = serverDir.exec(commandLine);
    if (owner && !isAlive(Number(owner[1]))) killTree(Number(name));
  }
  for (const entry of fs.readdirSync(tmp)) {
    const match = TEMP_NAME.exec(entry);
    if (match && !isAlive(Number(match[1]))) {
      fs.rmSync(path.join(tmp, entry), { recursive: true, force: true });
    }
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
