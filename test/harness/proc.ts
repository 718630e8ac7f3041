/**
 * Process-table helpers over /proc. OpenSSH's per-connection children call setsid(), so they leave the
 * listener's process group: killing "the group" would miss exactly the processes that carry a transfer.
 * We walk the parent links instead, freeze what we find, and only then kill it.
 */
import * as fs from 'node:fs';

interface ProcEntry {
  pid: number;
  ppid: number;
  uid: number;
}

function readProcTable(): ProcEntry[] {
  const entries: ProcEntry[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
      const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // A zombie is dead already; in a container nobody may ever reap it, so it must not count as alive.
      if (afterComm[0] === 'Z') continue;
      entries.push({ pid: Number(name), ppid: Number(afterComm[1]), uid: fs.statSync(`/proc/${name}`).uid });
    } catch {
      // the process exited while we looked
    }
  }
  return entries;
}

/** `pid` and all its living descendants. */
export function processTree(pid: number): number[] {
  const table = readProcTable();
  const children = new Map<number, number[]>();
  for (const entry of table) {
    const list = children.get(entry.ppid) ?? [];
    list.push(entry.pid);
    children.set(entry.ppid, list);
  }
  const found: number[] = [];
  const queue = table.some((e) => e.pid === pid) ? [pid] : [];
  while (queue.length > 0) {
    const current = queue.shift() as number;
    found.push(current);
    queue.push(...(children.get(current) ?? []));
  }
  return found;
}

export function pidsOfUid(uid: number): number[] {
  return readProcTable()
    .filter((e) => e.uid === uid)
    .map((e) => e.pid);
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * SIGKILLs `pids()` until it returns nothing new: each round first SIGSTOPs every process found so none can
 * fork a child we have not seen, then kills them all.
 */
export function killAll(pids: () => number[]): void {
  for (let round = 0; round < 10; round++) {
    const found = pids();
    if (found.length === 0) return;
    let stoppedNew = true;
    const stopped = new Set<number>();
    while (stoppedNew) {
      stoppedNew = false;
      for (const pid of pids()) {
        if (!stopped.has(pid)) {
          signal(pid, 'SIGSTOP');
          stopped.add(pid);
          stoppedNew = true;
        }
      }
    }
    for (const pid of stopped) signal(pid, 'SIGKILL');
  }
}

/** Kills `rootPid` and every descendant (see killAll). */
export function killTree(rootPid: number): void {
  // Once the root dies its orphans are re-parented, so collect the whole tree before the first kill.
  const members = new Set<number>();
  killAll(() => {
    for (const pid of processTree(rootPid)) members.add(pid);
    return [...members].filter(isAlive);
  });
}

/**
 * True when `pid` itself holds the socket listening on 127.0.0.1:port. A greeting on the port alone could come
 * from another run's server that took the port between our probe and our server's bind.
 */
export function holdsListeningSocket(pid: number, port: number): boolean {
  const wanted = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // fields: sl, local_address, rem_address, st (0A = LISTEN), ..., inode at index 9
    if (fields[1] === wanted && fields[3] === '0A' && fields[9]) inodes.add(`socket:[${fields[9]}]`);
  }
  if (inodes.size === 0) return false;
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return inodes.has(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}
