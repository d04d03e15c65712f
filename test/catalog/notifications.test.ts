// The catalog's notification deliveries and drills on both dialects: an outcome
// filed twice for a channel is one delivery, a due delivery is leased by one
// caller only, a failed attempt waits for its next time, and drill results come
// newest first (by the millisecond).
import { describe, expect, test } from "bun:test";
import { dialects } from "../helpers/catalog.ts";
import { T0, useCatalog } from "./fixtures.ts";

const uuid = () => crypto.randomUUID();

for (const dialect of dialects) {
  describe(`notification deliveries and drills on ${dialect}`, () => {
    const open = useCatalog(dialect);
    const c = () => open().catalog;

    test("one delivery per channel, event and task; a test-like one without a task never collides", async () => {
      const channel = uuid();
      await c().notifications.channels.create({ uuid: channel, name: `ch-${channel}`, kind: "webhook", settings: "{}", events: "[]", jobs: "[]", createdAt: T0 });
      const task = uuid();
      const row = (event: string, t: string | null) => ({ uuid: uuid(), channelUuid: channel, event, taskUuid: t, jobUuid: null, message: "{}", nextAt: null, createdAt: T0 });
      expect(await c().notifications.deliveries.file(row("backup.failed", task))).toBe(true);
      expect(await c().notifications.deliveries.file(row("backup.failed", task))).toBe(false);
      expect(await c().notifications.deliveries.file(row("backup.started", task))).toBe(true);
      expect(await c().notifications.deliveries.file(row("job.overdue", null))).toBe(true);
      expect(await c().notifications.deliveries.file(row("job.overdue", null))).toBe(true);
      expect((await c().notifications.deliveries.list({ channel }, { limit: 10, offset: 0 })).length).toBe(4);
    });

    test("a due delivery is leased once; a failed attempt waits until its next time; given up, it is failed", async () => {
      const channel = uuid();
      const d = { uuid: uuid(), channelUuid: channel, event: "backup.failed", taskUuid: uuid(), jobUuid: null, message: "{}", nextAt: null, createdAt: T0 };
      await c().notifications.deliveries.file(d);
      const [due] = (await c().notifications.deliveries.due(T0, 100)).filter((x) => x.uuid === d.uuid);
      expect(due).toBeDefined();
      expect(await c().notifications.deliveries.lease(due!, T0 + 60)).toBe(true);
      expect(await c().notifications.deliveries.lease(due!, T0 + 60)).toBe(false);
      await c().notifications.deliveries.attemptFailed(d.uuid, 1, "the receiver answered 503", T0 + 30);
      expect((await c().notifications.deliveries.due(T0 + 29, 100)).some((x) => x.uuid === d.uuid)).toBe(false);
      expect((await c().notifications.deliveries.due(T0 + 30, 100)).some((x) => x.uuid === d.uuid)).toBe(true);
      await c().notifications.deliveries.attemptFailed(d.uuid, 10, "the receiver answered 503", null);
      const [row] = await c().notifications.deliveries.list({ channel }, { limit: 10, offset: 0 });
      expect(row).toMatchObject({ status: "failed", attempts: 10, lastError: "the receiver answered 503", nextAt: null });
      expect((await c().notifications.deliveries.due(T0 + 1e6, 100)).some((x) => x.uuid === d.uuid)).toBe(false);
    });

    test("drill results: newest first within one second; the due time advances by compare-and-set", async () => {
      const job = uuid();
      for (const [i, ok] of [[1, true], [2, false], [3, true]] as const) {
        await c().drills.record({ taskUuid: uuid(), jobUuid: job, archiveUuid: null, ok, rtoMs: 100 * i, figures: null, verify: `run ${i}`, error: null, finishedMs: T0 * 1000 + i });
      }
      expect((await c().drills.last(job))!.verify).toBe("run 3");
      expect((await c().drills.history(job, { limit: 10, offset: 0 })).map((r) => r.verify)).toEqual(["run 3", "run 2", "run 1"]);
      expect((await c().drills.forJobs([job])).last.get(job)!.verify).toBe("run 3");
      await c().drills.set({ jobUuid: job, scratchTargetUuid: uuid(), scheduleUuid: uuid(), nextDueAt: null, createdAt: T0 });
      // A long list (read whole, picked in memory) answers as a short one, for its jobs only.
      const other = uuid();
      await c().drills.record({ taskUuid: uuid(), jobUuid: other, archiveUuid: null, ok: true, rtoMs: 1, figures: null, verify: "other", error: null, finishedMs: T0 * 1000 });
      const long = await c().drills.forJobs([job, ...Array.from({ length: 600 }, () => uuid())]);
      expect([...long.last.keys()]).toEqual([job]);
      expect(long.last.get(job)!.verify).toBe("run 3");
      expect([...long.drills.keys()]).toEqual([job]);
      expect(await c().drills.advance(job, null, T0 + 100)).toBe(true);
      expect(await c().drills.advance(job, T0, T0 + 200)).toBe(false);
      expect(await c().drills.advance(job, T0 + 100, T0 + 200)).toBe(true);
      expect((await c().drills.due(T0 + 199)).some((x) => x.jobUuid === job)).toBe(false);
      expect((await c().drills.due(T0 + 200)).some((x) => x.jobUuid === job)).toBe(true);
    });
  });
}
