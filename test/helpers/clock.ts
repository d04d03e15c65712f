// A clock the test moves by hand, for the scheduler and the purger: months pass in
// milliseconds. It also records how long each sleep asked for, so a test can see
// that an idle scheduler sleeps until its next due time instead of polling.
import type { Clock } from "../../src/scheduler/clock.ts";

interface Sleeper { until: number; resolve: () => void }

export class ManualClock implements Clock {
  readonly sleeps: number[] = [];
  private sleepers = new Set<Sleeper>();

  constructor(private t: number) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const s: Sleeper = { until: this.t + ms, resolve: () => { this.sleepers.delete(s); resolve(); } };
      this.sleepers.add(s);
      signal.addEventListener("abort", s.resolve, { once: true });
    });
  }

  /** How many are asleep right now. */
  get asleep(): number {
    return this.sleepers.size;
  }

  /** Moves to `ms` (epoch milliseconds) and wakes every sleeper whose time has come. */
  set(ms: number): void {
    this.t = ms;
    for (const s of [...this.sleepers]) if (s.until <= ms) s.resolve();
  }

  /** The clock at a UTC time written "YYYY-MM-DD HH:MM:SS". */
  static at(utc: string): ManualClock {
    return new ManualClock(Date.parse(`${utc.replace(" ", "T")}Z`));
  }
}

/** Epoch seconds of a UTC time written "YYYY-MM-DD HH:MM:SS". */
export const utc = (s: string) => Date.parse(`${s.replace(" ", "T")}Z`) / 1000;
/** Epoch seconds as "YYYY-MM-DD HH:MM:SS" UTC. */
export const fmt = (s: number) => new Date(s * 1000).toISOString().slice(0, 19).replace("T", " ");
