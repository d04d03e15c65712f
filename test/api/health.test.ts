// Job health (last run, next run, the window's figures), a job's history, the
// statistics, archive search and a failed task's error line, on every catalog
// dialect: the figures come from aggregate SQL that each dialect must answer alike.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { nowSeconds } from "../../src/catalog/index.ts";
import { testApi, type TestApi } from "../helpers/app.ts";
import { dialects } from "../helpers/catalog.ts";
import {
  NOBODY, TIME_RE, call, expectAuthRequired, insertArchive, insertTask, makeDefinitions, makeJob, setTaskState, type Definitions,
} from "./fixtures.ts";

const DAY = 86400;
const ERROR = "stage target (postgres) exited 1: pg_dump: error: connection to server at \"db1\" failed: Connection refused";
const fmt = (s: number) => new Date(s * 1000).toISOString().slice(0, 19).replace("T", " ");

for (const dialect of dialects) {
  describe(`job health and statistics on ${dialect}`, () => {
    let api: TestApi;
    let main: Definitions;
    let other: Definitions;
    const now = nowSeconds();
    const job: Record<string, string> = {};
    const task: Record<string, string> = {};
    const archive: Record<string, string> = {};

    /** A backup of `name` that ended at `stoppedAt` after `duration` s; a done one made an archive of `size` bytes. */
    async function run(name: string, d: Definitions, key: string, status: "done" | "failed" | "canceled", stoppedAt: number, duration: number, size?: number) {
      const startedAt = stoppedAt - duration;
      let archiveUuid: string | null = null;
      if (status === "done") {
        archiveUuid = (await insertArchive(api, { targetUuid: d.target, storeUuid: d.store, jobUuid: job[name]!, takenAt: startedAt, size: size! })).uuid;
        archive[key] = archiveUuid;
      }
      const uuid = await insertTask(api, { jobUuid: job[name]!, targetUuid: d.target, storeUuid: d.store, requestedAt: startedAt });
      await setTaskState(api, uuid, { status, startedAt, stoppedAt, archiveUuid, error: status === "failed" ? ERROR : null });
      task[key] = uuid;
    }

    beforeAll(async () => {
      api = await testApi(dialect);
      main = await makeDefinitions(api, "main");
      other = await makeDefinitions(api, "other");
      job["nightly db"] = await makeJob(api, main, "nightly db");
      job["files"] = await makeJob(api, other, "files");
      job["idle"] = await makeJob(api, main, "idle");
      job["paused one"] = await makeJob(api, main, "paused one", { paused: true });
      await run("nightly db", main, "old", "done", now - 40 * DAY, 10, 500);
      await run("nightly db", main, "d3", "done", now - 3 * DAY, 60, 1000);
      await run("nightly db", main, "d2", "done", now - 2 * DAY, 120, 2000);
      await run("nightly db", main, "d1", "done", now - DAY, 90, 3000);
      await run("nightly db", main, "failed", "failed", now - 3600, 5);
      await run("nightly db", main, "canceled", "canceled", now - 1800, 7);
      await run("files", other, "files", "done", now - 7200, 30, 50);
      // Not a run: still going.
      await insertTask(api, { jobUuid: job["files"]!, targetUuid: other.target, storeUuid: other.store, requestedAt: now - 60 });
      // A purged archive (taken and purged in the window) and an expired one, held still.
      archive.purged = (await insertArchive(api, {
        targetUuid: main.target, storeUuid: main.store, takenAt: now - 20 * DAY, size: 7000, status: "purged", purgedAt: now - DAY,
      })).uuid;
      archive.expired = (await insertArchive(api, { targetUuid: other.target, storeUuid: other.store, takenAt: now - 5 * DAY, size: 11, status: "expired" })).uuid;
      await call(api, "PUT", `/v1/archive/${archive.d2}`, 200, { body: { notes: "Before the 100% MIGRATION" } });
    });
    afterAll(() => api.cleanup());

    const byName = async (path: string) => {
      const list = (await call(api, "GET", path, 200, { as: "viewer" })).json as any[];
      return Object.fromEntries(list.map((j) => [j.name, j]));
    };

    describe("GET /v1/jobs and /v1/job/:uuid", () => {
      test("last_run is the last backup that ended, with its error line; canceled and unfinished ones are not runs", async () => {
        const jobs = await byName("/v1/jobs");
        expect(jobs["nightly db"].last_run).toEqual({
          task_uuid: task.failed, status: "failed", started_at: fmt(now - 3605), stopped_at: fmt(now - 3600), duration: 5,
          archive_uuid: null, size: null, error: ERROR,
        });
        expect(jobs["files"].last_run).toEqual({
          task_uuid: task.files, status: "done", started_at: fmt(now - 7230), stopped_at: fmt(now - 7200), duration: 30,
          archive_uuid: archive.files, size: 50, error: null,
        });
        expect(jobs["idle"].last_run).toBeNull();
      });

      test("the window's figures: runs, failures, success rate, medians and size trend of the last 30 days by default", async () => {
        const jobs = await byName("/v1/jobs");
        // Four runs in 30 days (the one 40 days ago is out); the medians and trend are of the three that succeeded.
        expect(jobs["nightly db"].window).toEqual({
          seconds: 30 * DAY, runs: 4, failures: 1, success_rate: 0.75, median_duration: 90, median_size: 2000, size_trend_per_day: 1000,
        });
        expect(jobs["files"].window).toMatchObject({ runs: 1, failures: 0, success_rate: 1, median_duration: 30, median_size: 50, size_trend_per_day: null });
        expect(jobs["idle"].window).toMatchObject({ runs: 0, failures: 0, success_rate: null, median_duration: null });
      });

      test("?window= narrows or widens the figures, on the list and on one job", async () => {
        expect((await byName("/v1/jobs?window=2h"))["nightly db"].window).toEqual({
          seconds: 7200, runs: 1, failures: 1, success_rate: 0, median_duration: null, median_size: null, size_trend_per_day: null,
        });
        const one = (await call(api, "GET", `/v1/job/${job["nightly db"]}?window=100d`, 200)).json;
        expect(one.window).toMatchObject({ seconds: 100 * DAY, runs: 5, failures: 1, success_rate: 0.8, median_duration: 75, median_size: 1500 });
        expect(one.last_run.task_uuid).toBe(task.failed);
        expect(one.name).toBe("nightly db");
      });

      test("next_run is the schedule's next time; none while the job is paused", async () => {
        const jobs = await byName("/v1/jobs");
        const schedule = (await call(api, "GET", `/v1/schedule/${main.schedule}`, 200)).json;
        expect(jobs["idle"].next_run).toMatch(TIME_RE);
        expect(jobs["idle"].next_run).toBe(schedule.next_run);
        expect(jobs["paused one"].next_run).toBeNull();
      });

      test("filters and paging still apply, and the figures follow the page", async () => {
        const page = (await call(api, "GET", "/v1/jobs?limit=1&offset=1", 200)).json;
        expect(page.map((j: any) => j.name)).toEqual(["idle"]);
        const filtered = (await call(api, "GET", `/v1/jobs?target=${other.target}`, 200)).json;
        expect(filtered.map((j: any) => [j.name, j.window.runs])).toEqual([["files", 1]]);
      });

      for (const [value, words] of [["30x", "a duration like 30d"], ["0", "at least 1h"], ["59m", "at least 1h"], ["99999d", "at most 3660d"], ["", "a duration"]]) {
        test(`400 naming window: ?window=${value}`, async () => {
          const res = await call(api, "GET", `/v1/jobs?window=${value}`, 400);
          expect(res.json.fields.window).toContain(words);
          await call(api, "GET", `/v1/job/${job.idle}?window=${value}`, 400);
        });
      }
    });

    describe("GET /v1/job/:uuid/history", () => {
      test("every finished backup, canceled too, newest first, with duration, size and error", async () => {
        const runs = (await call(api, "GET", `/v1/job/${job["nightly db"]}/history`, 200, { as: "viewer" })).json;
        expect(runs.map((r: any) => r.task_uuid)).toEqual([task.canceled, task.failed, task.d1, task.d2, task.d3, task.old]);
        expect(runs[2]).toEqual({
          task_uuid: task.d1, status: "done", started_at: fmt(now - DAY - 90), stopped_at: fmt(now - DAY), duration: 90,
          archive_uuid: archive.d1, size: 3000, error: null,
        });
        expect(runs[1]).toMatchObject({ status: "failed", size: null, error: ERROR });
      });

      test("pages with ?limit= and ?offset=", async () => {
        const runs = (await call(api, "GET", `/v1/job/${job["nightly db"]}/history?limit=2&offset=1`, 200)).json;
        expect(runs.map((r: any) => r.task_uuid)).toEqual([task.failed, task.d1]);
        expect((await call(api, "GET", `/v1/job/${job.idle}/history`, 200)).json).toEqual([]);
      });

      test("404 for a job that does not exist; 400 for an unknown parameter; 401 without credentials", async () => {
        expect((await call(api, "GET", `/v1/job/${NOBODY}/history`, 404)).json.error).toContain(NOBODY);
        expect((await call(api, "GET", `/v1/job/${job.idle}/history?window=1d`, 400)).json.error).toContain("window: is not a parameter");
        await expectAuthRequired(api, "GET", `/v1/job/${job.idle}/history`);
      });
    });

    describe("GET /v1/statistics", () => {
      test("per store: archives held and their bytes, by status, and what the window added and purged per day", async () => {
        const s = (await call(api, "GET", "/v1/statistics", 200, { as: "viewer" })).json;
        expect(s.window).toBe(30 * DAY);
        const stores = Object.fromEntries(s.stores.map((x: any) => [x.name, x]));
        expect(stores["main store"]).toEqual({
          uuid: main.store, name: "main store", plugin: "fs", archives: 4, bytes: 6500,
          // 1000 + 2000 + 3000 + the purged 7000 taken in 30 days; 7000 purged in them.
          added_per_day: Math.round(13000 / 30), growth_per_day: Math.round(6000 / 30),
          by_status: { valid: { archives: 4, bytes: 6500 }, purged: { archives: 1, bytes: 7000 } },
          used_per_day: expect.any(Array),
        });
        expect(stores["other store"]).toMatchObject({ archives: 2, bytes: 61, added_per_day: 2, growth_per_day: 2 });
        expect(s.totals).toEqual({ archives: 6, bytes: 6561, jobs: 4, failing_jobs: 1 });
      });

      test("used_per_day: what each store held at the end of each UTC day, as the archives' times say; runs per day", async () => {
        const s = (await call(api, "GET", "/v1/statistics", 200, { as: "viewer" })).json;
        const store = s.stores.find((x: any) => x.name === "main store");
        // Counted forwards from the archives (the API rebuilds it backwards from today's total).
        const held = [
          { taken: now - 40 * DAY - 10, size: 500 }, { taken: now - 3 * DAY - 60, size: 1000 }, { taken: now - 2 * DAY - 120, size: 2000 },
          { taken: now - DAY - 90, size: 3000 }, { taken: now - 20 * DAY, size: 7000, purged: now - DAY },
        ];
        const first = Math.floor((now - 30 * DAY) / DAY), last = Math.floor(now / DAY);
        const expected = [];
        for (let d = first; d <= last; d++) {
          const end = Math.min((d + 1) * DAY - 1, now);
          const bytes = held.filter((a) => a.taken <= end && !(a.purged !== undefined && a.purged <= end)).reduce((n, a) => n + a.size, 0);
          expected.push({ date: new Date(d * DAY * 1000).toISOString().slice(0, 10), bytes });
        }
        expect(store.used_per_day).toEqual(expected);
        expect(store.used_per_day.at(-1).bytes).toBe(store.bytes);
        // Backups that ended in the window: d3, d2, d1, the failed one and files' (canceled ones are no run; "old" is outside).
        expect(s.runs).toMatchObject({ runs: 5, failures: 1, success_rate: 0.8 });
        expect(s.runs.per_day).toHaveLength(last - first + 1);
        const perDay = Object.fromEntries(s.runs.per_day.filter((d: any) => d.runs).map((d: any) => [d.date, [d.runs, d.failures]]));
        const want: Record<string, number[]> = {};
        for (const [at, failed] of [[now - 3 * DAY, 0], [now - 2 * DAY, 0], [now - DAY, 0], [now - 3600, 1], [now - 7200, 0]] as const) {
          const day = fmt(at).slice(0, 10);
          want[day] = [(want[day]?.[0] ?? 0) + 1, (want[day]?.[1] ?? 0) + failed];
        }
        expect(perDay).toEqual(want);
      });

      test("per target, and the jobs whose last run failed with its error", async () => {
        const s = (await call(api, "GET", "/v1/statistics?window=7d", 200)).json;
        expect(s.targets).toEqual([
          { uuid: main.target, name: "main target", plugin: "postgres", archives: 4, bytes: 6500, last_taken_at: fmt(now - DAY - 90) },
          { uuid: other.target, name: "other target", plugin: "postgres", archives: 2, bytes: 61, last_taken_at: fmt(now - 7230) },
        ]);
        expect(s.failing_jobs).toEqual([{
          uuid: job["nightly db"], name: "nightly db", target_name: "main target", store_name: "main store",
          failed_at: fmt(now - 3600), task_uuid: task.failed, error: ERROR,
        }]);
        expect(s.window).toBe(7 * DAY);
      });

      test("401 without credentials; 400 for a bad window", async () => {
        await expectAuthRequired(api, "GET", "/v1/statistics");
        await call(api, "GET", "/v1/statistics?window=soon", 400);
        expect((await call(api, "GET", "/v1/statistics?days=3", 400)).json.error).toContain("days: is not a parameter");
      });
    });

    describe("GET /v1/archives search", () => {
      const uuids = async (query: string) => ((await call(api, "GET", `/v1/archives?${query}`, 200, { as: "viewer" })).json as any[]).map((a) => a.uuid);

      test("?q= matches the notes, the target's name or the job's name, in any case; % and _ match themselves", async () => {
        expect(await uuids("q=migration")).toEqual([archive.d2]);
        expect(await uuids(`q=${encodeURIComponent("100%")}`)).toEqual([archive.d2]);
        expect(await uuids("q=_")).toEqual([]);
        expect(await uuids(`q=${encodeURIComponent("%")}`)).toEqual([archive.d2]);
        expect(await uuids("q=NIGHTLY")).toEqual([archive.d1, archive.d2, archive.d3, archive.old]);
        // The target's name: the purged archive has no job, but is of the main target.
        expect((await uuids(`q=${encodeURIComponent("main targ")}`)).sort()).toEqual([archive.d1, archive.d2, archive.d3, archive.old, archive.purged].sort());
      });

      test("?job=, ?min_size= and ?max_size= (inclusive)", async () => {
        expect(await uuids(`job=${job.files}`)).toEqual([archive.files]);
        expect(await uuids("min_size=1000&max_size=2000")).toEqual([archive.d2, archive.d3]);
        expect(await uuids("min_size=3000")).toEqual([archive.d1, archive.purged]);
        expect(await uuids("max_size=11")).toEqual([archive.expired]);
      });

      test("?sort=size (largest first) or taken_at, ?order=asc", async () => {
        expect(await uuids(`sort=size&job=${job["nightly db"]}`)).toEqual([archive.d1, archive.d2, archive.d3, archive.old]);
        expect(await uuids(`sort=size&order=asc&job=${job["nightly db"]}`)).toEqual([archive.old, archive.d3, archive.d2, archive.d1]);
        expect(await uuids(`sort=taken_at&order=asc&job=${job["nightly db"]}&limit=2`)).toEqual([archive.old, archive.d3]);
      });

      const invalid: [string, string, string][] = [
        ["min_size=2000&max_size=1000", "min_size", "not be more than max_size"],
        ["sort=name", "sort", "taken_at or size"],
        ["order=up", "order", "desc or asc"],
        ["min_size=-1", "min_size", "whole number"],
        ["max_size=1.5", "max_size", "whole number"],
        ["q=", "q", "must not be empty"],
        ["job=nightly", "job", "must be a UUID"],
      ];
      for (const [query, field, words] of invalid) {
        test(`400 naming ${field}: ?${query}`, async () => {
          const res = await call(api, "GET", `/v1/archives?${query}`, 400);
          expect(res.json.fields[field]).toContain(words);
        });
      }
    });

    test("a failed task's JSON carries its error line; others null", async () => {
      expect((await call(api, "GET", `/v1/task/${task.failed}`, 200)).json.error).toBe(ERROR);
      expect((await call(api, "GET", `/v1/task/${task.d1}`, 200)).json.error).toBeNull();
      const failed = (await call(api, "GET", "/v1/tasks?status=failed", 200)).json;
      expect(failed.map((t: any) => [t.uuid, t.error])).toEqual([[task.failed, ERROR]]);
    });
  });
}
