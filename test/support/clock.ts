/**
 * An injected clock for code that reads the time with Date.now() (the pool's cool-downs and back-offs):
 * the test moves time forward instead of sleeping past a limit, so a loaded machine cannot make it race.
 * Timers (setTimeout) are left alone: what is driven by one is waited for by its event.
 */

export interface ShiftedClock {
  /** Date.now() returns `ms` more from now on (cumulative). */
  advance(ms: number): void;
  /** Date.now() is the real clock again. */
  restore(): void;
}

export function shiftClock(): ShiftedClock {
  const realNow = Date.now;
  let offset = 0;
  Date.now = () => realNow.call(Date) + offset;
  return {
    advance: (ms) => {
      offset += ms;
    },
    restore: () => {
      Date.now = realNow;
    },
  };
}
