// Task outcomes as events: the supervisor says what became of each task it ran
// (a backup done or failed, a restore finished, a purge failed), once, after the
// outcome is in the catalog. Whoever wants to react subscribes here: the
// Prometheus metrics (src/api/metrics.ts) today, notifications later. One bus,
// one event type, so that every subscriber sees the same facts in the same words.
import { describeError, log } from "../log.ts";

/**
 * What notification rules and metrics speak of. Derived from op and outcome by
 * `eventName`: a new op gets a name there, not a new event type.
 */
export type TaskEventName =
  | "backup_succeeded" | "backup_failed" | "backup_canceled"
  | "restore_finished"
  | "purge_succeeded" | "purge_failed"
  | "task_finished";

/**
 * One finished task. Emitted exactly once per task, after its outcome is recorded
 * in the catalog (so a subscriber reading the catalog sees it), by the daemon that
 * ran it (or, for a task whose daemon died, by the daemon that failed it).
 * Names are those the task ran with; null where the task had none (a restore of
 * an archive whose job was deleted). Never a secret: `error` is masked as the log is.
 */
export interface TaskEvent {
  name: TaskEventName;
  task: string;
  /** backup, restore, purge, … (the task's `type` in the API). */
  op: string;
  outcome: "done" | "failed" | "canceled";
  job: { uuid: string; name: string | null } | null;
  target: { uuid: string; name: string | null } | null;
  store: { uuid: string; name: string | null } | null;
  /** The archive a backup made, or the one a restore or purge acted on. */
  archive: string | null;
  /** Epoch seconds; started null for a task that never started. */
  startedAt: number | null;
  stoppedAt: number;
  /** Seconds the task ran (stoppedAt - startedAt), null if it never started. */
  durationS: number | null;
  /** Bytes stored, for a backup that made an archive. */
  size: number | null;
  /** The one-line reason of a failed task (the task JSON's `error`); null otherwise. */
  error: string | null;
}

export function eventName(op: string, outcome: TaskEvent["outcome"]): TaskEventName {
  if (op === "backup") return outcome === "done" ? "backup_succeeded" : outcome === "failed" ? "backup_failed" : "backup_canceled";
  if (op === "restore") return "restore_finished";
  if (op === "purge" && outcome !== "canceled") return outcome === "done" ? "purge_succeeded" : "purge_failed";
  return "task_finished";
}

export type TaskListener = (e: TaskEvent) => void | Promise<void>;

/**
 * Subscribers are called in turn, synchronously; a returned promise is not
 * awaited, and a subscriber that throws (or rejects) is logged and skipped:
 * what a subscriber does (a slow webhook, a full disk) never delays or fails
 * a task, nor keeps the others from hearing of it.
 */
export class EventBus {
  private listeners = new Set<TaskListener>();

  /** Returns the unsubscribe function. */
  on(listener: TaskListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  emit(e: TaskEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        const r = listener(e);
        if (r instanceof Promise) r.catch((err) => log.error("an event subscriber failed", { event: e.name, task: e.task, ...describeError(err) }));
      } catch (err) {
        log.error("an event subscriber failed", { event: e.name, task: e.task, ...describeError(err) });
      }
    }
  }
}
