import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import type { TaskRow } from "../../src/catalog/index.ts";
import type { CatalogHandle } from "../../src/catalog/open.ts";
import { dialects } from "../helpers/catalog.ts";
import { T0, taskRow, useCatalog } from "./fixtures.ts";

const ALL = { limit: 1000, offset: 0 };
const uuids = (rows: { uuid: string }[]) => rows.map((r) => r.uuid);

/** What the worker pool does to a task, which the catalog's task queries do not offer yet. */
async function setState(raw: CatalogHandle, uuid: string, v: Partial<Pick<TaskRow, "status" | "startedAt" | "stoppedAt" | "log">>): Promise<void> {
  await raw.db.update(raw.t.tasks).set(v).where(eq(raw.t.tasks.uuid, uuid));
}

for (const dialect of dialects) {
  describe(`tasks on ${dialect}`, () => {
    describe("listing", () => {
      const open = useCatalog(dialect);
      const c = () => open().catalog;
      const jobA = crypto.randomUUID();
      const jobB = crypto.randomUUID();
      const archive = crypto.randomUUID();
      // k0 is the oldest; k5 and k6 are requested at the same second.
      const k: ReturnType<typeof taskRow>[] = [];
      let tie: string[] = [];
      beforeAll(async () => {
        const spec: [Partial<ReturnType<typeof taskRow>>, TaskRow["status"]][] = [
          [{ op: "backup", jobUuid: jobA, owner: "system" }, "pending"],
          [{ op: "backup", jobUuid: jobB, owner: "system" }, "running"],
          [{ op: "restore", archiveUuid: archive, owner: "alice" }, "done"],
          [{ op: "backup", jobUuid: jobA, owner: "alice" }, "failed"],
          [{ op: "purge", archiveUuid: archive, owner: "system" }, "canceled"],
          [{ op: "backup", jobUuid: jobA, owner: "system" }, "pending"],
          [{ op: "backup", jobUuid: jobA, owner: "bob" }, "pending"],
        ];
        spec.forEach(([o], i) => k.push(taskRow({ ...o, requestedAt: T0 + Math.min(i, 5) * 60 })));
        // Created newest first, so that the order of the list is the query's, not the table's.
        for (const row of [...k].reverse()) await c().tasks.create(row);
        for (const [i, [, status]] of spec.entries()) if (status !== "pending") await setState(await open().raw(), k[i]!.uuid, { status });
        tie = k[5]!.uuid > k[6]!.uuid ? [k[5]!.uuid, k[6]!.uuid] : [k[6]!.uuid, k[5]!.uuid];
      });

      test("create makes a pending task with an empty log and no start or stop", async () => {
        expect(await c().tasks.get(k[0]!.uuid)).toEqual({ ...k[0]!, status: "pending", log: "", startedAt: null, stoppedAt: null, storeKey: null, dueAt: null });
        expect(await c().tasks.get(k[2]!.uuid)).toMatchObject({ op: "restore", owner: "alice", jobUuid: null, archiveUuid: archive, targetUuid: null, storeUuid: null });
        expect(await c().tasks.get(crypto.randomUUID())).toBeUndefined();
      });

      test("list is newest first, a tie on requested_at broken by uuid", async () => {
        expect(uuids(await c().tasks.list({}, ALL))).toEqual([...tie, k[4]!.uuid, k[3]!.uuid, k[2]!.uuid, k[1]!.uuid, k[0]!.uuid]);
      });

      test("status= filter", async () => {
        expect(uuids(await c().tasks.list({ status: "pending" }, ALL))).toEqual([...tie, k[0]!.uuid]);
        expect(uuids(await c().tasks.list({ status: "running" }, ALL))).toEqual([k[1]!.uuid]);
        expect(uuids(await c().tasks.list({ status: "done" }, ALL))).toEqual([k[2]!.uuid]);
        expect(uuids(await c().tasks.list({ status: "failed" }, ALL))).toEqual([k[3]!.uuid]);
        expect(uuids(await c().tasks.list({ status: "canceled" }, ALL))).toEqual([k[4]!.uuid]);
      });

      test("job= and archive= filters", async () => {
        expect(uuids(await c().tasks.list({ job: jobA }, ALL))).toEqual([...tie, k[3]!.uuid, k[0]!.uuid]);
        expect(uuids(await c().tasks.list({ job: jobB }, ALL))).toEqual([k[1]!.uuid]);
        expect(uuids(await c().tasks.list({ archive }, ALL))).toEqual([k[4]!.uuid, k[2]!.uuid]);
        expect(await c().tasks.list({ job: crypto.randomUUID() }, ALL)).toEqual([]);
        expect(await c().tasks.list({ archive: crypto.randomUUID() }, ALL)).toEqual([]);
      });

      test("filters combine with AND", async () => {
        expect(uuids(await c().tasks.list({ job: jobA, status: "pending" }, ALL))).toEqual([...tie, k[0]!.uuid]);
        expect(uuids(await c().tasks.list({ job: jobA, status: "failed" }, ALL))).toEqual([k[3]!.uuid]);
        expect(uuids(await c().tasks.list({ archive, status: "done" }, ALL))).toEqual([k[2]!.uuid]);
        expect(await c().tasks.list({ job: jobB, status: "pending" }, ALL)).toEqual([]);
        expect(await c().tasks.list({ job: jobA, archive }, ALL)).toEqual([]);
      });

      test("limit and offset page through the same order", async () => {
        const all = uuids(await c().tasks.list({}, ALL));
        expect(all).toHaveLength(7);
        const pages: string[] = [];
        for (let offset = 0; offset < 7; offset += 2) {
          const page = uuids(await c().tasks.list({}, { limit: 2, offset }));
          expect(page).toEqual(all.slice(offset, offset + 2));
          pages.push(...page);
        }
        expect(pages).toEqual(all);
        expect(await c().tasks.list({}, { limit: 2, offset: 7 })).toEqual([]);
        expect(uuids(await c().tasks.list({ job: jobA }, { limit: 2, offset: 1 }))).toEqual([tie[1]!, k[3]!.uuid]);
      });
    });

    describe("cancel", () => {
      const open = useCatalog(dialect);
      const c = () => open().catalog;
      const create = async (status: TaskRow["status"], v: Partial<Pick<TaskRow, "startedAt" | "stoppedAt" | "log">> = {}) => {
        const row = taskRow({ jobUuid: crypto.randomUUID() });
        await c().tasks.create(row);
        if (status !== "pending" || Object.keys(v).length) await setState(await open().raw(), row.uuid, { status, ...v });
        return row.uuid;
      };

      test("a pending task is canceled and stopped now, once", async () => {
        const uuid = await create("pending");
        expect(await c().tasks.cancel(uuid, T0 + 10)).toBe(true);
        expect(await c().tasks.get(uuid)).toMatchObject({ status: "canceled", startedAt: null, stoppedAt: T0 + 10 });
        expect(await c().tasks.cancel(uuid, T0 + 20)).toBe(false);
        expect(await c().tasks.get(uuid)).toMatchObject({ status: "canceled", stoppedAt: T0 + 10 });
      });

      test("a running task is canceled, keeping when it started", async () => {
        const uuid = await create("running", { startedAt: T0 + 5, log: "dumping\n" });
        expect(await c().tasks.cancel(uuid, T0 + 10)).toBe(true);
        expect(await c().tasks.get(uuid)).toMatchObject({ status: "canceled", startedAt: T0 + 5, stoppedAt: T0 + 10, log: "dumping\n" });
      });

      test("a task that has finished is not overwritten", async () => {
        for (const status of ["done", "failed"] as const) {
          const uuid = await create(status, { startedAt: T0 + 5, stoppedAt: T0 + 8, log: "finished\n" });
          expect(await c().tasks.cancel(uuid, T0 + 10)).toBe(false);
          expect(await c().tasks.get(uuid)).toMatchObject({ status, startedAt: T0 + 5, stoppedAt: T0 + 8, log: "finished\n" });
        }
      });

      test("an unknown task is not canceled", async () => {
        expect(await c().tasks.cancel(crypto.randomUUID(), T0)).toBe(false);
      });

      test("only the named task is canceled", async () => {
        const a = await create("pending");
        const b = await create("pending");
        expect(await c().tasks.cancel(a, T0 + 10)).toBe(true);
        expect((await c().tasks.get(b))!.status).toBe("pending");
      });
    });

    describe("the queue", () => {
      const open = useCatalog(dialect);
      const c = () => open().catalog;
      const file = async (requestedAt: number) => {
        const row = taskRow({ jobUuid: crypto.randomUUID(), requestedAt });
        await c().tasks.create(row);
        return row.uuid;
      };
      /** Claims until the queue is empty, in claim order. */
      const drain = async (now: number) => {
        const got: string[] = [];
        for (let t = await c().tasks.claim(now); t; t = await c().tasks.claim(now)) got.push(t.uuid);
        return got;
      };

      test("claim on an empty queue is undefined", async () => {
        expect(await c().tasks.claim(T0)).toBeUndefined();
      });

      test("claim takes the oldest pending task and marks it running", async () => {
        const newer = await file(T0 + 20);
        const oldest = await file(T0);
        const middle = await file(T0 + 10);
        const done = await file(T0 - 100);
        await setState(await open().raw(), done, { status: "done" });
        const claimed = await c().tasks.claim(T0 + 30);
        expect(claimed).toMatchObject({ uuid: oldest, status: "running", startedAt: T0 + 30, stoppedAt: null });
        expect(await c().tasks.get(oldest)).toEqual(claimed!);
        expect(await drain(T0 + 31)).toEqual([middle, newer]);
        expect(await c().tasks.status(done)).toBe("done");
      });

      test("concurrent claims never hand out one task twice", async () => {
        const filed = await Promise.all([1, 2, 3, 4].map((i) => file(T0 + 1000 + i)));
        const claimed = await Promise.all(Array.from({ length: 7 }, () => c().tasks.claim(T0 + 2000)));
        const got = claimed.filter((t) => t !== undefined).map((t) => t!.uuid);
        expect(got.toSorted()).toEqual(filed.toSorted());
        expect(claimed.filter((t) => t === undefined)).toHaveLength(3);
      });

      test("listRunning lists the running tasks only", async () => {
        const running = await c().tasks.listRunning();
        expect(running.length).toBeGreaterThan(0);
        for (const t of running) expect(t.status).toBe("running");
        expect(running.map((t) => t.uuid).toSorted()).toEqual(uuids(await c().tasks.list({ status: "running" }, ALL)).toSorted());
      });

      test("finish ends a running task, recording the archive it made", async () => {
        const uuid = await file(T0 + 3000);
        expect((await c().tasks.claim(T0 + 3001))!.uuid).toBe(uuid);
        const archive = crypto.randomUUID();
        expect(await c().tasks.finish(uuid, "done", T0 + 3002, archive)).toBe(true);
        expect(await c().tasks.get(uuid)).toMatchObject({ status: "done", startedAt: T0 + 3001, stoppedAt: T0 + 3002, archiveUuid: archive });
        // Finished is final.
        expect(await c().tasks.finish(uuid, "failed", T0 + 3003)).toBe(false);
        expect(await c().tasks.get(uuid)).toMatchObject({ status: "done", stoppedAt: T0 + 3002, archiveUuid: archive });
        expect(await c().tasks.cancel(uuid, T0 + 3004)).toBe(false);
      });

      test("finish without an archive leaves archiveUuid as it was", async () => {
        const uuid = await file(T0 + 4000);
        expect((await c().tasks.claim(T0 + 4001))!.uuid).toBe(uuid);
        expect(await c().tasks.finish(uuid, "failed", T0 + 4002)).toBe(true);
        expect(await c().tasks.get(uuid)).toMatchObject({ status: "failed", stoppedAt: T0 + 4002, archiveUuid: null });
      });

      test("a task canceled while it ran stays canceled when the worker finishes", async () => {
        const uuid = await file(T0 + 5000);
        expect((await c().tasks.claim(T0 + 5001))!.uuid).toBe(uuid);
        expect(await c().tasks.cancel(uuid, T0 + 5002)).toBe(true);
        expect(await c().tasks.finish(uuid, "done", T0 + 5003, crypto.randomUUID())).toBe(false);
        expect(await c().tasks.get(uuid)).toMatchObject({ status: "canceled", stoppedAt: T0 + 5002, archiveUuid: null });
      });

      test("a pending task cannot be finished, and a canceled one is not claimed", async () => {
        const uuid = await file(T0 - 10_000);
        expect(await c().tasks.finish(uuid, "done", T0)).toBe(false);
        expect(await c().tasks.status(uuid)).toBe("pending");
        expect(await c().tasks.cancel(uuid, T0)).toBe(true);
        expect(await c().tasks.claim(T0)).toBeUndefined();
      });

      test("appendLog appends, text as it is", async () => {
        const uuid = await file(T0);
        await c().tasks.appendLog(uuid, "starting\n");
        await c().tasks.appendLog(uuid, "it's 100% \"done\" -- ünïcode ✓\n");
        await c().tasks.appendLog(uuid, "");
        expect((await c().tasks.get(uuid))!.log).toBe("starting\nit's 100% \"done\" -- ünïcode ✓\n");
        // The log of a task that is gone is dropped, not an error.
        await c().tasks.appendLog(crypto.randomUUID(), "lost\n");
      });

      test("setStoreKey records and clears the key of the blob being written", async () => {
        const uuid = await file(T0);
        await c().tasks.setStoreKey(uuid, "2023/11/14/abc.zst");
        expect((await c().tasks.get(uuid))!.storeKey).toBe("2023/11/14/abc.zst");
        await c().tasks.setStoreKey(uuid, null);
        expect((await c().tasks.get(uuid))!.storeKey).toBeNull();
      });

      test("status of an unknown task is undefined", async () => {
        expect(await c().tasks.status(crypto.randomUUID())).toBeUndefined();
      });
    });
  });
}
