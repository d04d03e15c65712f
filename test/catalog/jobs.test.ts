import { beforeAll, describe, expect, test } from "bun:test";
import { isUniqueViolation, type JobView } from "../../src/catalog/index.ts";
import { dialects } from "../helpers/catalog.ts";
import { makeJob, makeRetention, makeSchedule, makeStore, makeTarget, rejection, T0, useCatalog } from "./fixtures.ts";

const names = (rows: { name: string }[]) => rows.map((r) => r.name);

for (const dialect of dialects) {
  describe(`jobs on ${dialect}`, () => {
    describe("listing", () => {
      const open = useCatalog(dialect);
      const c = () => open().catalog;
      // Two of each definition, and four jobs that cross them so every filter splits them differently.
      const d = { tDb: "", tFiles: "", sLocal: "", sCloud: "", hDaily: "", hHourly: "", rWeek: "", rMonth: "" };
      const j = { dbDaily: "", dbHourly: "", filesDaily: "", filesWeekly: "" };
      beforeAll(async () => {
        d.tDb = await makeTarget(c(), { name: "db", plugin: "postgres", endpoint: '{"host":"db1"}', agent: "db1:5444" });
        d.tFiles = await makeTarget(c(), { name: "files", plugin: "fs", endpoint: '{"base_dir":"/srv"}' });
        d.sLocal = await makeStore(c(), { name: "local", plugin: "fs", endpoint: '{"base_dir":"/backups"}' });
        d.sCloud = await makeStore(c(), { name: "cloud", plugin: "s3", endpoint: '{"bucket":"shield"}' });
        d.hDaily = await makeSchedule(c(), { name: "daily", timespec: "daily at 4am" });
        d.hHourly = await makeSchedule(c(), { name: "hourly", timespec: "hourly at :15" });
        d.rWeek = await makeRetention(c(), { name: "week", expiry: 7 * 86400 });
        d.rMonth = await makeRetention(c(), { name: "month", expiry: 30 * 86400 });
        j.filesWeekly = await makeJob(c(), { name: "files-weekly", target: d.tFiles, store: d.sCloud, schedule: d.hDaily, retention: d.rMonth, paused: true });
        j.dbDaily = await makeJob(c(), { name: "db-daily", summary: "the main database", priority: 10, compression: "gzip", target: d.tDb, store: d.sLocal, schedule: d.hDaily, retention: d.rWeek });
        j.filesDaily = await makeJob(c(), { name: "files-daily", target: d.tFiles, store: d.sLocal, schedule: d.hDaily, retention: d.rMonth });
        j.dbHourly = await makeJob(c(), { name: "db-hourly", target: d.tDb, store: d.sCloud, schedule: d.hHourly, retention: d.rWeek, paused: true });
      });

      test("list without a filter lists every job by name", async () => {
        expect(names(await c().jobs.list())).toEqual(["db-daily", "db-hourly", "files-daily", "files-weekly"]);
        expect(names(await c().jobs.list({}))).toEqual(["db-daily", "db-hourly", "files-daily", "files-weekly"]);
      });

      test("a job comes with the names, plugins, endpoints, timespec and expiry it joins", async () => {
        const want: JobView = {
          uuid: j.dbDaily, name: "db-daily", summary: "the main database", priority: 10, paused: false, compression: "gzip", createdAt: T0,
          copies: "[]", runWindow: "",
          targetUuid: d.tDb, storeUuid: d.sLocal, scheduleUuid: d.hDaily, retentionUuid: d.rWeek,
          targetName: "db", targetPlugin: "postgres", targetEndpoint: '{"host":"db1"}', targetAgent: "db1:5444",
          storeName: "local", storePlugin: "fs", storeEndpoint: '{"base_dir":"/backups"}', storeBandwidth: 0, targetBandwidth: 0,
          scheduleName: "daily", timespec: "daily at 4am",
          retentionName: "week", expiry: 7 * 86400,
        };
        expect(await c().jobs.get(j.dbDaily)).toEqual(want);
        expect((await c().jobs.list()).find((x) => x.uuid === j.dbDaily)).toEqual(want);
        const hourly = await c().jobs.get(j.dbHourly);
        expect(hourly).toMatchObject({
          storeName: "cloud", storePlugin: "s3", storeEndpoint: '{"bucket":"shield"}',
          scheduleName: "hourly", timespec: "hourly at :15", retentionName: "week", expiry: 604800, paused: true,
        });
      });

      test("byName returns the job's own row", async () => {
        expect(await c().jobs.byName("files-weekly")).toEqual({
          uuid: j.filesWeekly, name: "files-weekly", summary: "", priority: 50, paused: true, compression: "zstd", createdAt: T0,
          targetUuid: d.tFiles, storeUuid: d.sCloud, scheduleUuid: d.hDaily, retentionUuid: d.rMonth,
          nextDueAt: null, nextDueSpec: null, copies: "[]", runWindow: "",
        });
        expect(await c().jobs.byName("no such job")).toBeUndefined();
        expect(await c().jobs.get(crypto.randomUUID())).toBeUndefined();
      });

      test("paused is a real boolean in list, get and byName", async () => {
        for (const job of await c().jobs.list()) expect(typeof job.paused).toBe("boolean");
        expect((await c().jobs.get(j.dbHourly))!.paused).toBe(true);
        expect((await c().jobs.get(j.dbDaily))!.paused).toBe(false);
        expect((await c().jobs.byName("db-hourly"))!.paused).toBe(true);
        expect((await c().jobs.byName("db-daily"))!.paused).toBe(false);
      });

      test("target= filter", async () => {
        expect(names(await c().jobs.list({ target: d.tDb }))).toEqual(["db-daily", "db-hourly"]);
        expect(names(await c().jobs.list({ target: d.tFiles }))).toEqual(["files-daily", "files-weekly"]);
      });

      test("store= filter", async () => {
        expect(names(await c().jobs.list({ store: d.sLocal }))).toEqual(["db-daily", "files-daily"]);
        expect(names(await c().jobs.list({ store: d.sCloud }))).toEqual(["db-hourly", "files-weekly"]);
      });

      test("schedule= filter", async () => {
        expect(names(await c().jobs.list({ schedule: d.hDaily }))).toEqual(["db-daily", "files-daily", "files-weekly"]);
        expect(names(await c().jobs.list({ schedule: d.hHourly }))).toEqual(["db-hourly"]);
      });

      test("retention= filter", async () => {
        expect(names(await c().jobs.list({ retention: d.rWeek }))).toEqual(["db-daily", "db-hourly"]);
        expect(names(await c().jobs.list({ retention: d.rMonth }))).toEqual(["files-daily", "files-weekly"]);
      });

      test("paused= filter, both ways", async () => {
        expect(names(await c().jobs.list({ paused: true }))).toEqual(["db-hourly", "files-weekly"]);
        expect(names(await c().jobs.list({ paused: false }))).toEqual(["db-daily", "files-daily"]);
      });

      test("filters combine with AND", async () => {
        expect(names(await c().jobs.list({ target: d.tDb, paused: true }))).toEqual(["db-hourly"]);
        expect(names(await c().jobs.list({ store: d.sLocal, retention: d.rMonth }))).toEqual(["files-daily"]);
        expect(names(await c().jobs.list({ target: d.tDb, store: d.sLocal, schedule: d.hDaily, retention: d.rWeek, paused: false }))).toEqual(["db-daily"]);
        expect(await c().jobs.list({ target: d.tFiles, schedule: d.hHourly })).toEqual([]);
      });

      test("a filter on an unknown uuid lists nothing", async () => {
        expect(await c().jobs.list({ target: crypto.randomUUID() })).toEqual([]);
        expect(await c().jobs.list({ retention: crypto.randomUUID(), paused: true })).toEqual([]);
      });

      test("setPaused pauses and unpauses; false for an unknown job", async () => {
        expect(await c().jobs.setPaused(j.dbDaily, true)).toBe(true);
        expect((await c().jobs.get(j.dbDaily))!.paused).toBe(true);
        expect(names(await c().jobs.list({ paused: true }))).toEqual(["db-daily", "db-hourly", "files-weekly"]);
        // Pausing a paused job is no error.
        expect(await c().jobs.setPaused(j.dbDaily, true)).toBe(true);
        expect(await c().jobs.setPaused(j.dbDaily, false)).toBe(true);
        expect((await c().jobs.get(j.dbDaily))!.paused).toBe(false);
        expect(names(await c().jobs.list({ paused: false }))).toEqual(["db-daily", "files-daily"]);
        expect(await c().jobs.setPaused(crypto.randomUUID(), true)).toBe(false);
      });
    });

    describe("writes", () => {
      const open = useCatalog(dialect);
      const c = () => open().catalog;

      test("update changes name, summary, priority and references, not paused", async () => {
        const uuid = await makeJob(c(), { name: "before", paused: true, priority: 50 });
        const target = await makeTarget(c(), { name: "new-target", plugin: "redis", endpoint: "{}" });
        const store = await makeStore(c(), { name: "new-store" });
        const schedule = await makeSchedule(c(), { name: "new-schedule", timespec: "sundays 8am" });
        const retention = await makeRetention(c(), { name: "new-retention", expiry: 3600 });
        expect(await c().jobs.update(uuid, {
          name: "after", summary: "moved", priority: 90, compression: "none",
          targetUuid: target, storeUuid: store, scheduleUuid: schedule, retentionUuid: retention,
        })).toBe(true);
        expect(await c().jobs.get(uuid)).toMatchObject({
          uuid, name: "after", summary: "moved", priority: 90, compression: "none", paused: true, createdAt: T0,
          targetUuid: target, targetName: "new-target", targetPlugin: "redis",
          storeUuid: store, storeName: "new-store",
          scheduleUuid: schedule, scheduleName: "new-schedule", timespec: "sundays 8am",
          retentionUuid: retention, retentionName: "new-retention", expiry: 3600,
        });
        expect(await c().jobs.byName("before")).toBeUndefined();
      });

      test("compression defaults to zstd, and an update that leaves it out keeps it", async () => {
        const uuid = await makeJob(c(), { name: "compressed" });
        expect((await c().jobs.get(uuid))!.compression).toBe("zstd");
        const { compression: _, ...row } = (await c().jobs.byName("compressed"))!;
        expect(await c().jobs.update(uuid, { ...row, compression: "gzip" })).toBe(true);
        expect((await c().jobs.get(uuid))!.compression).toBe("gzip");
        expect(await c().jobs.update(uuid, { ...row, summary: "no compression given" })).toBe(true);
        expect(await c().jobs.get(uuid)).toMatchObject({ summary: "no compression given", compression: "gzip" });
      });

      test("update of an unknown job is false", async () => {
        const t = await makeTarget(c());
        const s = await makeStore(c());
        const h = await makeSchedule(c());
        const r = await makeRetention(c());
        expect(await c().jobs.update(crypto.randomUUID(), {
          name: "ghost", summary: "", priority: 50, targetUuid: t, storeUuid: s, scheduleUuid: h, retentionUuid: r,
        })).toBe(false);
        expect(await c().jobs.byName("ghost")).toBeUndefined();
      });

      test("a taken job name is a unique violation, on create and on rename", async () => {
        await makeJob(c(), { name: "taken" });
        expect(isUniqueViolation(await rejection(makeJob(c(), { name: "taken" })))).toBe(true);
        const other = await makeJob(c(), { name: "free" });
        const row = (await c().jobs.byName("free"))!;
        expect(isUniqueViolation(await rejection(c().jobs.update(other, { ...row, name: "taken" })))).toBe(true);
        expect((await c().jobs.get(other))!.name).toBe("free");
      });

      test("a job pointing at a definition that does not exist is refused", async () => {
        const err = await rejection(makeJob(c(), { name: "dangling", store: crypto.randomUUID() }));
        expect(err).toBeInstanceOf(Error);
        expect(isUniqueViolation(err)).toBe(false);
        expect(await c().jobs.byName("dangling")).toBeUndefined();
        const uuid = await makeJob(c(), { name: "repointed" });
        const row = (await c().jobs.byName("repointed"))!;
        expect(await rejection(c().jobs.update(uuid, { ...row, retentionUuid: crypto.randomUUID() }))).toBeInstanceOf(Error);
        expect((await c().jobs.byName("repointed"))!.retentionUuid).toBe(row.retentionUuid);
      });

      test("delete removes the job once, and frees what it used", async () => {
        const target = await makeTarget(c());
        const uuid = await makeJob(c(), { name: "short-lived", target });
        expect(await rejection(c().targets.delete(target))).toBeInstanceOf(Error);
        expect(await c().jobs.delete(uuid)).toBe(true);
        expect(await c().jobs.get(uuid)).toBeUndefined();
        expect(await c().jobs.delete(uuid)).toBe(false);
        expect(await c().targets.delete(target)).toBe(true);
      });
    });
  });
}
