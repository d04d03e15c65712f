// Time as the scheduler and the purger see it. The daemon uses the system clock;
// tests use a manual one, so that month ends, leap days, DST changes, restarts and
// catch-up are tested without waiting for them.
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (someone has news: wake up now). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

// setTimeout fires at once for delays past 2^31-1 ms: sleep in slices no longer than this.
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
    signal.addEventListener("abort", done, { once: true });
  }),
};
