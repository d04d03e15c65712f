import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { nowSeconds, type Runner, type TaskRow } from "../../src/catalog/index.ts";
import type { CatalogHandle } from "../../src/catalog/open.ts";
import { dialects } from "../helpers/catalog.ts";
import { T0, taskRow, useCatalog } from "./fixtures.ts";

const ALL = { limit: 1000, offset: 0 };
const uuids = (rows: { uuid: string }[]) => rows.map((r) => r.uuid);

/** What the worker pool does to a task, which the catalog's task queries do not offer yet. */
async function setState(raw: CatalogHandle, uuid: string, v: Partial<Pick<TaskRow, "status" | "startedAt" | "stoppedAt" | "log" | "heartbeatAt" | "error">>): Promise<void> {
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
        expect(await c().tasks.get(k[0]!.uuid)).toEqual({ ...k[0]!, status: "pending", log: "", startedAt: null, stoppedAt: null, storeKey: null, dueAt: null,
          requestedBy: null, runnerId: null, runnerHost: null, runnerPid: null, runnerPidSpace: null, heartbeatAt: null, error: null });
        expect(await c().tasks.get(k[2]!.uuid)).toMatchObject({ op: "restore", owner: "alice", jobUuid: null, archiveUuid: archive, targetUuid: null, storeUuid: null });
        expect(await c().tasks.get(crypto.randomUUID())).toBeUndefined();
      });

      test("list is newest first, a tie on requested_at broken by uuid", async () => {
        expect(uuids(await c().tasks.list({}, ALL))).toEqual([...tie, k[4]!.uuid, k[3]!.uuid, k[2]!.uuid, k[1]!.uuid, k[0]!.uuid]);
      });

      test("q= matches the error line, ignoring case; LIKE's % and _ match only themselves", async () => {
        await setState(await open().raw(), k[3]!.uuid, { error: "store failed: No SPACE_left (100%)" });
        try {
          expect(uuids(await c().tasks.list({ q: "no space" }, ALL))).toEqual([k[3]!.uuid]);
          expect(uuids(await c().tasks.list({ q: "e_l" }, ALL))).toEqual([k[3]!.uuid]);
          expect(uuids(await c().tasks.list({ q: "100%" }, ALL))).toEqual([k[3]!.uuid]);
          expect(uuids(await c().tasks.list({ q: "ce%t" }, ALL))).toEqual([]);
          expect(uuids(await c().tasks.list({ q: "no space", status: "pending" }, ALL))).toEqual([]);
        } finally {
          await setState(await open().raw(), k[3]!.uuid, { error: null });
        }
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

    describe("heartbeats and recovery", () => {
      const open = useCatalog(dialect);
      const c = () => open().catalog;
      const runner = (host = "host-a"): Runner => ({ id: crypto.randomUUID(), host, pid: 4242, pidSpace: "boot ns" });
      /** A running task held by `r` (none: as claimed before heartbeats existed). */
      const running = async (r?: Runner) => {
        const row = taskRow({ jobUuid: crypto.randomUUID(), requestedAt: T0 - 1_000_000 });
        await c().tasks.create(row);
        expect((await c().tasks.claim(T0, r))!.uuid).toBe(row.uuid);
        return row.uuid;
      };
      const age = async (uuid: string, seconds: number) => setState(await open().raw(), uuid, { heartbeatAt: nowSeconds() - seconds });
      const mine = <T extends { uuid: string }>(rows: T[], of: string[]) => rows.filter((r) => of.includes(r.uuid));

      test("claim records the runner and a heartbeat of now, by the catalog's clock", async () => {
        const r = runner();
        const uuid = await running(r);
        const t = (await c().tasks.get(uuid))!;
        expect(t).toMatchObject({ status: "running", runnerId: r.id, runnerHost: "host-a", runnerPid: 4242, runnerPidSpace: "boot ns" });
        expect(Math.abs(t.heartbeatAt! - nowSeconds())).toBeLessThanOrEqual(2);
        // Claimed without a runner, a task has no heartbeat: as one from before heartbeats.
        expect(await c().tasks.get(await running())).toMatchObject({ runnerId: null, heartbeatAt: null });
      });

      test("heartbeat refreshes every running task of its runner in one go, and nothing else", async () => {
        const [a, b] = [runner(), runner()];
        const a1 = await running(a);
        const a2 = await running(a);
        const aDone = await running(a);
        const b1 = await running(b);
        for (const u of [a1, a2, aDone, b1]) await age(u, 500);
        expect(await c().tasks.finish(aDone, "done", T0 + 1)).toBe(true);
        expect(await c().tasks.heartbeat(a.id)).toBe(2);
        const hb = async (u: string) => (await c().tasks.get(u))!.heartbeatAt!;
        for (const u of [a1, a2]) expect(Math.abs((await hb(u)) - nowSeconds())).toBeLessThanOrEqual(2);
        expect(await hb(aDone)).toBeLessThan(nowSeconds() - 400);
        expect(await hb(b1)).toBeLessThan(nowSeconds() - 400);
        expect(await c().tasks.heartbeat(crypto.randomUUID())).toBe(0);
      });

      test("foreignRunning lists other runners' running tasks, stale past the grace or without a heartbeat; never the asker's", async () => {
        const [me, fresh, old] = [runner(), runner("host-b"), runner("host-c")];
        const own = await running(me);
        await age(own, 3600); // even long silent, its own task is never listed
        const live = await running(fresh);
        const dead = await running(old);
        await age(dead, 120);
        const legacy = await running();
        const pending = taskRow({ jobUuid: crypto.randomUUID() });
        await c().tasks.create(pending);
        const all = [own, live, dead, legacy, pending.uuid];
        const got = mine(await c().tasks.foreignRunning(me.id, 60), all).map((t) => [t.uuid, t.stale]);
        expect(new Map(got as [string, boolean][])).toEqual(new Map([[live, false], [dead, true], [legacy, true]]));
        // A longer grace spares the one silent for 2 minutes.
        const lenient = mine(await c().tasks.foreignRunning(me.id, 300), all);
        expect(lenient.find((t) => t.uuid === dead)!.stale).toBe(false);
        expect(lenient.find((t) => t.uuid === legacy)!.stale).toBe(true);
        expect(lenient.find((t) => t.uuid === dead)).toMatchObject({ runnerId: old.id, runnerHost: "host-c", runnerPid: 4242 });
      });

      test("takeOver: one daemon wins a dead runner's task, and a runner that beat again keeps it", async () => {
        const [dead, slow, x, y] = [runner(), runner(), runner("x"), runner("y")];
        const d = await running(dead);
        await age(d, 120);
        const seen = (await c().tasks.get(d))!;
        const [first, second] = await Promise.all([c().tasks.takeOver(seen, x), c().tasks.takeOver(seen, y)]);
        expect([first, second].filter(Boolean)).toHaveLength(1);
        const winner = first ? x : y;
        expect((first ?? second)!).toMatchObject({ uuid: d, status: "running", runnerId: winner.id, runnerHost: winner.host });
        // The loser, or anyone later, cannot finish it for the winner.
        const loser = first ? y : x;
        expect(await c().tasks.finish(d, "failed", T0 + 5, undefined, loser.id)).toBe(false);
        expect(await c().tasks.finish(d, "failed", T0 + 5, undefined, winner.id)).toBe(true);

        const s = await running(slow);
        await age(s, 120);
        const stale = (await c().tasks.get(s))!;
        expect(await c().tasks.heartbeat(slow.id)).toBe(1); // it was only slow
        expect(await c().tasks.takeOver(stale, x)).toBeUndefined();
        expect((await c().tasks.get(s))!.runnerId).toBe(slow.id);

        // A task from before heartbeats (no runner, no heartbeat) is taken over too.
        const legacy = await running();
        expect(await c().tasks.takeOver((await c().tasks.get(legacy))!, x)).toMatchObject({ runnerId: x.id });
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
