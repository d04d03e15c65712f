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

    test("archive_totals follows every insert, change and delete of archives (its triggers)", async () => {
      const { catalog, raw } = c();
      const h = await raw();
      const { archives } = h.t;
      const target2 = await makeTarget(catalog, { name: "totals-target" });
      const store2 = await makeStore(catalog, { name: "totals-store" });
      // What the totals must equal: the archives grouped, as the statistics used to read them.
      const grouped = async () => (await h.db.select({ store: archives.storeUuid, status: archives.status, target: archives.targetUuid, uuid: archives.uuid, size: archives.size })
        .from(archives)).reduce((m, r) => {
        const k = `${r.store} ${r.status} ${r.target}`;
        const g = m.get(k) ?? { archives: 0, bytes: 0 };
        m.set(k, { archives: g.archives + 1, bytes: g.bytes + (r.size ?? 0) });
        return m;
      }, new Map<string, { archives: number; bytes: number }>());
      const kept = async () => new Map((await catalog.health.archiveTotals()).map((r) => [`${r.store} ${r.status} ${r.target}`, { archives: r.archives, bytes: r.bytes }]));
      const a = [
        archiveRow({ targetUuid: target2, storeUuid: store2, size: 10 }),
        archiveRow({ targetUuid: target2, storeUuid: store2, size: 20 }),
        archiveRow({ targetUuid: shared.target, storeUuid: store2, size: null }),
      ];
      for (const row of a) await catalog.archives.create(row);
      expect(await kept()).toEqual(await grouped());
      // Several rows in one statement, a status change, a size set later, a move to another store.
      await h.db.update(archives).set({ status: "expired" }).where(eq(archives.targetUuid, target2));
      await h.db.update(archives).set({ size: 5 }).where(eq(archives.uuid, a[2]!.uuid));
      await h.db.update(archives).set({ storeUuid: shared.store, status: "purged" }).where(eq(archives.uuid, a[0]!.uuid));
      await h.db.update(archives).set({ notes: "untouched totals" }).where(eq(archives.uuid, a[1]!.uuid));
      expect(await kept()).toEqual(await grouped());
      expect((await kept()).get(`${store2} expired ${target2}`)).toEqual({ archives: 1, bytes: 20 });
      await h.db.delete(archives).where(eq(archives.storeUuid, store2));
      expect(await kept()).toEqual(await grouped());
      expect((await kept()).has(`${store2} expired ${target2}`)).toBe(false);
    });
  });
}
