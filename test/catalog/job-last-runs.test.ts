// job_last_runs (migration 0016): each job's last run and last successful run, kept by
// triggers on tasks, archives and jobs. After every kind of change a task, an archive or
// a job goes through (runs ending done or failed, cancels, a run ending out of order,
// ties, the archive written after its task, the task pruner, a recorded run edited, a job
// deleted, the catalog reopened as by a daemon restart, the migration's backfill), the
// table equals what a plain reading of every task row says it must be.
import { describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { connectCatalog } from "../../src/catalog/index.ts";
import { migrations, statements } from "../../src/catalog/migrations.ts";
import { dialects } from "../helpers/catalog.ts";
import { T0, archiveRow, makeJob, makeRetention, makeSchedule, makeStore, makeTarget, taskRow, useCatalog } from "./fixtures.ts";

interface Kept { task: string; status: string; requestedAt: number; startedAt: number | null; stoppedAt: number; error: string | null; archive: string | null; size: number | null }

for (const dialect of dialects) {
  describe(`job_last_runs on ${dialect}`, () => {
    const c = useCatalog(dialect);
    let shared: { target: string; store: string; schedule: string; retention: string };
    const job: Record<"a" | "b" | "c" | "idle", string> = { a: "", b: "", c: "", idle: "" };

    const n = (x: unknown) => (x === null || x === undefined ? null : Number(x));

    /** What the table must hold: every task read, the newest run of each existing job picked in memory. */
    async function recomputed(): Promise<Map<string, Kept>> {
      const h = await c().raw();
      const { tasks, archives, jobs } = h.t;
      const existing = new Set((await h.db.select({ uuid: jobs.uuid }).from(jobs)).map((r) => r.uuid));
      const sizes = new Map((await h.db.select({ uuid: archives.uuid, size: archives.size }).from(archives)).map((r) => [r.uuid, n(r.size)]));
      const out = new Map<string, Kept>();
      for (const r of await h.db.select().from(tasks)) {
        if (r.op !== "backup" || r.jobUuid === null || !existing.has(r.jobUuid) || r.stoppedAt === null) continue;
        const run: Kept = {
          task: r.uuid, status: r.status, requestedAt: Number(r.requestedAt), startedAt: n(r.startedAt), stoppedAt: Number(r.stoppedAt),
          error: r.error, archive: r.archiveUuid, size: r.archiveUuid === null ? null : sizes.get(r.archiveUuid) ?? null,
        };
        const kinds = r.status === "done" ? ["last", "success"] : r.status === "failed" ? ["last"] : [];
        for (const kind of kinds) {
          const key = `${r.jobUuid} ${kind}`;
          const was = out.get(key);
          if (!was || run.stoppedAt > was.stoppedAt || (run.stoppedAt === was.stoppedAt && run.task > was.task)) out.set(key, run);
        }
      }
      return out;
    }

    /** What the table holds. */
    async function kept(): Promise<Map<string, Kept>> {
      const h = await c().raw();
      const r = h.t.jobLastRuns;
      const rows = await h.db.select().from(r);
      return new Map(rows.map((x) => [`${x.jobUuid} ${x.kind}`, {
        task: x.taskUuid, status: x.status, requestedAt: Number(x.requestedAt), startedAt: n(x.startedAt), stoppedAt: Number(x.stoppedAt),
        error: x.error, archive: x.archiveUuid, size: n(x.size),
      }]));
    }

    async function same(): Promise<Map<string, Kept>> {
      const want = await recomputed();
      expect(await kept()).toEqual(want);
      // And the readers answer from it.
      const { catalog } = c();
      const { last, succeeded } = await catalog.health.lastAndSucceeded();
      for (const [m, kind] of [[last, "last"], [succeeded, "success"]] as const) {
        expect(new Map([...m].map(([j, r]) => [`${j} ${kind}`, r.task]))).toEqual(new Map([...want].filter(([k]) => k.endsWith(` ${kind}`)).map(([k, r]) => [k, r.task])));
      }
      return want;
    }

    /** A backup of `j` filed, claimed and ended through the supervisor's catalog calls. */
    async function ran(j: string, status: "done" | "failed", at: number, o: { size?: number; archive?: string; uuid?: string } = {}) {
      const { catalog, raw } = c();
      const h = await raw();
      let archive = o.archive;
      if (o.size !== undefined) {
        const row = archiveRow({ targetUuid: shared.target, storeUuid: shared.store, jobUuid: j, size: o.size, takenAt: T0 + at - 10 });
        await catalog.archives.create(row);
        archive = row.uuid;
      }
      const row = taskRow({ jobUuid: j, requestedAt: T0 + at - 20, ...(o.uuid ? { uuid: o.uuid } : {}) });
      await catalog.tasks.create(row);
      await h.db.update(h.t.tasks).set({ status: "running", startedAt: T0 + at - 10 }).where(eq(h.t.tasks.uuid, row.uuid));
      expect(await catalog.tasks.finish(row.uuid, status, T0 + at, archive, undefined, status === "failed" ? `boom at ${at}` : null)).toBe(true);
      return { task: row.uuid, archive };
    }

    test("runs ending done and failed, cancels, out of order, ties", async () => {
      const { catalog } = c();
      shared = { target: await makeTarget(catalog), store: await makeStore(catalog), schedule: await makeSchedule(catalog), retention: await makeRetention(catalog) };
      for (const k of Object.keys(job) as (keyof typeof job)[]) job[k] = await makeJob(catalog, { ...shared, name: `job-${k}` });
      expect((await same()).size).toBe(0);

      await ran(job.a, "done", 100, { size: 1000 });
      const failedA = await ran(job.a, "failed", 200);
      let want = await same();
      expect(want.get(`${job.a} last`)).toMatchObject({ task: failedA.task, status: "failed", error: "boom at 200", size: null });
      expect(want.get(`${job.a} success`)).toMatchObject({ status: "done", size: 1000 });

      // A cancel is no run: neither a pending task canceled nor a running one.
      const pending = taskRow({ jobUuid: job.a, requestedAt: T0 + 250 });
      await catalog.tasks.create(pending);
      await catalog.tasks.cancel(pending.uuid, T0 + 300);
      await same();

      const newer = await ran(job.b, "done", 500, { size: 50 });
      // A run that ended earlier, recorded later (a slow daemon): the newer stays.
      await ran(job.b, "done", 400, { size: 40 });
      want = await same();
      expect(want.get(`${job.b} last`)?.task).toBe(newer.task);
      // Ties on the end time: the greater uuid, as the readers order them.
      await ran(job.b, "failed", 600, { uuid: "ffffffff-0000-4000-8000-000000000000" });
      await ran(job.b, "failed", 600, { uuid: "00000000-0000-4000-8000-000000000000" });
      want = await same();
      expect(want.get(`${job.b} last`)?.task).toBe("ffffffff-0000-4000-8000-000000000000");

      // A task of a job that does not exist (deleted long ago) or of no job: no row.
      const orphan = taskRow({ jobUuid: crypto.randomUUID(), requestedAt: T0 });
      await catalog.tasks.create(orphan);
      await same();
    });

    test("the archive's size: written after its task ended, changed, deleted", async () => {
      const { catalog, raw } = c();
      const h = await raw();
      const later = archiveRow({ targetUuid: shared.target, storeUuid: shared.store, jobUuid: job.c, size: 777, takenAt: T0 + 690 });
      await ran(job.c, "done", 700, { archive: later.uuid });
      expect((await same()).get(`${job.c} last`)?.size).toBeNull();
      await catalog.archives.create(later);
      expect((await same()).get(`${job.c} success`)?.size).toBe(777);
      await h.db.update(h.t.archives).set({ size: 778 }).where(eq(h.t.archives.uuid, later.uuid));
      await h.db.update(h.t.archives).set({ status: "expired" }).where(eq(h.t.archives.jobUuid, job.c));
      expect((await same()).get(`${job.c} last`)?.size).toBe(778);
      await h.db.delete(h.t.archives).where(eq(h.t.archives.uuid, later.uuid));
      expect((await same()).get(`${job.c} last`)?.size).toBeNull();
    });

    test("the task pruner: a job's recorded run deleted, the one before it takes its place", async () => {
      const { catalog, raw } = c();
      const h = await raw();
      // job a: done at 100 (archive held: kept by the pruner), failed at 200 (pruned).
      expect(await catalog.tasks.deleteFinishedBefore(T0 + 250)).toBeGreaterThan(0);
      let want = await same();
      expect(want.get(`${job.a} last`)).toMatchObject({ status: "done", stoppedAt: T0 + 100, size: 1000 });
      // Its archive purged: now the pruner takes the last run too, and the job has none.
      await h.db.update(h.t.archives).set({ status: "purged", purgedAt: T0 + 260 }).where(eq(h.t.archives.jobUuid, job.a));
      await catalog.tasks.deleteFinishedBefore(T0 + 250);
      want = await same();
      expect(want.has(`${job.a} last`)).toBe(false);
      expect(want.has(`${job.a} success`)).toBe(false);
      // Many at once, in one statement: every run of job b but the latest.
      await h.db.update(h.t.archives).set({ status: "purged", purgedAt: T0 + 700 }).where(eq(h.t.archives.jobUuid, job.b));
      await catalog.tasks.deleteFinishedBefore(T0 + 600);
      want = await same();
      expect(want.get(`${job.b} success`)).toBeUndefined();
      expect(want.get(`${job.b} last`)?.task).toBe("ffffffff-0000-4000-8000-000000000000");
      // The pruner keeps taking the newest: then the tie's other task.
      await h.db.delete(h.t.tasks).where(eq(h.t.tasks.uuid, "ffffffff-0000-4000-8000-000000000000"));
      expect((await same()).get(`${job.b} last`)?.task).toBe("00000000-0000-4000-8000-000000000000");
    });

    test("a recorded run edited: its job's runs read again", async () => {
      const { raw } = c();
      const h = await raw();
      const a1 = await ran(job.a, "done", 800, { size: 8 });
      const a2 = await ran(job.a, "failed", 900);
      await same();
      // Its end time moved before another run's, its status back to failed, to another job, its error rewritten.
      await h.db.update(h.t.tasks).set({ stoppedAt: T0 + 850 }).where(eq(h.t.tasks.uuid, a2.task));
      await same();
      await h.db.update(h.t.tasks).set({ status: "failed", error: "was done" }).where(eq(h.t.tasks.uuid, a1.task));
      expect((await same()).has(`${job.a} success`)).toBe(false);
      await h.db.update(h.t.tasks).set({ jobUuid: job.idle }).where(eq(h.t.tasks.uuid, a2.task));
      await same();
      await h.db.update(h.t.tasks).set({ error: "rewritten" }).where(eq(h.t.tasks.uuid, a1.task));
      expect((await same()).get(`${job.a} last`)?.error).toBe("rewritten");
      await h.db.update(h.t.tasks).set({ status: "running", stoppedAt: null }).where(eq(h.t.tasks.uuid, a2.task));
      expect((await same()).has(`${job.idle} last`)).toBe(false);
      await h.db.update(h.t.tasks).set({ log: sql`${h.t.tasks.log} || 'a line'` }).where(eq(h.t.tasks.uuid, a1.task));
      await same();
    });

    test("a job deleted: its rows go, and its old tasks never bring them back", async () => {
      const { catalog, raw } = c();
      const h = await raw();
      expect((await same()).has(`${job.c} last`)).toBe(true);
      expect(await catalog.jobs.delete(job.c)).toBe(true);
      expect((await same()).has(`${job.c} last`)).toBe(false);
      await h.db.update(h.t.tasks).set({ error: "after the job" }).where(eq(h.t.tasks.jobUuid, job.c));
      await catalog.tasks.deleteFinishedBefore(T0 + 100_000);
      await same();
    });

    test("a daemon restart: the catalog reopened keeps the table, and runs ending then follow", async () => {
      const { catalog } = c();
      const again = await connectCatalog(catalog.description);
      try {
        const before = await same();
        expect(await again.health.lastRuns()).toEqual(await catalog.health.lastRuns());
        // A run the reopened catalog ends (as the supervisor of the restarted daemon would).
        const row = taskRow({ jobUuid: job.b, requestedAt: T0 + 1000 });
        await again.tasks.create(row);
        const h = await c().raw();
        await h.db.update(h.t.tasks).set({ status: "running", startedAt: T0 + 1001 }).where(eq(h.t.tasks.uuid, row.uuid));
        await again.tasks.finish(row.uuid, "failed", T0 + 1002, undefined, undefined, "after the restart");
        const after = await same();
        expect(after.get(`${job.b} last`)).toMatchObject({ task: row.uuid, error: "after the restart" });
        expect(after.size).toBe(before.size + (before.has(`${job.b} last`) ? 0 : 1));
      } finally {
        await again.close();
      }
    });

    test("the migration's backfill rebuilds the table from the tasks", async () => {
      const h = await c().raw();
      await ran(job.a, "done", 1100, { size: 11 });
      await ran(job.a, "failed", 1200);
      await ran(job.idle, "done", 1150, { size: 5 });
      const want = await same();
      expect(want.size).toBe(5);
      const m = migrations[dialect].find((x) => x.tag === "0016_job_last_runs")!;
      const backfill = statements(m).filter((s) => /^(-- [^\n]*\n)*INSERT INTO/.test(s));
      expect(backfill.length).toBe(2);
      await h.db.delete(h.t.jobLastRuns);
      expect((await kept()).size).toBe(0);
      for (const s of backfill) {
        if (dialect === "pg") await h.db.execute(sql.raw(s));
        else (h.db as unknown as { run(q: unknown): void }).run(sql.raw(s));
      }
      expect(await kept()).toEqual(want);
    });
  });
}
