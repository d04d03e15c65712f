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

  /** The task ended: its row says how, not a stale bar. */
  drop(task: string): void {
    this.latest.delete(task);
  }
}
