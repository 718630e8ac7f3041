/**
 * Registered in .mocharc.json ("require"): after the whole run, stop the shared sshd gracefully, then remove
 * every server, the throwaway user and the temp dirs. (A process 'exit' handler does the same if mocha is
 * interrupted or run without this file.) Mocha runs without `exit: true`: what still holds the process
 * after that is named on stderr (lingering.ts).
 */
import { runCleanupsSync } from './cleanup';
import { watchForLingeringHandles } from './lingering';
import { stopSharedSshd } from './shared';

/**
 * The end of the run removes what the whole suite wrote (thousands of files in temp dirs and the test user's
 * home) and stops servers (up to 10 s each): on 2 loaded cores that outgrew mocha's 60 s per-test bound
 * while nothing hung. Its own bound is sized to that job; runCleanupsSync names any slow step.
 */
const END_OF_RUN_LIMIT_MS = 300_000;

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(END_OF_RUN_LIMIT_MS);
    try {
      await stopSharedSshd();
    } finally {
      runCleanupsSync();
      watchForLingeringHandles();
    }
  },
};
