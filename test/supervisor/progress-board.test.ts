// The supervisor's progress board: the live bar of each task this daemon runs, and
// the wake-up of whoever waits for a task to end (GET /v1/task/:uuid?wait=).
import { describe, expect, test } from "bun:test";
import { ProgressBoard } from "../../src/supervisor/progress.ts";

describe("ProgressBoard", () => {
  test("a task's end (drop) wakes every waiter at once, and its bar is gone", async () => {
    const board = new ProgressBoard();
    board.set("t1", { phase: "backup", bytes: 1, total: null, startedAt: 0 } as never);
    const started = performance.now();
    const waits = [board.ended("t1", 5000), board.ended("t1", 5000)];
    setTimeout(() => board.drop("t1"), 50);
    await Promise.all(waits);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(board.get("t1")).toBeUndefined();
  });

  test("a wait ends by itself after its time; another task's end does not wake it", async () => {
    const board = new ProgressBoard();
    const started = performance.now();
    const wait = board.ended("t2", 300);
    board.drop("t3");
    await wait;
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    // Nothing is left waiting: a later end of t2 wakes no one and throws nothing.
    board.drop("t2");
  });
});
