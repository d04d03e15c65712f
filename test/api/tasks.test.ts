// /v1 contract of tasks: list (filters, paging, newest first), show, cancel. Tasks
// are filed by run and restore (see jobs and archives); here they are inserted
// through the catalog so that every status can be set up.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApi, type TestApi } from "../helpers/app.ts";
import {
  NOBODY, TIME_RE, at, call, expectAuthRequired, expectForbidden, expectInvalid, insertTask, makeDefinitions, makeJob, setTaskState,
} from "./fixtures.ts";

describe("/v1/tasks", () => {
  let api: TestApi;
  const job = crypto.randomUUID();
  const archive = crypto.randomUUID();
  const target = crypto.randomUUID();
  const store = crypto.randomUUID();
  const pending = () => insertTask(api, { jobUuid: job, targetUuid: target, storeUuid: store, requestedAt: at("2015-11-25 11:00:00") });

  beforeAll(async () => { api = await testApi(); });
  afterAll(() => api.cleanup());

  describe("GET /v1/task/:uuid", () => {
    test("shows a task as the design does: type, owner, status, times as UTC text, the log", async () => {
      const uuid = await insertTask(api, {
        op: "restore", owner: "jhunt", jobUuid: job, archiveUuid: archive, targetUuid: target, storeUuid: store,
        requestedAt: at("2015-11-25 11:29:59"),
      });
      expect((await call(api, "GET", `/v1/task/${uuid}`, 200)).json).toEqual({
        uuid, owner: "jhunt", requested_by: null, type: "restore", status: "pending",
        job_uuid: job, archive_uuid: archive, target_uuid: target, store_uuid: store,
        requested_at: "2015-11-25 11:29:59", due_at: null, started_at: null, stopped_at: null, runner: null, error: null, progress: null, log: "",
      });
      await setTaskState(api, uuid, { status: "done", startedAt: at("2015-11-25 11:30:00"), stoppedAt: at("2015-11-25 11:32:00"), log: "this is the log of the job" });
      const done = (await call(api, "GET", `/v1/task/${uuid}`, 200)).json;
      expect([done.status, done.started_at, done.stopped_at, done.log]).toEqual(["done", "2015-11-25 11:30:00", "2015-11-25 11:32:00", "this is the log of the job"]);
    });

    test("a task with no job, archive, target or store shows nulls", async () => {
      const uuid = await insertTask(api, { requestedAt: at("2015-11-25 11:00:00") });
      const t = (await call(api, "GET", `/v1/task/${uuid}`, 200)).json;
      expect([t.job_uuid, t.archive_uuid, t.target_uuid, t.store_uuid]).toEqual([null, null, null, null]);
    });

    test("400 for a malformed uuid, 404 for an unknown one", async () => {
      await expectInvalid(api, "GET", "/v1/task/42", undefined, "uuid", "must be a UUID");
      expect((await call(api, "GET", `/v1/task/${NOBODY}`, 404)).json.error).toBe(`no task with uuid ${NOBODY}`);
    });
  });

  describe("GET /v1/task/:uuid?wait=", () => {
    test("a task that ends meanwhile is answered as soon as its row says so, not after the whole wait", async () => {
      const uuid = await pending();
      const started = performance.now();
      setTimeout(() => void setTaskState(api, uuid, { status: "done", startedAt: at("2015-11-25 11:30:00"), stoppedAt: at("2015-11-25 11:32:00") }), 300);
      // No supervisor in this API: the row is read again every second of the wait.
      const t = (await call(api, "GET", `/v1/task/${uuid}?wait=8`, 200)).json;
      expect(t.status).toBe("done");
      expect(performance.now() - started).toBeLessThan(2500);
    });

    test("a task still running is answered after the wait, as it is; a finished one at once", async () => {
      const uuid = await pending();
      let started = performance.now();
      expect((await call(api, "GET", `/v1/task/${uuid}?wait=1`, 200)).json.status).toBe("pending");
      expect(performance.now() - started).toBeGreaterThanOrEqual(950);
      await setTaskState(api, uuid, { status: "failed", startedAt: at("2015-11-25 11:30:00"), stoppedAt: at("2015-11-25 11:32:00") });
      started = performance.now();
      expect((await call(api, "GET", `/v1/task/${uuid}?wait=8`, 200)).json.status).toBe("failed");
      expect((await call(api, "GET", `/v1/task/${uuid}?wait=0`, 200)).json.status).toBe("failed");
      expect(performance.now() - started).toBeLessThan(500);
    });

    test("400 for a wait that is not a whole number of seconds up to 8, naming it", async () => {
      const uuid = await pending();
      for (const bad of ["9", "-1", "1.5", "soon", ""]) {
        await expectInvalid(api, "GET", `/v1/task/${uuid}?wait=${bad}`, undefined, "wait", "must be a whole number of seconds from 0 to 8");
      }
    });
  });

  describe("DELETE /v1/task/:uuid (cancel)", () => {
    test("a pending task is canceled: ok canceled, status canceled, stopped now", async () => {
      const uuid = await pending();
      expect((await call(api, "DELETE", `/v1/task/${uuid}`, 200)).json).toEqual({ ok: "canceled" });
      const t = (await call(api, "GET", `/v1/task/${uuid}`, 200)).json;
      expect(t.status).toBe("canceled");
      expect(t.stopped_at).toMatch(TIME_RE);
      expect(Math.abs(Date.parse(t.stopped_at.replace(" ", "T") + "Z") - Date.now())).toBeLessThan(60_000);
    });

    test("a running task is canceled (the supervisor stops it)", async () => {
      const uuid = await pending();
      await setTaskState(api, uuid, { status: "running", startedAt: at("2015-11-25 11:00:01") });
      expect((await call(api, "DELETE", `/v1/task/${uuid}`, 200)).json).toEqual({ ok: "canceled" });
      const t = (await call(api, "GET", `/v1/task/${uuid}`, 200)).json;
      expect([t.status, t.started_at]).toEqual(["canceled", "2015-11-25 11:00:01"]);
    });

    test("409 for a finished task (done, failed, canceled), saying its status; it is unchanged", async () => {
      for (const status of ["done", "failed", "canceled"] as const) {
        const uuid = await pending();
        await setTaskState(api, uuid, { status, startedAt: at("2015-11-25 11:00:01"), stoppedAt: at("2015-11-25 11:00:02"), log: "x" });
        const before = (await call(api, "GET", `/v1/task/${uuid}`, 200)).json;
        const res = await call(api, "DELETE", `/v1/task/${uuid}`, 409);
        expect(res.json.error).toContain(`is already ${status}`);
        expect(res.json.error).toContain("only pending or running tasks can be canceled");
        expect((await call(api, "GET", `/v1/task/${uuid}`, 200)).json).toEqual(before);
      }
    });

    test("canceling twice: the second is a 409", async () => {
      const uuid = await pending();
      await call(api, "DELETE", `/v1/task/${uuid}`, 200);
      expect((await call(api, "DELETE", `/v1/task/${uuid}`, 409)).json.error).toContain("already canceled");
    });

    test("400 for a malformed uuid, 404 for an unknown one", async () => {
      await expectInvalid(api, "DELETE", "/v1/task/42", undefined, "uuid", "must be a UUID");
      expect((await call(api, "DELETE", `/v1/task/${NOBODY}`, 404)).json.error).toBe(`no task with uuid ${NOBODY}`);
    });
  });

  describe("GET /v1/tasks", () => {
    let lapi: TestApi;
    const ids: Record<string, string> = {};
    const jobA = crypto.randomUUID();
    const jobB = crypto.randomUUID();
    const arch = crypto.randomUUID();
    beforeAll(async () => {
      lapi = await testApi();
      const mk = async (name: string, requested: string, t: { jobUuid?: string; archiveUuid?: string; op?: string }, status?: "running" | "done" | "failed" | "canceled") => {
        ids[name] = await insertTask(lapi, { ...t, owner: name, requestedAt: at(requested) });
        if (status) await setTaskState(lapi, ids[name]!, { status, startedAt: at(requested) + 1, stoppedAt: status === "running" ? null : at(requested) + 2 });
      };
      await mk("oldest", "2015-11-25 10:00:00", { jobUuid: jobA }, "done");
      await mk("second", "2015-11-25 11:00:00", { jobUuid: jobB }, "failed");
      await mk("third", "2015-11-25 12:00:00", { jobUuid: jobA, archiveUuid: arch, op: "restore" }, "running");
      await mk("fourth", "2015-11-25 13:00:00", { jobUuid: jobA });
      await mk("newest", "2015-11-25 14:00:00", { jobUuid: jobB }, "canceled");
    });
    afterAll(() => lapi.cleanup());

    const owners = async (query = "") => (await call(lapi, "GET", `/v1/tasks${query}`, 200)).json.map((t: any) => t.owner);

    test("lists all, newest first, each as show returns it", async () => {
      const res = await call(lapi, "GET", "/v1/tasks", 200);
      expect(res.json.map((t: any) => t.owner)).toEqual(["newest", "fourth", "third", "second", "oldest"]);
      for (const t of res.json) expect(t).toEqual((await call(lapi, "GET", `/v1/task/${t.uuid}`, 200)).json);
    });

    test("status= filters by each status", async () => {
      expect(await owners("?status=pending")).toEqual(["fourth"]);
      expect(await owners("?status=running")).toEqual(["third"]);
      expect(await owners("?status=done")).toEqual(["oldest"]);
      expect(await owners("?status=failed")).toEqual(["second"]);
      expect(await owners("?status=canceled")).toEqual(["newest"]);
    });

    test("job= and archive= filter, and combine with status=", async () => {
      expect(await owners(`?job=${jobA}`)).toEqual(["fourth", "third", "oldest"]);
      expect(await owners(`?job=${jobB}&status=failed`)).toEqual(["second"]);
      expect(await owners(`?archive=${arch}`)).toEqual(["third"]);
      expect(await owners(`?job=${NOBODY}`)).toEqual([]);
    });

    test("?debug (of the original Shield) is accepted and changes nothing", async () => {
      const all = await owners();
      expect(await owners("?debug")).toEqual(all);
      expect(await owners("?debug=true")).toEqual(all);
    });

    test("limit= and offset= page through the newest-first order", async () => {
      expect(await owners("?limit=2")).toEqual(["newest", "fourth"]);
      expect(await owners("?limit=2&offset=2")).toEqual(["third", "second"]);
      expect(await owners("?offset=4")).toEqual(["oldest"]);
      expect(await owners("?offset=5")).toEqual([]);
      expect(await owners(`?job=${jobA}&limit=1&offset=1`)).toEqual(["third"]);
    });

    test("400 for malformed filters and paging, naming the parameter", async () => {
      const bad: [string, string, string][] = [
        ["status=finished", "status", "must be pending, running, canceled, failed or done"],
        ["status=", "status", "must be pending"],
        ["job=abc", "job", "must be a UUID"],
        ["archive=abc", "archive", "must be a UUID"],
        ["limit=0", "limit", "1 to 1000"],
        ["limit=5000", "limit", "1 to 1000"],
        ["offset=-3", "offset", "whole number"],
      ];
      for (const [query, field, words] of bad) await expectInvalid(lapi, "GET", `/v1/tasks?${query}`, undefined, field, words);
    });

    test("at most 100 tasks unless limit= says otherwise", async () => {
      const many = await testApi();
      try {
        for (let i = 0; i < 103; i++) await insertTask(many, { requestedAt: at("2020-01-01 00:00:00") + i });
        const all = (await call(many, "GET", "/v1/tasks", 200)).json;
        expect(all).toHaveLength(100);
        expect(all[0].requested_at).toBe("2020-01-01 00:01:42");
        expect((await call(many, "GET", "/v1/tasks?limit=1000", 200)).json).toHaveLength(103);
      } finally {
        await many.cleanup();
      }
    });
  });

  describe("GET /v1/tasks?q= (the web UI's search box)", () => {
    let qapi: TestApi;
    beforeAll(async () => {
      qapi = await testApi();
      const d = await makeDefinitions(qapi, "Ledger");
      const job = await makeJob(qapi, d, "nightly_50%");
      const mk = async (owner: string, requested: string, t: { jobUuid?: string; targetUuid?: string }, error?: string) => {
        const uuid = await insertTask(qapi, { ...t, owner, requestedAt: at(requested) });
        if (error) await setTaskState(qapi, uuid, { status: "failed", startedAt: at(requested), stoppedAt: at(requested) + 1, error });
      };
      await mk("by-job", "2015-11-25 10:00:00", { jobUuid: job, targetUuid: d.target });
      await mk("by-target", "2015-11-25 11:00:00", { targetUuid: d.target });
      await mk("by-error", "2015-11-25 12:00:00", {}, "store failed (exit 4): No space left on device");
      await mk("nothing", "2015-11-25 13:00:00", {});
    });
    afterAll(() => qapi.cleanup());
    const owners = async (q: string, more = "") => (await call(qapi, "GET", `/v1/tasks?q=${encodeURIComponent(q)}${more}`, 200)).json.map((t: any) => t.owner);

    test("matches the job's name, the target's name or the error line, ignoring case, newest first", async () => {
      expect(await owners("NIGHTLY")).toEqual(["by-job"]);
      expect(await owners("ledger target")).toEqual(["by-target", "by-job"]);
      expect(await owners("no space")).toEqual(["by-error"]);
      expect(await owners("nowhere")).toEqual([]);
      expect(await owners("ledger", "&status=failed")).toEqual([]);
      expect(await owners("ledger", "&limit=1")).toEqual(["by-target"]);
    });

    test("% and _ match themselves, not any text", async () => {
      expect(await owners("%")).toEqual(["by-job"]);
      expect(await owners("_50")).toEqual(["by-job"]);
      expect(await owners("y_j")).toEqual([]);
    });

    test("400 for an empty or overlong q, naming it", async () => {
      await expectInvalid(qapi, "GET", "/v1/tasks?q=", undefined, "q", "must not be empty");
      await expectInvalid(qapi, "GET", `/v1/tasks?q=${"x".repeat(201)}`, undefined, "q", "at most 200 characters");
    });
  });

  describe("authentication and roles", () => {
    test("401 without or with wrong credentials, on every endpoint", async () => {
      const uuid = await pending();
      for (const [method, path] of [["GET", "/v1/tasks"], ["GET", `/v1/task/${uuid}`], ["DELETE", `/v1/task/${uuid}`]] as const) {
        await expectAuthRequired(api, method, path);
      }
      expect((await call(api, "GET", `/v1/task/${uuid}`, 200)).json.status).toBe("pending");
    });

    test("a viewer may list and show, not cancel; an operator may cancel", async () => {
      const uuid = await pending();
      await call(api, "GET", "/v1/tasks", 200, { as: "viewer" });
      await call(api, "GET", `/v1/task/${uuid}`, 200, { as: "viewer" });
      await expectForbidden(api, "DELETE", `/v1/task/${uuid}`, "viewer");
      expect((await call(api, "GET", `/v1/task/${uuid}`, 200)).json.status).toBe("pending");
      await call(api, "DELETE", `/v1/task/${uuid}`, 200, { as: "operator" });
    });
  });
});
