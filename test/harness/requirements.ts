/** What a test does when the machine cannot give it what it needs: skip locally, fail under CI. */
import { isRoot } from './user';

/** True under CI (CI=true): there, a test that cannot get its real server or throwaway user must fail, not skip. */
export function requireRealServers(): boolean {
  return process.env.CI === 'true';
}

/** Under CI throws ("needs <why>"), so the test fails; elsewhere skips the test with a note on the console. */
export function skipOrFail(ctx: Mocha.Context, why: string): never {
  if (requireRealServers()) throw new Error(`needs ${why}`);
  console.log(`      (skipped: needs ${why})`);
  ctx.skip();
}

/** For tests that need the throwaway user (password auth, permissions): only root can create one. */
export function needThrowawayUser(ctx: Mocha.Context): void {
  if (!isRoot()) skipOrFail(ctx, 'the throwaway test user (password, own authorized_keys): run the tests as root');
}
