// Task outcomes as events, for whoever wants to know (notifications; metrics).
// The supervisor emits one after it recorded a task's outcome in the catalog;
// subscribers must not throw and must not block: emit() calls them and moves on
// (a subscriber's failure is logged, never the task's). Process-local: a daemon
// tells of the tasks it ran itself.
import { describeError, log } from "../log.ts";

/**
 * What happened. `backup.started` is for dead-man's-switch pings; the others are
 * outcomes. `job.overdue`, `agent.unreachable` and `store.nearly_full` are hooks:
 * nothing emits them yet (the scheduler, agents and store space reports will).
 */
export const EVENT_KINDS = [
  "backup.failed", "backup.succeeded", "backup.started", "restore.finished", "purge.failed",
  "drill.failed", "drill.succeeded", "job.overdue", "agent.unreachable", "store.nearly_full",
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface TaskEvent {
  kind: EventKind;
  /** The task it is about; absent for events not about one task (a job overdue). */
  taskUuid?: string;
  op?: string;
  /** "done" | "failed" | "running" (started). */
  outcome?: string;
  jobUuid?: string | null;
  targetUuid?: string | null;
  storeUuid?: string | null;
  archiveUuid?: string | null;
  /** The failure reason in one line, for failed outcomes. */
  error?: string;
  /** Seconds since the epoch. */
  at: number;
  /** Seconds the task ran, when it did. */
  durationS?: number;
  /** Figures worth telling (a drill's restore time and counts), as "Name": value. */
  details?: Record<string, unknown>;
}

export type Subscriber = (event: TaskEvent) => void | Promise<void>;

export class TaskEvents {
  private subscribers: Subscriber[] = [];

  /** Returns the unsubscribe. */
  subscribe(fn: Subscriber): () => void {
    this.subscribers.push(fn);
    return () => { this.subscribers = this.subscribers.filter((s) => s !== fn); };
  }

  /** Never throws and never waits for a subscriber: a task's outcome is not theirs to change. */
  emit(event: TaskEvent): void {
    for (const fn of this.subscribers) {
      try {
        void Promise.resolve(fn(event)).catch((err) => log.error("an event subscriber failed", { event: event.kind, ...describeError(err) }));
      } catch (err) {
        log.error("an event subscriber failed", { event: event.kind, ...describeError(err) });
      }
    }
  }
}

/** The event a finished task's outcome makes, if any (a canceled task tells nothing). */
export function outcomeEvent(op: string, outcome: "done" | "failed" | "canceled"): EventKind | undefined {
  if (outcome === "canceled") return undefined;
  if (op === "backup") return outcome === "done" ? "backup.succeeded" : "backup.failed";
  if (op === "restore") return "restore.finished";
  if (op === "purge") return outcome === "failed" ? "purge.failed" : undefined;
  if (op === "drill") return outcome === "done" ? "drill.succeeded" : "drill.failed";
  return undefined;
}
