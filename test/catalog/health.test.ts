// The catalog's health queries on every dialect: a list of jobs longer than the
// IN list they bound (the whole catalog read, then picked) answers as a short one;
// the last run is the newest that ended; the window's medians and trend.
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { dialects } from "../helpers/catalog.ts";
import { T0, makeJob, makeRetention, makeSchedule, makeStore, makeTarget, taskRow, archiveRow, useCatalog } from "./fixtures.ts";

for (const dialect of dialects) {
  describe(`catalog health queries on ${dialect}`, () => {
    const c = useCatalog(dialect);
    const jobs: string[] = [];
    let shared: { target: string; store: string; schedule: string; retention: string };

    /** A backup of `job` that ended at T0 + `at` after `duration` s, with an archive of `size` when done. */
    async function ran(job: string, status: "done" | "failed" | "canceled", at: number, duration: number, size?: number) {
      const { catalog, raw } = c();
      const archive = size === undefined ? null : archiveRow({ targetUuid: shared.target, storeUuid: shared.store, jobUuid: job, size, takenAt: T0 + at - duration });
      if (archive) await catalog.archives.create(archive);
      const row = taskRow({ jobUuid: job, requestedAt: T0 + at - duration });
      await catalog.tasks.create(row);
      const h = await raw();
      await h.db.update(h.t.tasks).set({ status, startedAt: T0 + at - duration, stoppedAt: T0 + at, archiveUuid: archive?.uuid ?? null, error: status === "failed" ? "boom" : null })
        .where(eq(h.t.tasks.uuid, row.uuid));
      return row.uuid;
    }

    test("602 jobs: the runs of a long list are those of each job alone", async () => {
      const { catalog } = c();
      shared = { target: await makeTarget(catalog), store: await makeStore(catalog), schedule: await makeSchedule(catalog), retention: await makeRetention(catalog) };
      for (let i = 0; i < 602; i++) jobs.push(await makeJob(catalog, { ...shared, name: `job ${String(i).padStart(4, "0")}` }));
      await ran(jobs[0]!, "done", 100, 10, 1000);
      await ran(jobs[0]!, "done", 200, 30, 3000);
      const failed = await ran(jobs[0]!, "failed", 300, 5);
      await ran(jobs[0]!, "canceled", 400, 1);
      const last601 = await ran(jobs[601]!, "done", 50, 20, 500);
      for (const subset of [jobs, [jobs[0]!, jobs[601]!], undefined]) {
        const last = await catalog.health.lastRuns(subset);
        expect([...last.keys()].sort()).toEqual([jobs[0]!, jobs[601]!].sort());
        expect(last.get(jobs[0]!)).toMatchObject({ task: failed, status: "failed", error: "boom", stoppedAt: T0 + 300, size: null });
        expect(last.get(jobs[601]!)).toMatchObject({ task: last601, status: "done", size: 500 });
        const stats = await catalog.health.windowStats(T0, subset);
        expect(stats.get(jobs[0]!)).toEqual({ runs: 3, failures: 1, firstStoppedAt: T0 + 100, medianDurationS: 20, medianSize: 2000, sizeTrendPerDay: Math.round(2000 / (100 / 86400)) });
        expect(stats.get(jobs[601]!)).toEqual({ runs: 1, failures: 0, firstStoppedAt: T0 + 50, medianDurationS: 20, medianSize: 500, sizeTrendPerDay: null });
        expect(stats.has(jobs[1]!)).toBe(false);
      }
      // The last success, and a window that starts after some runs.
      expect((await catalog.health.lastRuns([jobs[0]!], true)).get(jobs[0]!)).toMatchObject({ status: "done", size: 3000 });
      expect((await catalog.health.windowStats(T0 + 250, jobs)).get(jobs[0]!)).toEqual({ runs: 1, failures: 1, firstStoppedAt: T0 + 300, medianDurationS: null, medianSize: null, sizeTrendPerDay: null });
      expect(await catalog.health.lastRuns([])).toEqual(new Map());
    });

    test("history: every finished backup, newest first, canceled too", async () => {
      const runs = await c().catalog.health.history(jobs[0]!, { limit: 10, offset: 0 });
      expect(runs.map((r) => r.status)).toEqual(["canceled", "failed", "done", "done"]);
    });
  });
}
