/**
 * Registered in .mocharc.json ("require"): after the whole run, stop the shared sshd gracefully, then remove
 * every server, the throwaway user and the temp dirs. (A process 'exit' handler does the same if mocha is
 * interrupted or run without this file.)
 */
import { runCleanupsSync } from './cleanup';
import { stopSharedSshd } from './shared';

export const mochaHooks = {
  async afterAll(): Promise<void> {
    try {
      await stopSharedSshd();
    } finally {
      runCleanupsSync();
    }
  },
};
