// The task event bus: which end of a task makes which event, and its contract:
// listeners are called in turn and synchronously, and one that throws (or rejects
// later) neither reaches the emitter nor keeps the others from hearing.
import { describe, expect, test } from "bun:test";
import { eventName, TaskEventBus, type TaskEvent } from "../../src/core/task-events.ts";
import { log } from "../../src/log.ts";

const event: TaskEvent = {
  name: "backup_failed", task: "t", op: "backup", outcome: "failed", job: null, target: null, store: null,
  archive: null, startedAt: 1, stoppedAt: 2, durationS: 1, size: null, error: "boom",
};

describe("task events", () => {
  test("names: by op and outcome; an op without names of its own ends as task_finished", () => {
    expect(eventName("backup", "done")).toBe("backup_succeeded");
    expect(eventName("backup", "failed")).toBe("backup_failed");
    expect(eventName("backup", "canceled")).toBe("backup_canceled");
    expect(eventName("restore", "done")).toBe("restore_finished");
    expect(eventName("restore", "failed")).toBe("restore_finished");
    expect(eventName("purge", "done")).toBe("purge_succeeded");
    expect(eventName("purge", "failed")).toBe("purge_failed");
    expect(eventName("purge", "canceled")).toBe("task_finished");
    expect(eventName("drill", "done")).toBe("drill_succeeded");
    expect(eventName("drill", "failed")).toBe("drill_failed");
    expect(eventName("drill", "canceled")).toBe("task_finished");
    expect(eventName("copy", "done")).toBe("task_finished");
  });

  test("listeners hear in turn before emit returns; one that throws or rejects is logged, and the others still hear", async () => {
    const logged: string[] = [];
    log.setSink((line) => { logged.push(line); });
    try {
      const bus = new TaskEventBus();
      const heard: string[] = [];
      bus.on(() => { heard.push("first"); throw new Error("sync boom"); });
      bus.on(async () => { heard.push("second"); throw new Error("async boom"); });
      const off = bus.on((e) => { heard.push(`third ${e.name}`); });
      expect(() => bus.emit(event)).not.toThrow();
      // Synchronous: all have been called when emit returns.
      expect(heard).toEqual(["first", "second", "third backup_failed"]);
      await Bun.sleep(10);
      expect(logged.filter((l) => l.includes("an event subscriber failed"))).toHaveLength(2);
      off();
      bus.emit(event);
      expect(heard).toEqual(["first", "second", "third backup_failed", "first", "second"]);
    } finally {
      log.setSink(() => {});
    }
  });
});
