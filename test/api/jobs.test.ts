// /v1 contract of jobs: list with filters, create, show, update, delete, pause,
// unpause, run. Runs on every catalog dialect: the job JSON joins four tables.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApi, type TestApi } from "../helpers/app.ts";
import { dialects } from "../helpers/catalog.ts";
import {
  NOBODY, TIME_RE, UUID_RE, call, expectAuthRequired, expectForbidden, expectInvalid, insertArchive, jobBody,
  makeDefinitions, makeJob, type Definitions,
} from "./fixtures.ts";

for (const dialect of dialects) {
  describe(`/v1/jobs on ${dialect}`, () => {
    let api: TestApi;
    let main: Definitions;
    let other: Definitions;
    let n = 0;
    const fresh = () => `job ${++n}`;

    beforeAll(async () => {
      api = await testApi(dialect);
      main = await makeDefinitions(api, "main");
      other = await makeDefinitions(api, "other");
    });
    afterAll(() => api.cleanup());

    /** The job JSON of the design, with the names, plugins and endpoints of what it joins. */
    const expected = (uuid: string, d: Definitions, tag: string, job: Record<string, unknown>) => ({
      uuid,
      name: job.name,
      summary: job.summary ?? "",
      priority: job.priority ?? 50,
      paused: job.paused ?? false,
      compression: job.compression ?? "zstd",
      retention_name: `${tag} policy`, retention_uuid: d.retention, expiry: 86400,
      schedule_name: `${tag} schedule`, schedule_uuid: d.schedule, schedule: "daily at 4am",
      store_name: `${tag} store`, store_uuid: d.store, store_plugin: "fs", store_endpoint: `{"path":"/${tag}"}`,
      target_name: `${tag} target`, target_uuid: d.target, target_plugin: "postgres", target_endpoint: `{"host":"${tag}-db"}`,
      agent: "10.0.0.1:5444",
      // The job's restore drill and its last outcome (issue 16): none here.
      drill: null, last_drill: null,
      // A job that never ran: no last run, no figures; the next run is the schedule's (none while paused).
      last_run: null,
      next_run: job.paused ? null : expect.stringMatching(TIME_RE),
      window: { seconds: 30 * 86400, runs: 0, failures: 0, success_rate: null, median_duration: null, median_size: null, size_trend_per_day: null },
      copies: job.copies ?? [], run_window: job.run_window ?? "",
    });

    describe("POST /v1/jobs", () => {
      test("answers ok created; show returns the job joined with its target, store, schedule and policy", async () => {
        const body = jobBody(main, fresh());
        const res = await call(api, "POST", "/v1/jobs", 200, { body });
        expect(Object.keys(res.json).sort()).toEqual(["ok", "uuid"]);
        expect(res.json.ok).toBe("created");
        expect(res.json.uuid).toMatch(UUID_RE);
        expect((await call(api, "GET", `/v1/job/${res.json.uuid}`, 200)).json).toEqual(expected(res.json.uuid, main, "main", body));
      });

      test("summary is optional; paused, priority and compression are kept as given", async () => {
        const { summary: _, ...body } = jobBody(main, fresh(), { paused: true, priority: 0, compression: "gzip" });
        const uuid = (await call(api, "POST", "/v1/jobs", 200, { body })).json.uuid;
        expect((await call(api, "GET", `/v1/job/${uuid}`, 200)).json).toEqual(expected(uuid, main, "main", { ...body, summary: "" }));
        await makeJob(api, main, fresh(), { priority: 100, compression: "none" });
      });

      const invalid: [string, (b: Record<string, unknown>) => Record<string, unknown>, string, string][] = [
        ["name missing", ({ name: _, ...b }) => b, "name", "is required"],
        ["name empty", (b) => ({ ...b, name: " " }), "name", "must not be empty"],
        ["name holding NUL", (b) => ({ ...b, name: "a\u0000" }), "name", "NUL"],
        ["summary not a string", (b) => ({ ...b, summary: false }), "summary", "must be a string"],
        ["paused missing (required on create)", ({ paused: _, ...b }) => b, "paused", "is required"],
        ["paused as a string", (b) => ({ ...b, paused: "false" }), "paused", "must be true or false"],
        ["paused null", (b) => ({ ...b, paused: null }), "paused", "must be true or false"],
        ["priority below 0", (b) => ({ ...b, priority: -1 }), "priority", "0 to 100"],
        ["priority above 100", (b) => ({ ...b, priority: 101 }), "priority", "0 to 100"],
        ["priority fractional", (b) => ({ ...b, priority: 1.5 }), "priority", "whole number"],
        ["priority as a string", (b) => ({ ...b, priority: "5" }), "priority", "must be a number"],
        ["compression unknown", (b) => ({ ...b, compression: "lz4" }), "compression", "zstd, gzip or none"],
        ["unknown field", (b) => ({ ...b, owner: "me" }), "owner", "is not a field of this request"],
        ...(["target", "store", "schedule", "retention"] as const).flatMap((f): [string, (b: Record<string, unknown>) => Record<string, unknown>, string, string][] => [
          // A job may have no schedule (run by hand only): see "a job without a schedule" below.
          ...(f === "schedule" ? [] : [[`${f} missing`, ({ [f]: _, ...b }: Record<string, unknown>) => b, f, "is required"] as [string, (b: Record<string, unknown>) => Record<string, unknown>, string, string]]),
          [`${f} malformed`, (b) => ({ ...b, [f]: "main" }), f, "must be a UUID"],
          [`${f} not a string`, (b) => ({ ...b, [f]: 1 }), f, "must be a string"],
          [`${f} unknown`, (b) => ({ ...b, [f]: NOBODY }), f, `no ${f === "retention" ? "retention policy" : f} with uuid ${NOBODY}`],
        ]),
      ];
      for (const [what, change, field, words] of invalid) {
        test(`400 naming ${field}: ${what}`, async () => {
          await expectInvalid(api, "POST", "/v1/jobs", change(jobBody(main, fresh())), field, words);
        });
      }

      test("unknown references are all named at once", async () => {
        const body = { ...jobBody(main, fresh()), target: NOBODY, store: NOBODY, schedule: NOBODY, retention: NOBODY };
        const res = await expectInvalid(api, "POST", "/v1/jobs", body, "target");
        expect(Object.keys(res.json.fields).sort()).toEqual(["retention", "schedule", "store", "target"]);
      });

      test("a refused job is not created", async () => {
        const name = fresh();
        await call(api, "POST", "/v1/jobs", 400, { body: { ...jobBody(main, name), store: NOBODY } });
        expect((await call(api, "GET", "/v1/jobs", 200)).json.map((j: any) => j.name)).not.toContain(name);
      });

      test("409 for a name already taken", async () => {
        const name = fresh();
        await makeJob(api, main, name);
        const res = await call(api, "POST", "/v1/jobs", 409, { body: jobBody(other, name) });
        expect(res.json.error).toContain(`a job named "${name}" already exists`);
      });
    });

    describe("GET /v1/job/:uuid", () => {
      test("400 for a malformed uuid, 404 for an unknown one", async () => {
        await expectInvalid(api, "GET", "/v1/job/not-a-uuid", undefined, "uuid", "must be a UUID");
        expect((await call(api, "GET", `/v1/job/${NOBODY}`, 404)).json.error).toBe(`no job with uuid ${NOBODY}`);
      });
    });

    describe("PUT /v1/job/:uuid", () => {
      test("answers ok updated; show reflects the new name and references", async () => {
        const uuid = await makeJob(api, main, fresh());
        const { paused: _, ...body } = jobBody(other, fresh(), { summary: "moved" });
        expect((await call(api, "PUT", `/v1/job/${uuid}`, 200, { body })).json).toEqual({ ok: "updated" });
        expect((await call(api, "GET", `/v1/job/${uuid}`, 200)).json).toEqual(expected(uuid, other, "other", body));
      });

      test("priority, compression and paused stay as they were when left out", async () => {
        const uuid = await makeJob(api, main, fresh(), { priority: 7, paused: true, compression: "none" });
        const { paused: _, ...body } = jobBody(main, fresh());
        await call(api, "PUT", `/v1/job/${uuid}`, 200, { body });
        const job = (await call(api, "GET", `/v1/job/${uuid}`, 200)).json;
        expect([job.priority, job.paused, job.compression]).toEqual([7, true, "none"]);
        await call(api, "PUT", `/v1/job/${uuid}`, 200, { body: { ...body, priority: 9, compression: "gzip" } });
        const changed = (await call(api, "GET", `/v1/job/${uuid}`, 200)).json;
        expect([changed.priority, changed.compression]).toEqual([9, "gzip"]);
      });

      test("summary is required on update", async () => {
        const uuid = await makeJob(api, main, fresh());
        const { paused: _, summary: __, ...body } = jobBody(main, fresh());
        await expectInvalid(api, "PUT", `/v1/job/${uuid}`, body, "summary", "is required");
      });

      test("paused cannot be set on update (pause and unpause do that)", async () => {
        const uuid = await makeJob(api, main, fresh());
        await expectInvalid(api, "PUT", `/v1/job/${uuid}`, jobBody(main, fresh(), { paused: true }), "paused", "is not a field of this request");
        expect((await call(api, "GET", `/v1/job/${uuid}`, 200)).json.paused).toBe(false);
      });

      test("400 naming an unknown or malformed reference; the job is unchanged", async () => {
        const uuid = await makeJob(api, main, fresh());
        const before = (await call(api, "GET", `/v1/job/${uuid}`, 200)).json;
        const { paused: _, ...body } = jobBody(main, fresh());
        await expectInvalid(api, "PUT", `/v1/job/${uuid}`, { ...body, schedule: NOBODY }, "schedule", `no schedule with uuid ${NOBODY}`);
        await expectInvalid(api, "PUT", `/v1/job/${uuid}`, { ...body, retention: "x" }, "retention", "must be a UUID");
        expect((await call(api, "GET", `/v1/job/${uuid}`, 200)).json).toEqual(before);
      });

      test("409 for another job's name; its own name is fine", async () => {
        const taken = fresh();
        await makeJob(api, main, taken);
        const mine = fresh();
        const uuid = await makeJob(api, main, mine);
        const { paused: _, ...body } = jobBody(main, taken);
        expect((await call(api, "PUT", `/v1/job/${uuid}`, 409, { body })).json.error).toContain(`"${taken}"`);
        await call(api, "PUT", `/v1/job/${uuid}`, 200, { body: { ...body, name: mine } });
      });

      test("400 for a malformed uuid, 404 for an unknown one", async () => {
        const { paused: _, ...body } = jobBody(main, fresh());
        await expectInvalid(api, "PUT", "/v1/job/123", body, "uuid", "must be a UUID");
        expect((await call(api, "PUT", `/v1/job/${NOBODY}`, 404, { body })).json.error).toBe(`no job with uuid ${NOBODY}`);
      });
    });

    describe("DELETE /v1/job/:uuid", () => {
      test("answers ok deleted; the job is gone, its archives stay", async () => {
        const uuid = await makeJob(api, main, fresh());
        const archive = await insertArchive(api, { targetUuid: main.target, storeUuid: main.store, jobUuid: uuid, status: "purged" });
        expect((await call(api, "DELETE", `/v1/job/${uuid}`, 200)).json).toEqual({ ok: "deleted" });
        await call(api, "GET", `/v1/job/${uuid}`, 404);
        await call(api, "DELETE", `/v1/job/${uuid}`, 404);
        expect((await call(api, "GET", `/v1/archive/${archive.uuid}`, 200)).json.job_uuid).toBe(uuid);
      });

      test("400 for a malformed uuid, 404 for an unknown one", async () => {
        await expectInvalid(api, "DELETE", "/v1/job/zzz", undefined, "uuid", "must be a UUID");
        expect((await call(api, "DELETE", `/v1/job/${NOBODY}`, 404)).json.error).toBe(`no job with uuid ${NOBODY}`);
      });
    });

    describe("POST /v1/job/:uuid/pause and /unpause", () => {
      test("pause answers ok paused, unpause ok unpaused; both are idempotent", async () => {
        const uuid = await makeJob(api, main, fresh());
        for (let i = 0; i < 2; i++) {
          expect((await call(api, "POST", `/v1/job/${uuid}/pause`, 200)).json).toEqual({ ok: "paused" });
          expect((await call(api, "GET", `/v1/job/${uuid}`, 200)).json.paused).toBe(true);
        }
        for (let i = 0; i < 2; i++) {
          expect((await call(api, "POST", `/v1/job/${uuid}/unpause`, 200)).json).toEqual({ ok: "unpaused" });
          expect((await call(api, "GET", `/v1/job/${uuid}`, 200)).json.paused).toBe(false);
        }
      });

      test("a body is not needed, and one sent is ignored", async () => {
        const uuid = await makeJob(api, main, fresh());
        await call(api, "POST", `/v1/job/${uuid}/pause`, 200, { body: { anything: 1 } });
      });

      for (const action of ["pause", "unpause"]) {
        test(`${action}: 400 for a malformed uuid, 404 for an unknown one`, async () => {
          await expectInvalid(api, "POST", `/v1/job/nope/${action}`, undefined, "uuid", "must be a UUID");
          expect((await call(api, "POST", `/v1/job/${NOBODY}/${action}`, 404)).json.error).toBe(`no job with uuid ${NOBODY}`);
        });
      }
    });

    describe("POST /v1/job/:uuid/run", () => {
      const taskOf = async (uuid: string) => (await call(api, "GET", `/v1/task/${uuid}`, 200)).json;

      test("files a pending backup task owned by anon, shown in /v1/tasks", async () => {
        const uuid = await makeJob(api, main, fresh());
        const res = await call(api, "POST", `/v1/job/${uuid}/run`, 200);
        expect(Object.keys(res.json).sort()).toEqual(["ok", "task_uuid"]);
        expect(res.json.ok).toBe("scheduled");
        expect(res.json.task_uuid).toMatch(UUID_RE);
        const task = await taskOf(res.json.task_uuid);
        expect(task).toEqual({
          uuid: res.json.task_uuid, owner: "admin", requested_by: "admin", type: "backup", status: "pending",
          job_uuid: uuid, archive_uuid: null, target_uuid: main.target, store_uuid: main.store,
          requested_at: expect.stringMatching(TIME_RE), due_at: null, started_at: null, stopped_at: null, runner: null, error: null, progress: null, log: "",
        });
        const requested = Date.parse(task.requested_at.replace(" ", "T") + "Z");
        expect(Math.abs(requested - Date.now())).toBeLessThan(60_000);
        const listed = (await call(api, "GET", `/v1/tasks?job=${uuid}`, 200)).json;
        expect(listed).toEqual([task]);
        expect((await call(api, "GET", "/v1/tasks?status=pending", 200)).json.map((t: any) => t.uuid)).toContain(task.uuid);
      });

      test("owner is taken from the body; {} and no body both mean the requesting user", async () => {
        const uuid = await makeJob(api, main, fresh());
        const owned = (await call(api, "POST", `/v1/job/${uuid}/run`, 200, { body: { owner: "jhunt" } })).json.task_uuid;
        expect((await taskOf(owned)).owner).toBe("jhunt");
        const trimmed = (await call(api, "POST", `/v1/job/${uuid}/run`, 200, { body: { owner: " jhunt " } })).json.task_uuid;
        expect((await taskOf(trimmed)).owner).toBe("jhunt");
        const empty = (await call(api, "POST", `/v1/job/${uuid}/run`, 200, { body: {} })).json.task_uuid;
        expect((await taskOf(empty)).owner).toBe("admin");
        const blank = (await call(api, "POST", `/v1/job/${uuid}/run`, 200, { body: "  ", as: "operator" })).json.task_uuid;
        expect((await taskOf(blank)).owner).toBe("operator");
        // Each run files its own task.
        expect((await call(api, "GET", `/v1/tasks?job=${uuid}`, 200)).json.length).toBe(4);
      });

      test("a paused job can still be run by hand", async () => {
        const uuid = await makeJob(api, main, fresh(), { paused: true });
        const task = (await call(api, "POST", `/v1/job/${uuid}/run`, 200)).json.task_uuid;
        expect((await taskOf(task)).status).toBe("pending");
      });

      test("400 for a bad body, naming the field; no task is filed", async () => {
        const uuid = await makeJob(api, main, fresh());
        await expectInvalid(api, "POST", `/v1/job/${uuid}/run`, { owner: "" }, "owner", "must not be empty");
        await expectInvalid(api, "POST", `/v1/job/${uuid}/run`, { owner: 42 }, "owner", "must be a string");
        await expectInvalid(api, "POST", `/v1/job/${uuid}/run`, { owner: "x".repeat(201) }, "owner", "at most 200");
        await expectInvalid(api, "POST", `/v1/job/${uuid}/run`, { target: NOBODY }, "target", "is not a field of this request");
        await call(api, "POST", `/v1/job/${uuid}/run`, 400, { body: "{owner:" });
        await call(api, "POST", `/v1/job/${uuid}/run`, 400, { body: "[]" });
        expect((await call(api, "GET", `/v1/tasks?job=${uuid}`, 200)).json).toEqual([]);
      });

      test("400 for a malformed uuid, 404 for an unknown one", async () => {
        await expectInvalid(api, "POST", "/v1/job/nope/run", undefined, "uuid", "must be a UUID");
        expect((await call(api, "POST", `/v1/job/${NOBODY}/run`, 404)).json.error).toBe(`no job with uuid ${NOBODY}`);
      });
    });

    describe("GET /v1/jobs", () => {
      let lapi: TestApi;
      let a: Definitions;
      let b: Definitions;
      const jobs: Record<string, string> = {};
      beforeAll(async () => {
        lapi = await testApi(dialect);
        a = await makeDefinitions(lapi, "a");
        b = await makeDefinitions(lapi, "b");
        // Mixed: each job takes its target, store, schedule and policy from a or b.
        const mk = async (name: string, from: [Definitions, Definitions, Definitions, Definitions], paused: boolean) => {
          const [t, s, sc, r] = from;
          jobs[name] = (await call(lapi, "POST", "/v1/jobs", 200, {
            body: { name, target: t.target, store: s.store, schedule: sc.schedule, retention: r.retention, paused },
          })).json.uuid;
        };
        await mk("charlie", [a, a, a, a], false);
        await mk("alpha", [a, b, a, b], true);
        await mk("bravo", [b, a, b, a], false);
      });
      afterAll(() => lapi.cleanup());

      const names = async (query: string) => (await call(lapi, "GET", `/v1/jobs${query}`, 200)).json.map((j: any) => j.name);

      test("lists every job by name, each as show returns it", async () => {
        const res = await call(lapi, "GET", "/v1/jobs", 200);
        expect(res.json.map((j: any) => j.name)).toEqual(["alpha", "bravo", "charlie"]);
        for (const job of res.json) expect(job).toEqual((await call(lapi, "GET", `/v1/job/${job.uuid}`, 200)).json);
      });

      test("filters by target, store, schedule, retention and paused, and combines them", async () => {
        expect(await names(`?target=${a.target}`)).toEqual(["alpha", "charlie"]);
        expect(await names(`?store=${a.store}`)).toEqual(["bravo", "charlie"]);
        expect(await names(`?schedule=${b.schedule}`)).toEqual(["bravo"]);
        expect(await names(`?retention=${b.retention}`)).toEqual(["alpha"]);
        expect(await names("?paused=t")).toEqual(["alpha"]);
        expect(await names("?paused=f")).toEqual(["bravo", "charlie"]);
        expect(await names(`?target=${a.target}&paused=f`)).toEqual(["charlie"]);
        expect(await names(`?target=${a.target}&store=${a.store}&schedule=${a.schedule}&retention=${a.retention}`)).toEqual(["charlie"]);
        expect(await names(`?target=${b.target}&store=${b.store}`)).toEqual([]);
        expect(await names(`?target=${NOBODY}`)).toEqual([]);
      });

      test("uuids in capitals find the same jobs, in every dialect", async () => {
        expect(await names(`?target=${a.target.toUpperCase()}`)).toEqual(["alpha", "charlie"]);
        const job = jobs.alpha!;
        expect((await call(lapi, "GET", `/v1/job/${job.toUpperCase()}`, 200)).json.uuid).toBe(job);
        const body = { ...jobBody(b, "delta"), target: b.target.toUpperCase(), store: b.store.toUpperCase() };
        const uuid = (await call(lapi, "POST", "/v1/jobs", 200, { body })).json.uuid;
        const shown = (await call(lapi, "GET", `/v1/job/${uuid}`, 200)).json;
        expect([shown.target_uuid, shown.store_uuid]).toEqual([b.target, b.store]);
        await call(lapi, "DELETE", `/v1/job/${uuid.toUpperCase()}`, 200);
      });

      test("400 for a malformed filter, naming it", async () => {
        for (const f of ["target", "store", "schedule", "retention"]) {
          await expectInvalid(lapi, "GET", `/v1/jobs?${f}=abc`, undefined, f, "must be a UUID");
        }
        await expectInvalid(lapi, "GET", "/v1/jobs?paused=maybe", undefined, "paused", "must be t or f");
        await expectInvalid(lapi, "GET", "/v1/jobs?pasued=t", undefined, "pasued", "is not a parameter of this request");
      });

      test("limit and offset page by name, and combine with filters; without them the list is whole", async () => {
        expect(await names("?limit=2")).toEqual(["alpha", "bravo"]);
        expect(await names("?limit=2&offset=2")).toEqual(["charlie"]);
        expect(await names("?offset=1")).toEqual(["bravo", "charlie"]);
        expect(await names("?limit=1&offset=1&paused=f")).toEqual(["charlie"]);
        expect(await names("?limit=1000&offset=3")).toEqual([]);
        await expectInvalid(lapi, "GET", "/v1/jobs?limit=0", undefined, "limit", "from 1 to 1000");
        await expectInvalid(lapi, "GET", "/v1/jobs?offset=x", undefined, "offset", "whole number");
      });
    });

    describe("authentication and roles", () => {
      const all = (uuid: string): [string, string, unknown][] => [
        ["GET", "/v1/jobs", undefined],
        ["POST", "/v1/jobs", jobBody(main, "never")],
        ["GET", `/v1/job/${uuid}`, undefined],
        ["PUT", `/v1/job/${uuid}`, { ...jobBody(main, "never"), paused: undefined }],
        ["DELETE", `/v1/job/${uuid}`, undefined],
        ["POST", `/v1/job/${uuid}/pause`, undefined],
        ["POST", `/v1/job/${uuid}/unpause`, undefined],
        ["POST", `/v1/job/${uuid}/run`, undefined],
      ];

      test("401 without or with wrong credentials, on every endpoint", async () => {
        const uuid = await makeJob(api, main, fresh());
        for (const [method, path, body] of all(uuid)) await expectAuthRequired(api, method, path, body);
      });

      test("a viewer may list and show, nothing else; the job is untouched", async () => {
        const uuid = await makeJob(api, main, fresh());
        const before = (await call(api, "GET", `/v1/job/${uuid}`, 200)).json;
        for (const [method, path, body] of all(uuid)) {
          if (method === "GET") await call(api, method, path, 200, { as: "viewer" });
          else await expectForbidden(api, method, path, "viewer", body);
        }
        expect((await call(api, "GET", `/v1/job/${uuid}`, 200)).json).toEqual(before);
        expect((await call(api, "GET", `/v1/tasks?job=${uuid}`, 200)).json).toEqual([]);
        expect((await call(api, "GET", "/v1/jobs", 200)).json.map((j: any) => j.name)).not.toContain("never");
      });

      test("an operator may create, update, pause, unpause, run and delete", async () => {
        const name = fresh();
        const uuid = (await call(api, "POST", "/v1/jobs", 200, { body: jobBody(main, name), as: "operator" })).json.uuid;
        const { paused: _, ...body } = jobBody(other, name);
        await call(api, "PUT", `/v1/job/${uuid}`, 200, { body, as: "operator" });
        await call(api, "POST", `/v1/job/${uuid}/pause`, 200, { as: "operator" });
        await call(api, "POST", `/v1/job/${uuid}/unpause`, 200, { as: "operator" });
        await call(api, "POST", `/v1/job/${uuid}/run`, 200, { as: "operator" });
        await call(api, "DELETE", `/v1/job/${uuid}`, 200, { as: "operator" });
      });
    });
  });
}

