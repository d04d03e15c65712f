// Task events: which outcome makes which event, and that a subscriber failing
// (throwing, or rejecting later) neither reaches the emitter nor stops the others.
import { describe, expect, test } from "bun:test";
import { outcomeEvent, TaskEvents, type TaskEvent } from "../../src/core/events.ts";

describe("task events", () => {
  test("outcomes: a canceled task tells nothing; a purge tells only of a failure", () => {
    expect(outcomeEvent("backup", "failed")).toBe("backup.failed");
    expect(outcomeEvent("backup", "done")).toBe("backup.succeeded");
    expect(outcomeEvent("backup", "canceled")).toBeUndefined();
    expect(outcomeEvent("restore", "done")).toBe("restore.finished");
    expect(outcomeEvent("restore", "failed")).toBe("restore.finished");
    expect(outcomeEvent("purge", "failed")).toBe("purge.failed");
    expect(outcomeEvent("purge", "done")).toBeUndefined();
    expect(outcomeEvent("drill", "failed")).toBe("drill.failed");
    expect(outcomeEvent("drill", "done")).toBe("drill.succeeded");
  });

  test("a subscriber that throws or rejects does not reach the emitter, and the others still hear", async () => {
    const events = new TaskEvents();
    const heard: string[] = [];
    events.subscribe(() => { throw new Error("sync boom"); });
    events.subscribe(async () => { throw new Error("async boom"); });
    const off = events.subscribe((e) => { heard.push(e.kind); });
    const e: TaskEvent = { kind: "backup.failed", taskUuid: "t", at: 1 };
    expect(() => events.emit(e)).not.toThrow();
    await Bun.sleep(10);
    expect(heard).toEqual(["backup.failed"]);
    off();
    events.emit(e);
    expect(heard).toEqual(["backup.failed"]);
  });
});
