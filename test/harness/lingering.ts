/**
 * Mocha runs without `exit: true`, so the process ends by itself only when the tests left nothing open. When
 * something still holds the event loop after the run, this names it (a socket with its ports, a child
 * process with its command line, a timer with its callback) instead of leaving a silent hang, and ends the
 * run with a failure after a bound: a leaked handle is a bug in a test or in the package, never a reason to
 * wait forever. The timers are unref'd: they never keep the process alive themselves.
 */

/** How long after the last hook the process may take to drain (sshd stops, sockets closing). */
const REPORT_AFTER_MS = 10_000;
/** After this, the run fails with what was reported: a CI job must not hang on a leak. */
const FAIL_AFTER_MS = 60_000;

interface HandleLike {
  constructor?: { name?: string };
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
  fd?: number;
  pid?: number;
  spawnargs?: string[];
  _onTimeout?: { name?: string; toString(): string };
  _idleTimeout?: number;
  address?: () => unknown;
}

/** One line per handle that keeps the event loop alive (stdio and our own timers are left out). */
export function describeLingeringHandles(): string[] {
  const getHandles = (process as unknown as { _getActiveHandles?: () => HandleLike[] })._getActiveHandles;
  const handles = getHandles ? getHandles.call(process) : [];
  const lines: string[] = [];
  for (const handle of handles) {
    const kind = handle.constructor?.name ?? typeof handle;
    if ((kind === 'WriteStream' || kind === 'ReadStream' || kind === 'Socket') && handle.fd !== undefined && handle.fd <= 2) continue;
    if (kind === 'Timeout' && (handle as { hasRef?: () => boolean }).hasRef?.() === false) continue;
    if (kind === 'ChildProcess') lines.push(`child process ${handle.pid}: ${(handle.spawnargs ?? []).join(' ')}`);
    else if (kind === 'Socket') lines.push(`socket ${handle.localAddress}:${handle.localPort} -> ${handle.remoteAddress}:${handle.remotePort}`);
    else if (kind === 'Server') lines.push(`server listening on ${JSON.stringify(handle.address?.())}`);
    else if (kind === 'Timeout') lines.push(`timer every/after ${handle._idleTimeout} ms: ${String(handle._onTimeout?.toString()).slice(0, 160).replace(/\s+/g, ' ')}`);
    else lines.push(kind);
  }
  const resources = (process as unknown as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo?.() ?? [];
  const other = resources.filter((name) => !['TTYWrap', 'Timeout', 'TCPSocketWrap', 'TCPServerWrap', 'ProcessWrap', 'PipeWrap'].includes(name));
  if (other.length > 0) lines.push(`other resources: ${other.join(', ')}`);
  return lines;
}

/** Arms the report (called once the root afterAll hook is done). */
export function watchForLingeringHandles(): void {
  const report = setTimeout(() => {
    const lines = describeLingeringHandles();
    process.stderr.write(`[harness] the run ended ${REPORT_AFTER_MS / 1000} s ago but the process is still alive; open handles:\n${lines.map((line) => `  ${line}\n`).join('') || '  (none visible)\n'}`);
    const fail = setTimeout(() => {
      process.stderr.write(`[harness] still alive ${FAIL_AFTER_MS / 1000} s after the run: failing it (leaked handles above)\n`);
      // Mocha's own 'exit' listener sets the exit code to the number of failed tests: ours comes after it.
      process.on('exit', () => {
        process.exitCode = 1;
      });
      process.exit(1);
    }, FAIL_AFTER_MS - REPORT_AFTER_MS);
    fail.unref();
  }, REPORT_AFTER_MS);
  report.unref();
}