for (const dialect of dialects) {
  describe(`a job without a schedule on ${dialect}`, () => {
    let api: TestApi;
    let d: Definitions;
    beforeAll(async () => {
      api = await testApi(dialect);
      d = await makeDefinitions(api, "manual");
    });
    afterAll(() => api.cleanup());

    test("created without one (left out or null): no schedule, no next run, runs when asked", async () => {
      const { schedule: _, ...noSchedule } = jobBody(d, "by-hand-1");
      const left = (await call(api, "POST", "/v1/jobs", 200, { body: noSchedule })).json.uuid;
      const nulled = (await call(api, "POST", "/v1/jobs", 200, { body: jobBody(d, "by-hand-2", { schedule: null }) })).json.uuid;
      for (const uuid of [left, nulled]) {
        const job = (await call(api, "GET", `/v1/job/${uuid}`, 200)).json;
        expect(job).toMatchObject({ schedule_uuid: null, schedule_name: null, schedule: null, next_run: null, paused: false });
        expect((await call(api, "POST", `/v1/job/${uuid}/run`, 200, { body: {} })).json.ok).toBe("scheduled");
      }
      // Listed with the others; a filter by schedule leaves it out.
      const names = (await call(api, "GET", "/v1/jobs", 200)).json.map((j: any) => j.name);
      expect(names).toEqual(expect.arrayContaining(["by-hand-1", "by-hand-2"]));
      expect((await call(api, "GET", `/v1/jobs?schedule=${d.schedule}`, 200)).json.map((j: any) => j.name)).not.toContain("by-hand-1");
    });

    test("an update may take the schedule away (null), leave it (left out), or give one", async () => {
      const uuid = (await call(api, "POST", "/v1/jobs", 200, { body: jobBody(d, "switching") })).json.uuid;
      const { paused: _p, ...update } = jobBody(d, "switching");
      await call(api, "PUT", `/v1/job/${uuid}`, 200, { body: { ...update, schedule: null } });
      expect((await call(api, "GET", `/v1/job/${uuid}`, 200)).json.schedule_uuid).toBeNull();
      const { schedule: _s, ...leftOut } = update;
      await call(api, "PUT", `/v1/job/${uuid}`, 200, { body: { ...leftOut, summary: "still by hand" } });
      expect((await call(api, "GET", `/v1/job/${uuid}`, 200)).json).toMatchObject({ schedule_uuid: null, summary: "still by hand" });
      await call(api, "PUT", `/v1/job/${uuid}`, 200, { body: update });
      const job = (await call(api, "GET", `/v1/job/${uuid}`, 200)).json;
      expect(job).toMatchObject({ schedule_uuid: d.schedule, schedule: "daily at 4am" });
      expect(job.next_run).toMatch(TIME_RE);
      // Left out now keeps the schedule it has.
      await call(api, "PUT", `/v1/job/${uuid}`, 200, { body: leftOut });
      expect((await call(api, "GET", `/v1/job/${uuid}`, 200)).json.schedule_uuid).toBe(d.schedule);
    });

    test("a schedule that is not one is still refused, naming the field", async () => {
      await expectInvalid(api, "POST", "/v1/jobs", jobBody(d, "bad", { schedule: NOBODY }), "schedule", `no schedule with uuid ${NOBODY}`);
      await expectInvalid(api, "POST", "/v1/jobs", jobBody(d, "bad", { schedule: "nightly" }), "schedule", /must be a UUID/);
    });
  });
}
