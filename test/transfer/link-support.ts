/**
 * Support for the link tests and bench/transfer-links.ts. Measuring smoothness: the busiest second of recorded
 * progress. Cutting a transfer the way a dropped link does: the session processes a server runs for the test user
 * (OpenSSH's unprivileged "sshd: user@notty" child and what runs under it) are SIGKILLed by pid, found
 * below the listener of that one server, so no other server's sessions are touched.
 */
import * as fs from 'node:fs';
import type { SshdServer } from '../harness';
import { holdsListeningSocket, isAlive, pidsOfUid, processTree } from '../harness/proc';

function listenerOf(server: SshdServer): number {
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/u.test(name)) continue;
    const pid = Number(name);
    let comm: string;
    try {
      comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if ((comm === 'sshd' || comm === 'dropbear') && holdsListeningSocket(pid, server.port)) return pid;
  }
  throw new Error(`no listener found for port ${server.port}`);
}

/** SIGKILLs the test user's session processes under this server's listener; returns how many. */
export function killUserSessions(server: SshdServer): number {
  const uid = fs.statSync(server.home).uid;
  const ours = new Set(pidsOfUid(uid));
  const under = processTree(listenerOf(server)).filter((pid) => ours.has(pid) && isAlive(pid));
  for (const pid of under) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return under.length;
}

/** The most bytes any one-second window of (time, bytes so far) samples carries. */
export function busiestSecond(samples: { t: number; bytes: number }[]): number {
  let most = 0;
  let end = 0;
  for (let start = 0; start < samples.length; start += 1) {
    while (end + 1 < samples.length && samples[end + 1].t - samples[start].t <= 1000) end += 1;
    most = Math.max(most, samples[end].bytes - samples[start].bytes);
  }
  return most;
}
