// The task event bus: the supervisor says what becomes of each task it runs (a
// backup started; a task done, failed or canceled), and whoever wants to react
// subscribes. Today two subscribers: the notifier (src/notify) and the Prometheus
// metrics (src/api/metrics.ts). One bus and one event type, so that every
// subscriber hears the same facts in the same words, once.
import { describeError, log } from "../log.ts";

/**
 * What happened, derived from the task's op and outcome by `eventName`: a new op
 * gets a name there, not a new event type. Notification channels' rules spell
 * these their own stored way ("backup.failed"; notify/channels.ts `ruleName`).
 */
export type TaskEventName =
  | "backup_started" | "backup_succeeded" | "backup_failed" | "backup_canceled"
  | "restore_finished"
  | "purge_succeeded" | "purge_failed"
  | "drill_succeeded" | "drill_failed"
  | "task_finished";

/**
 * One task's start or end. Names are those of the job, target and store as they
 * are when the event is told; null where the task has none (a restore of an
 * archive whose job was deleted) or where the catalog could not say (the uuid stays).
 * Never a secret: `error` is masked as the task log is.
 */
export interface TaskEvent {
  name: TaskEventName;
  task: string;
  /** backup, restore, purge, drill, … (the task's `type` in the API). */
  op: string;
  /** "running" only for `backup_started`; an end otherwise. */
  outcome: "running" | "done" | "failed" | "canceled";
  job: { uuid: string; name: string | null } | null;
  target: { uuid: string; name: string | null } | null;
  store: { uuid: string; name: string | null } | null;
  /** The archive a backup made, or the one a restore, purge or drill acted on. */
  archive: string | null;
  /** Epoch seconds; startedAt null for a task that never started, stoppedAt null while it runs. */
  startedAt: number | null;
  stoppedAt: number | null;
  /** Seconds the task ran (stoppedAt - startedAt); null while it runs or if it never started. */
  durationS: number | null;
  /** Bytes stored, for a backup that made an archive. */
  size: number | null;
  /** The one-line reason of a failed task (the task JSON's `error`); null otherwise. */
  error: string | null;
  /** Figures worth telling, as "Name": value (a drill's restore time and counts). */
  details?: Record<string, unknown>;
}

/** How a task ended. */
export type TaskOutcome = Exclude<TaskEvent["outcome"], "running">;

/** The name of a task's end event (a backup's start is always `backup_started`). */
export function eventName(op: string, outcome: TaskOutcome): TaskEventName {
  if (op === "backup") return outcome === "done" ? "backup_succeeded" : outcome === "failed" ? "backup_failed" : "backup_canceled";
  if (op === "restore") return "restore_finished";
  if (op === "purge" && outcome !== "canceled") return outcome === "done" ? "purge_succeeded" : "purge_failed";
  if (op === "drill" && outcome !== "canceled") return outcome === "done" ? "drill_succeeded" : "drill_failed";
  return "task_finished";
}

export type TaskListener = (e: TaskEvent) => void | Promise<void>;

/**
 * The contract:
 * - What is emitted, when: `backup_started` as a backup starts (before its first
 *   stage); one end event per task (any op, canceled included) after its outcome
 *   is recorded in the catalog, so a subscriber reading the catalog sees it. Told
 *   by the daemon that ran the task or, for a task whose daemon died, by the daemon
 *   that failed it; a daemon that lost its task to another tells nothing of it.
 *   Process-local: a subscriber hears of the tasks of its own daemon only. The
 *   supervisor tells in the background (it reads the names first), a task's events
 *   in order, never in the path of the task itself; its stop() waits for them.
 * - Delivery is synchronous: emit() calls each listener in turn, in the order they
 *   subscribed, and returns when all have returned. A returned promise is not
 *   awaited: a listener with slow work (a webhook, a catalog write) starts it and
 *   returns, and keeps its own account of it (the notifier waits for its filings at stop).
 * - A listener that throws, or whose promise rejects, is logged and skipped: emit()
 *   never throws, the others still hear, and the task (the supervisor) is never
 *   delayed or failed by what a subscriber does.
 */
export class TaskEventBus {
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
        if (r instanceof Promise) r.catch((err) => failed(e, err));
      } catch (err) {
        failed(e, err);
      }
    }
  }
}

function failed(e: TaskEvent, err: unknown): void {
  log.error("an event subscriber failed", { event: e.name, task: e.task, ...describeError(err) });
}
