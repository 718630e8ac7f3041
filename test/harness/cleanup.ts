/**
 * End-of-run cleanup for everything the harness creates (servers, the throwaway user, temp dirs).
 *
 * Cleanups are synchronous on purpose: they must also run from process 'exit' (where no promise resolves)
 * and from SIGINT/SIGTERM, so an interrupted or crashed run leaves no account and no sshd behind. The mocha
 * root hook runs them earlier, after stopping servers gracefully; each runs at most once.
 */
type Cleanup = () => void;

const pending: { name: string; run: Cleanup }[] = [];
let handlersInstalled = false;

/** Registers `run` to be called once at the end of the run (LIFO). Returns a function that unregisters it. */
export function onCleanup(name: string, run: Cleanup): () => void {
  installHandlers();
  const entry = { name, run };
  pending.push(entry);
  return () => {
    const index = pending.indexOf(entry);
    if (index >= 0) pending.splice(index, 1);
  };
}

/** A cleanup that takes longer than this is named on stderr, so a slow end of run says what was slow. */
const SLOW_CLEANUP_MS = 5_000;

/** Runs every registered cleanup now, newest first. A failing cleanup is reported and the rest still run. */
export function runCleanupsSync(): void {
  while (pending.length > 0) {
    const entry = pending.pop() as { name: string; run: Cleanup };
    const started = Date.now();
    try {
      entry.run();
    } catch (err) {
      process.stderr.write(`[harness] cleanup "${entry.name}" failed: ${(err as Error).message}\n`);
    }
    const took = Date.now() - started;
    if (took > SLOW_CLEANUP_MS) process.stderr.write(`[harness] cleanup "${entry.name}" took ${(took / 1000).toFixed(1)} s\n`);
  }
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', runCleanupsSync);
  for (const [signal, exitCode] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    // Adding a listener replaces Node's default "exit on signal", so this one must exit itself.
    process.once(signal, () => {
      process.stderr.write(`[harness] ${signal}: removing test servers, user and temp dirs\n`);
      runCleanupsSync();
      process.exit(exitCode);
    });
  }
}
