// The drill scheduler on both dialects: a new drill gets its first due time from
// its schedule; a due drill is filed once as a `drill` task on its scratch target
// (two daemons ticking together file it once); a paused job's drill is skipped;
// a deleted job's drill is dropped.
import { describe, expect, test } from "bun:test";
import { nowSeconds } from "../../src/catalog/index.ts";
import { DrillScheduler } from "../../src/scheduler/drills.ts";
import { dialects } from "../helpers/catalog.ts";
import { makeJob, makeSchedule, makeTarget, useCatalog } from "../catalog/fixtures.ts";

const ALL = { limit: 1000, offset: 0 };

for (const dialect of dialects) {
  describe(`drill scheduler on ${dialect}`, () => {
    const open = useCatalog(dialect);
    const c = () => open().catalog;
    const tick = async () => {
      // Two schedulers at once, as two daemons on one catalog.
      const a = new DrillScheduler({ catalog: c(), everyMs: 3_600_000 });
      const b = new DrillScheduler({ catalog: c(), everyMs: 3_600_000 });
      a.start(); b.start();
      await Promise.all([a.stop(), b.stop()]);
    };

    test("first due time from the schedule; due: filed once; then the next due time", async () => {
      const job = await makeJob(c());
      const scratch = await makeTarget(c());
      const schedule = await makeSchedule(c(), { timespec: "daily at 4am" });
      await c().drills.set({ jobUuid: job, scratchTargetUuid: scratch, scheduleUuid: schedule, nextDueAt: null, createdAt: nowSeconds() });
      await tick();
      const first = (await c().drills.get(job))!.nextDueAt!;
      expect(first).toBeGreaterThan(nowSeconds());
      expect(first - nowSeconds()).toBeLessThanOrEqual(86400);
      // Make it due now.
      await c().drills.advance(job, first, nowSeconds() - 5);
      await tick();
      const tasks = (await c().tasks.list({ job }, ALL)).filter((t) => t.op === "drill");
      expect(tasks.length).toBe(1);
      expect(tasks[0]).toMatchObject({ owner: "system", requestedBy: "drills", targetUuid: scratch, status: "pending" });
      expect((await c().drills.get(job))!.nextDueAt!).toBeGreaterThan(nowSeconds());
      await tick();
      expect((await c().tasks.list({ job }, ALL)).filter((t) => t.op === "drill").length).toBe(1);
    });

    test("a paused job's due drill is skipped (its due time moves on); a deleted job's drill is dropped", async () => {
      const job = await makeJob(c(), { paused: true });
      const schedule = await makeSchedule(c());
      await c().drills.set({ jobUuid: job, scratchTargetUuid: await makeTarget(c()), scheduleUuid: schedule, nextDueAt: nowSeconds() - 5, createdAt: nowSeconds() });
      await tick();
      expect((await c().tasks.list({ job }, ALL)).length).toBe(0);
      expect((await c().drills.get(job))!.nextDueAt!).toBeGreaterThan(nowSeconds());
      const gone = crypto.randomUUID();
      await c().drills.set({ jobUuid: gone, scratchTargetUuid: await makeTarget(c()), scheduleUuid: schedule, nextDueAt: null, createdAt: nowSeconds() });
      await tick();
      expect(await c().drills.get(gone)).toBeUndefined();
    });
  });
}
