// The catalog's guards for the queue, the scheduler and retention, on both
// dialects: claim order, one running backup or restore per target (also when
// several handles claim at once), one task per job and due time, the due time's
// compare-and-set, and the purge bookkeeping and audit trimming.
import { describe, expect, test } from "bun:test";
import { connectCatalog, type Catalog } from "../../src/catalog/index.ts";
import { dialects } from "../helpers/catalog.ts";
import { archiveRow, makeJob, makeStore, makeTarget, T0, taskRow, useCatalog } from "./fixtures.ts";

const ALL = { limit: 1000, offset: 0 };

for (const dialect of dialects) {
  describe(`queue guards on ${dialect}`, () => {
    const open = useCatalog(dialect);
    const c = () => open().catalog;

    /** Claims until the queue gives nothing; returns the claimed uuids in order. */
    async function drain(cat: Catalog = c()): Promise<string[]> {
      const out: string[] = [];
      for (let t = await cat.tasks.claim(T0); t; t = await cat.tasks.claim(T0)) out.push(t.uuid);
      return out;
    }
    async function finishAll(): Promise<void> {
      for (const t of await c().tasks.list({ status: "running" }, ALL)) await c().tasks.finish(t.uuid, "done", T0);
      for (const t of await c().tasks.list({ status: "pending" }, ALL)) await c().tasks.cancel(t.uuid, T0);
    }

    test("claim takes the highest priority first (0 highest), then the oldest; a task without a job counts as 50", async () => {
      const mk = async (priority: number) => makeJob(c(), { priority });
      const [p90, p10, p50] = [await mk(90), await mk(10), await mk(50)];
      const rows = [
        taskRow({ jobUuid: p90, requestedAt: T0 - 500 }),
        taskRow({ jobUuid: p50, requestedAt: T0 - 100 }),
        taskRow({ op: "restore", jobUuid: null, archiveUuid: crypto.randomUUID(), requestedAt: T0 - 200 }),
        taskRow({ jobUuid: p10, requestedAt: T0 - 10 }),
        taskRow({ jobUuid: p50, requestedAt: T0 - 300 }),
      ];
      for (const r of rows) await c().tasks.create(r);
      expect(await drain()).toEqual([rows[3]!.uuid, rows[4]!.uuid, rows[2]!.uuid, rows[1]!.uuid, rows[0]!.uuid]);
      await finishAll();
    });

    test("a backup or restore whose target has one running waits; purges and other targets do not", async () => {
      const [a, b] = [await makeTarget(c()), await makeTarget(c())];
      const rows = [
        taskRow({ targetUuid: a, requestedAt: T0 - 40 }),
        taskRow({ op: "restore", targetUuid: a, requestedAt: T0 - 30 }),
        taskRow({ op: "purge", targetUuid: a, archiveUuid: crypto.randomUUID(), requestedAt: T0 - 20 }),
        taskRow({ targetUuid: b, requestedAt: T0 - 10 }),
      ];
      for (const r of rows) await c().tasks.create(r);
      expect(await drain()).toEqual([rows[0]!.uuid, rows[2]!.uuid, rows[3]!.uuid]);
      await c().tasks.finish(rows[0]!.uuid, "done", T0);
      expect(await drain()).toEqual([rows[1]!.uuid]);
      await finishAll();
    });

    test("a store's max_tasks: its running tasks of any kind stay below it; 0 is no limit", async () => {
      const two = await makeStore(c(), { maxTasks: 2 });
      const free = await makeStore(c());
      const rows = [
        taskRow({ targetUuid: await makeTarget(c()), storeUuid: two, requestedAt: T0 - 50 }),
        taskRow({ op: "copy", targetUuid: null, storeUuid: two, archiveUuid: crypto.randomUUID(), requestedAt: T0 - 40 }),
        taskRow({ op: "purge", targetUuid: await makeTarget(c()), storeUuid: two, archiveUuid: crypto.randomUUID(), requestedAt: T0 - 30 }),
        ...[0, 1, 2].map(async (i) => taskRow({ targetUuid: await makeTarget(c()), storeUuid: free, requestedAt: T0 - 20 + i })),
      ];
      const made = await Promise.all(rows);
      for (const r of made) await c().tasks.create(r);
      // Two of the limited store's three, and all three of the other's.
      expect(await drain()).toEqual([made[0]!.uuid, made[1]!.uuid, made[3]!.uuid, made[4]!.uuid, made[5]!.uuid]);
      await c().tasks.finish(made[1]!.uuid, "done", T0);
      expect(await drain()).toEqual([made[2]!.uuid]);
      await finishAll();
    });

    test("several catalog handles claiming at once never run two tasks of one target", async () => {
      const targets = [await makeTarget(c()), await makeTarget(c()), await makeTarget(c())];
      for (let i = 0; i < 30; i++) await c().tasks.create(taskRow({ targetUuid: targets[i % 3]!, requestedAt: T0 - 100 + i }));
      const handles = [c(), await connectCatalog(c().description), await connectCatalog(c().description), await connectCatalog(c().description)];
      try {
        // Eight workers over four handles claim until each gets nothing.
        const claimed = (await Promise.all([...handles, ...handles].map((h) => drain(h)))).flat();
        expect(claimed).toHaveLength(3);
        const running = await c().tasks.list({ status: "running" }, ALL);
        expect(new Set(running.map((t) => t.targetUuid))).toEqual(new Set(targets));
      } finally {
        for (const h of handles.slice(1)) await h.close();
      }
      await finishAll();
    });

    test("one task per job and due time: filing it again is a no-op", async () => {
      const job = await makeJob(c());
      const row = { ...taskRow({ jobUuid: job, owner: "system" }), dueAt: T0 + 3600 };
      expect(await c().tasks.fileScheduled(row)).toBe(true);
      expect(await c().tasks.fileScheduled({ ...row, uuid: crypto.randomUUID() })).toBe(false);
      expect(await c().tasks.fileScheduled({ ...row, uuid: crypto.randomUUID(), dueAt: T0 + 7200 })).toBe(true);
      // Ad hoc tasks (no due time) never collide.
      await c().tasks.create(taskRow({ jobUuid: job }));
      await c().tasks.create(taskRow({ jobUuid: job }));
      expect((await c().tasks.list({ job }, ALL)).map((t) => t.dueAt).sort()).toEqual([T0 + 3600, T0 + 7200, null, null].sort());
      expect(await c().tasks.unfinishedBackup(job)).toBeDefined();
      await finishAll();
      expect(await c().tasks.unfinishedBackup(job)).toBeUndefined();
    });

    test("the next due time moves only from what the caller saw; pausing forgets it", async () => {
      const job = await makeJob(c());
      expect(await c().jobs.advanceDue(job, { at: null, spec: null }, { at: 100, spec: "s" })).toBe(true);
      expect(await c().jobs.advanceDue(job, { at: null, spec: null }, { at: 200, spec: "s" })).toBe(false);
      expect(await c().jobs.advanceDue(job, { at: 100, spec: "other" }, { at: 200, spec: "s" })).toBe(false);
      expect(await c().jobs.advanceDue(job, { at: 100, spec: "s" }, { at: 200, spec: "s" })).toBe(true);
      expect(await c().jobs.schedulingOf(job)).toMatchObject({ nextDueAt: 200, nextDueSpec: "s", paused: false });
      await c().jobs.setPaused(job, true);
      expect(await c().jobs.schedulingOf(job)).toMatchObject({ nextDueAt: null, nextDueSpec: null, paused: true });
    });

    test("retention: expire, take a purge once, back off after a failure, mark purged", async () => {
      const target = await makeTarget(c());
      const a = archiveRow({ targetUuid: target, storeUuid: crypto.randomUUID(), expiresAt: T0 + 100 });
      const later = archiveRow({ targetUuid: target, storeUuid: a.storeUuid, expiresAt: T0 + 10_000 });
      await c().archives.create(a);
      await c().archives.create(later);
      expect(await c().archives.expireDue(T0 + 99)).toBe(0);
      expect(await c().archives.expireDue(T0 + 100)).toBe(1);
      expect((await c().archives.purgeDue(T0 + 100, 10)).map((r) => r.uuid)).toEqual([a.uuid]);
      expect(await c().archives.takePurge(a.uuid, T0 + 100, 600)).toBe(true);
      // Taken: not offered again, nor taken twice, until the lease runs out.
      expect(await c().archives.purgeDue(T0 + 101, 10)).toEqual([]);
      expect(await c().archives.takePurge(a.uuid, T0 + 101, 600)).toBe(false);
      // A purge task of it on its way holds it even past the lease.
      const purgeTask = taskRow({ op: "purge", archiveUuid: a.uuid });
      await c().tasks.create(purgeTask);
      expect(await c().tasks.unfinishedPurge(a.uuid)).toBe(true);
      expect(await c().archives.takePurge(a.uuid, T0 + 800, 600)).toBe(false);
      await c().tasks.cancel(purgeTask.uuid, T0);
      await c().archives.markPurgeFailed(a.uuid, "store purge failed (exit 4)", T0 + 900);
      expect(await c().archives.get(a.uuid)).toMatchObject({ status: "purge_failed", purgeAttempts: 1, purgeError: "store purge failed (exit 4)", purgeNextAt: T0 + 900 });
      expect(await c().archives.purgeDue(T0 + 899, 10)).toEqual([]);
      expect(await c().archives.takePurge(a.uuid, T0 + 900, 600)).toBe(true);
      expect(await c().archives.markPurged(a.uuid, T0 + 950)).toBe(true);
      expect(await c().archives.get(a.uuid)).toMatchObject({ status: "purged", purgedAt: T0 + 950, purgeError: null, purgeNextAt: null, purgeAttempts: 1 });
      // A valid archive is never marked purged.
      expect(await c().archives.markPurged(later.uuid, T0)).toBe(false);
    });

    test("the audit trail: purged rows and finished tasks go after the audit period; a held archive's backup log stays", async () => {
      const target = await makeTarget(c());
      const purged = archiveRow({ targetUuid: target, storeUuid: crypto.randomUUID(), status: "purged", purgedAt: T0 });
      const held = archiveRow({ targetUuid: target, storeUuid: purged.storeUuid });
      await c().archives.create(purged);
      await c().archives.create(held);
      const oldDone = taskRow({ archiveUuid: purged.uuid, requestedAt: T0 - 4 });
      const heldBackup = taskRow({ archiveUuid: held.uuid, requestedAt: T0 - 3 });
      const recent = taskRow({ requestedAt: T0 - 2 });
      const stillPending = taskRow({ requestedAt: T0 - 1 });
      for (const t of [oldDone, heldBackup, recent, stillPending]) await c().tasks.create(t);
      for (let i = 0; i < 3; i++) await c().tasks.claim(T0);
      await c().tasks.finish(oldDone.uuid, "done", T0);
      await c().tasks.finish(heldBackup.uuid, "done", T0);
      await c().tasks.finish(recent.uuid, "failed", T0 + 5000);
      expect(await c().archives.deletePurgedBefore(T0)).toBe(0);
      expect(await c().archives.deletePurgedBefore(T0 + 1)).toBe(1);
      expect(await c().archives.get(purged.uuid)).toBeUndefined();
      expect(await c().archives.get(held.uuid)).toBeDefined();
      // Earlier tests of this catalog left tasks finished at T0 too: they go as well.
      expect(await c().tasks.deleteFinishedBefore(T0 + 1)).toBeGreaterThanOrEqual(1);
      expect(await c().tasks.get(oldDone.uuid)).toBeUndefined();
      expect(await c().tasks.get(heldBackup.uuid)).toBeDefined();
      expect(await c().tasks.get(recent.uuid)).toBeDefined();
      expect(await c().tasks.get(stillPending.uuid)).toBeDefined();
      await finishAll();
    });
  });
}
