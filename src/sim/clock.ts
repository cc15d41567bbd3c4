/**
 * Time as pure cores and shells receive it. Cores take a `now` argument; shells take a
 * {@link Clock} and {@link Timers} so that the simulator's virtual time can replace the real one.
 */

/** A source of the current time in milliseconds. */
export interface Clock {
  now(): number;
}

/** Timer scheduling, shaped like the global `setTimeout`/`clearTimeout`. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real monotonic clock (milliseconds since an arbitrary origin), for shells. */
export const systemClock: Clock = {
  now: () => performance.now(),
};

/** The real timers, for shells. */
export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
