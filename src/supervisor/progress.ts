// The latest progress of each task this daemon runs, in memory only.
//
// Why not a catalog column: progress changes every second per running task, and
// the catalog is the queue every daemon sharing it polls; a write per tick per task
// buys only one thing, showing the bar through another daemon's API. That daemon
// answers `progress: null` for a task it does not run (its `runner` field says
// which daemon does, and the log still gets a progress line every few seconds), a
// trade we take over the write load. Nothing here outlives the task: the final
// state is the task row itself.
import type { Progress } from "../pipeline/progress.ts";

export class ProgressBoard {
  private readonly latest = new Map<string, Progress>();

  set(task: string, p: Progress): void {
    this.latest.set(task, p);
  }

  /** The task's latest progress; undefined when it does not run here (or no more). */
  get(task: string): Progress | undefined {
    return this.latest.get(task);
  }

  /** The task ended (its row says how now): the bar goes, and whoever waits on it is woken. */
  drop(task: string): void {
    this.latest.delete(task);
    const waiting = this.waiting.get(task);
    this.waiting.delete(task);
    for (const wake of waiting ?? []) wake();
  }

  private readonly waiting = new Map<string, Set<() => void>>();

  /**
   * Resolves once the task ends on this daemon (drop) or after `ms`, whichever comes
   * first: a client waiting for a task (GET /v1/task/:uuid?wait=) is answered the
   * moment its row says how it ended, without asking again and again. Armed before
   * the caller reads the row, so an end between the read and the wait is not missed.
   */
  ended(task: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiting.get(task) ?? new Set<() => void>();
      this.waiting.set(task, set);
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        if (!set.size && this.waiting.get(task) === set) this.waiting.delete(task);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
    });
  }
}
