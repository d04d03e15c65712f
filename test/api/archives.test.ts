// /v1 contract of archives: list (filters, paging, newest first), show, annotate,
// delete (expire now) and restore. There is no create endpoint: backups make
// archives, so these tests insert rows through the catalog.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApi, type TestApi } from "../helpers/app.ts";
import type { ArchiveRow } from "../../src/catalog/index.ts";
import {
  NOBODY, TIME_RE, UUID_RE, at, call, expectAuthRequired, expectForbidden, expectInvalid, insertArchive, makeDefinitions,
  makeJob, type Definitions,
} from "./fixtures.ts";

/** The archive JSON of the design, plus what the product records (size, checksum, compression, cipher, status); shown, with its copies. */
function archiveJson(a: ArchiveRow, tag: string | null, copies: unknown[] = []) {
  const time = (s: number | null) => (s === null ? null : new Date(s * 1000).toISOString().slice(0, 19).replace("T", " "));
  return {
    uuid: a.uuid, store_key: a.storeKey, taken_at: time(a.takenAt), expires_at: time(a.expiresAt), notes: a.notes,
    status: a.status, job_uuid: a.jobUuid, size: a.size, raw_size: a.rawSize, sha256: a.sha256,
    compression: a.compression, cipher: a.cipher, purged_at: time(a.purgedAt),
    purge_attempts: a.purgeAttempts, purge_error: a.purgeError, purge_next_at: a.status === "purge_failed" ? time(a.purgeNextAt) : null,
    pinned: a.pinned, pin_reason: a.pinReason,
    store_uuid: a.storeUuid, store_name: tag && `${tag} store`, store_plugin: tag && "fs", store_endpoint: tag && `{"path":"/${tag}"}`,
    target_uuid: a.targetUuid, target_name: tag && `${tag} target`, target_plugin: tag && "postgres", target_endpoint: tag && `{"host":"${tag}-db"}`,
    copies,
  };
}

describe("/v1/archives", () => {
  let api: TestApi;
  let main: Definitions;
  let other: Definitions;
  let job: string;
  const archive = (a: Partial<ArchiveRow> = {}) => insertArchive(api, { targetUuid: main.target, storeUuid: main.store, jobUuid: job, ...a });

  beforeAll(async () => {
    api = await testApi();
    main = await makeDefinitions(api, "main");
    other = await makeDefinitions(api, "other");
    job = await makeJob(api, main, "main job");
  });
  afterAll(() => api.cleanup());

  describe("GET /v1/archive/:uuid", () => {
    test("shows the archive joined with its target and store; never its key", async () => {
      const a = await archive({ notes: "before change #422", takenAt: at("2015-10-25 11:32:00"), expiresAt: at("2015-12-25 11:32:00") });
      const res = await call(api, "GET", `/v1/archive/${a.uuid}`, 200);
      expect(res.json).toEqual(archiveJson(a, "main"));
      expect(res.json.taken_at).toBe("2015-10-25 11:32:00");
      expect(res.json.expires_at).toBe("2015-12-25 11:32:00");
      expect(res.text).not.toContain("wrapped-key-never-shown");
      expect(res.text).not.toContain("encryption");
    });

    test("lists the archive's copies in other stores, each with its status", async () => {
      const a = await archive({});
      const other = await call(api, "POST", "/v1/stores", 200, { body: { name: "offsite", plugin: "fs", endpoint: { base_dir: "/offsite" } } }).catch(() => undefined);
      const storeUuid = other?.json.uuid ?? crypto.randomUUID();
      await api.catalog.copies.create({ uuid: crypto.randomUUID(), archiveUuid: a.uuid, storeUuid, retentionUuid: null, createdAt: 1 });
      const c = (await api.catalog.copies.get(a.uuid, storeUuid))!;
      await api.catalog.copies.markValid(c.uuid, { storeKey: "COPY-1", size: 1234, sha256: "ab".repeat(32), copiedAt: 2, expiresAt: 3 });
      const res = await call(api, "GET", `/v1/archive/${a.uuid}`, 200);
      expect(res.json.copies).toEqual([expect.objectContaining({
        store_uuid: storeUuid, status: "valid", store_key: "COPY-1", size: 1234, sha256: "ab".repeat(32),
        copied_at: "1970-01-01 00:00:02", expires_at: "1970-01-01 00:00:03", purged_at: null,
      })]);
    });

    test("an archive whose target and store are gone shows nulls for them", async () => {
      const a = await archive({ targetUuid: crypto.randomUUID(), storeUuid: crypto.randomUUID(), status: "purged", purgedAt: at("2016-01-01 00:00:00") });
      const res = await call(api, "GET", `/v1/archive/${a.uuid}`, 200);
      expect(res.json).toEqual(archiveJson(a, null));
      expect(res.json.purged_at).toBe("2016-01-01 00:00:00");
    });

    test("400 for a malformed uuid, 404 for an unknown one", async () => {
      await expectInvalid(api, "GET", "/v1/archive/BKP-1234", undefined, "uuid", "must be a UUID");
      expect((await call(api, "GET", `/v1/archive/${NOBODY}`, 404)).json.error).toBe(`no archive with uuid ${NOBODY}`);
    });
  });

  describe("GET /v1/archives", () => {
    let lapi: TestApi;
    let d1: Definitions;
    let d2: Definitions;
    const rows: Record<string, ArchiveRow> = {};
    beforeAll(async () => {
      lapi = await testApi();
      d1 = await makeDefinitions(lapi, "one");
      d2 = await makeDefinitions(lapi, "two");
      const mk = async (key: string, taken: string, d: [Definitions, Definitions], status: ArchiveRow["status"] = "valid") => {
        rows[key] = await insertArchive(lapi, { targetUuid: d[0].target, storeUuid: d[1].store, takenAt: at(taken), storeKey: key, status });
      };
      await mk("late-on-24th", "2015-10-24 23:59:59", [d1, d1]);
      await mk("midnight-25th", "2015-10-25 00:00:00", [d1, d2]);
      await mk("noon-25th", "2015-10-25 11:32:00", [d2, d1], "expired");
      await mk("midnight-26th", "2015-10-26 00:00:00", [d2, d2], "purged");
      await mk("leap-day", "2016-02-29 12:00:00", [d1, d1]);
    });
    afterAll(() => lapi.cleanup());

    const keys = async (query = "") => (await call(lapi, "GET", `/v1/archives${query}`, 200)).json.map((a: any) => a.store_key);

    test("lists all, newest first, each as show returns it", async () => {
      const res = await call(lapi, "GET", "/v1/archives", 200);
      expect(res.json.map((a: any) => a.store_key)).toEqual(["leap-day", "midnight-26th", "noon-25th", "midnight-25th", "late-on-24th"]);
      // Show adds the archive's copies (a query of its own); the list leaves them out.
      for (const a of res.json) {
        const { copies, ...shown } = (await call(lapi, "GET", `/v1/archive/${a.uuid}`, 200)).json;
        expect(copies).toEqual([]);
        expect(a).toEqual(shown);
      }
    });

    test("target= and store= filter, and combine", async () => {
      expect(await keys(`?target=${d1.target}`)).toEqual(["leap-day", "midnight-25th", "late-on-24th"]);
      expect(await keys(`?store=${d2.store}`)).toEqual(["midnight-26th", "midnight-25th"]);
      expect(await keys(`?target=${d2.target}&store=${d1.store}`)).toEqual(["noon-25th"]);
      expect(await keys(`?target=${NOBODY}`)).toEqual([]);
    });

    test("after=YYYYMMDD includes that whole day (UTC); before=YYYYMMDD excludes it", async () => {
      expect(await keys("?after=20151025")).toEqual(["leap-day", "midnight-26th", "noon-25th", "midnight-25th"]);
      expect(await keys("?before=20151025")).toEqual(["late-on-24th"]);
      expect(await keys("?after=20151025&before=20151026")).toEqual(["noon-25th", "midnight-25th"]);
      expect(await keys("?after=20160229")).toEqual(["leap-day"]);
      expect(await keys("?after=20151026&before=20151025")).toEqual([]);
      expect(await keys(`?after=20151025&before=20151026&target=${d1.target}`)).toEqual(["midnight-25th"]);
    });

    test("status= filters by status", async () => {
      expect(await keys("?status=valid")).toEqual(["leap-day", "midnight-25th", "late-on-24th"]);
      expect(await keys("?status=expired")).toEqual(["noon-25th"]);
      expect(await keys("?status=purged")).toEqual(["midnight-26th"]);
      expect(await keys("?status=purge_failed")).toEqual([]);
    });

    test("limit= and offset= page through the newest-first order", async () => {
      expect(await keys("?limit=2")).toEqual(["leap-day", "midnight-26th"]);
      expect(await keys("?limit=2&offset=2")).toEqual(["noon-25th", "midnight-25th"]);
      expect(await keys("?limit=2&offset=4")).toEqual(["late-on-24th"]);
      expect(await keys("?offset=5")).toEqual([]);
      expect(await keys("?offset=1&limit=1&status=valid")).toEqual(["midnight-25th"]);
      expect(await keys("?limit=1000")).toHaveLength(5);
    });

    test("400 for malformed filters and paging, naming the parameter", async () => {
      const bad: [string, string, string][] = [
        ["target=one", "target", "must be a UUID"],
        ["store=1", "store", "must be a UUID"],
        ["after=2015-10-25", "after", "YYYYMMDD"],
        ["after=151025", "after", "YYYYMMDD"],
        ["before=20151332", "before", "not a calendar date"],
        ["before=20150229", "before", "not a calendar date"],
        ["after=20151000", "after", "not a calendar date"],
        ["status=deleted", "status", "must be valid, expired, purged or purge_failed"],
        ["limit=0", "limit", "1 to 1000"],
        ["limit=1001", "limit", "1 to 1000"],
        ["limit=ten", "limit", "1 to 1000"],
        ["limit=-1", "limit", "1 to 1000"],
        ["limit=1.5", "limit", "1 to 1000"],
        ["offset=-1", "offset", "whole number"],
        ["offset=x", "offset", "whole number"],
      ];
      for (const [query, field, words] of bad) await expectInvalid(lapi, "GET", `/v1/archives?${query}`, undefined, field, words);
    });

    test("at most 100 archives unless limit= says otherwise", async () => {
      const many = await testApi();
      try {
        const d = await makeDefinitions(many, "many");
        for (let i = 0; i < 105; i++) await insertArchive(many, { targetUuid: d.target, storeUuid: d.store, takenAt: at("2020-01-01 00:00:00") + i });
        const all = (await call(many, "GET", "/v1/archives", 200)).json;
        expect(all).toHaveLength(100);
        expect(all[0].taken_at).toBe("2020-01-01 00:01:44");
        expect((await call(many, "GET", "/v1/archives?limit=200", 200)).json).toHaveLength(105);
        expect((await call(many, "GET", "/v1/archives?offset=100", 200)).json).toHaveLength(5);
      } finally {
        await many.cleanup();
      }
    });
  });

  describe("PUT /v1/archive/:uuid", () => {
    test("sets the notes and answers ok updated; nothing else changes", async () => {
      const a = await archive();
      expect((await call(api, "PUT", `/v1/archive/${a.uuid}`, 200, { body: { notes: "before change #422" } })).json).toEqual({ ok: "updated" });
      expect((await call(api, "GET", `/v1/archive/${a.uuid}`, 200)).json).toEqual(archiveJson({ ...a, notes: "before change #422" }, "main"));
      await call(api, "PUT", `/v1/archive/${a.uuid}`, 200, { body: { notes: "" } });
      expect((await call(api, "GET", `/v1/archive/${a.uuid}`, 200)).json.notes).toBe("");
    });

    test("400 naming the field: notes missing, not a string, too long, holding NUL; other fields", async () => {
      const a = await archive({ notes: "kept" });
      const path = `/v1/archive/${a.uuid}`;
      await expectInvalid(api, "PUT", path, {}, "notes", "is required");
      await expectInvalid(api, "PUT", path, { notes: 1 }, "notes", "must be a string");
      await expectInvalid(api, "PUT", path, { notes: null }, "notes", "must be a string");
      await expectInvalid(api, "PUT", path, { notes: "n".repeat(10_001) }, "notes", "at most 10000");
      await expectInvalid(api, "PUT", path, { notes: "a\u0000b" }, "notes", "NUL");
      await expectInvalid(api, "PUT", path, { notes: "x", status: "valid" }, "status", "is not a field of this request");
      await expectInvalid(api, "PUT", path, { notes: "x", expires_at: "2099-01-01 00:00:00" }, "expires_at", "is not a field of this request");
      await call(api, "PUT", path, 400, { body: "" });
      expect((await call(api, "GET", path, 200)).json.notes).toBe("kept");
    });

    test("400 for a malformed uuid, 404 for an unknown one", async () => {
      await expectInvalid(api, "PUT", "/v1/archive/x", { notes: "n" }, "uuid", "must be a UUID");
      expect((await call(api, "PUT", `/v1/archive/${NOBODY}`, 404, { body: { notes: "n" } })).json.error).toBe(`no archive with uuid ${NOBODY}`);
    });
  });

  describe("DELETE /v1/archive/:uuid", () => {
    test("a valid archive is marked expired now, for the purger; it stays listed", async () => {
      const a = await archive({ expiresAt: at("2099-01-01 00:00:00") });
      expect((await call(api, "DELETE", `/v1/archive/${a.uuid}`, 200)).json).toEqual({ ok: "deleted" });
      const shown = (await call(api, "GET", `/v1/archive/${a.uuid}`, 200)).json;
      expect(shown.status).toBe("expired");
      expect(shown.expires_at).toMatch(TIME_RE);
      expect(Math.abs(Date.parse(shown.expires_at.replace(" ", "T") + "Z") - Date.now())).toBeLessThan(60_000);
      expect(shown).toEqual({ ...archiveJson(a, "main"), status: "expired", expires_at: shown.expires_at });
      expect((await call(api, "GET", "/v1/archives?status=expired", 200)).json.map((x: any) => x.uuid)).toContain(a.uuid);
    });

    test("an archive already expired is left as it is, for the purger", async () => {
      const a = await archive({ status: "expired" });
      expect((await call(api, "DELETE", `/v1/archive/${a.uuid}`, 200)).json).toEqual({ ok: "deleted" });
      expect((await call(api, "GET", `/v1/archive/${a.uuid}`, 200)).json).toEqual(archiveJson(a, "main"));
    });

    test("an archive whose purge failed shows the error and the next attempt; DELETE moves that attempt to now", async () => {
      const a = await archive({ status: "purge_failed", purgeAttempts: 3, purgeError: "store purge failed (exit 4): permission denied", purgeNextAt: at("2030-01-01 00:00:00") });
      const before = (await call(api, "GET", `/v1/archive/${a.uuid}`, 200)).json;
      expect(before).toEqual(archiveJson(a, "main"));
      expect(before).toMatchObject({ purge_attempts: 3, purge_error: "store purge failed (exit 4): permission denied", purge_next_at: "2030-01-01 00:00:00" });
      expect((await call(api, "DELETE", `/v1/archive/${a.uuid}`, 200)).json).toEqual({ ok: "deleted" });
      const after = (await call(api, "GET", `/v1/archive/${a.uuid}`, 200)).json;
      expect(after.status).toBe("purge_failed");
      expect(Math.abs(Date.parse(after.purge_next_at.replace(" ", "T") + "Z") - Date.now())).toBeLessThan(60_000);
    });

    test("409 for an archive already purged", async () => {
      const a = await archive({ status: "purged", purgedAt: at("2016-01-01 00:00:00") });
      expect((await call(api, "DELETE", `/v1/archive/${a.uuid}`, 409)).json.error).toContain("already purged");
    });

    test("400 for a malformed uuid, 404 for an unknown one", async () => {
      await expectInvalid(api, "DELETE", "/v1/archive/x", undefined, "uuid", "must be a UUID");
      expect((await call(api, "DELETE", `/v1/archive/${NOBODY}`, 404)).json.error).toBe(`no archive with uuid ${NOBODY}`);
    });
  });

  describe("POST /v1/archive/:uuid/restore", () => {
    const task = async (uuid: string) => (await call(api, "GET", `/v1/task/${uuid}`, 200)).json;

    test("files a pending restore task to the archive's own target, owned by anon", async () => {
      const a = await archive();
      const res = await call(api, "POST", `/v1/archive/${a.uuid}/restore`, 200);
      expect(Object.keys(res.json).sort()).toEqual(["ok", "task_uuid"]);
      expect(res.json.ok).toBe("scheduled");
      expect(res.json.task_uuid).toMatch(UUID_RE);
      expect(await task(res.json.task_uuid)).toEqual({
        uuid: res.json.task_uuid, owner: "admin", requested_by: "admin", type: "restore", status: "pending",
        job_uuid: job, archive_uuid: a.uuid, target_uuid: main.target, store_uuid: main.store,
        requested_at: expect.stringMatching(TIME_RE), due_at: null, started_at: null, stopped_at: null, runner: null, error: null, progress: null, log: "",
      });
      expect((await call(api, "GET", `/v1/tasks?archive=${a.uuid}`, 200)).json.map((t: any) => t.uuid)).toEqual([res.json.task_uuid]);
    });

    test("to another target, for another owner; the store is still the archive's", async () => {
      const a = await archive();
      const res = await call(api, "POST", `/v1/archive/${a.uuid}/restore`, 200, { body: { target: other.target, owner: "jhunt" } });
      const t = await task(res.json.task_uuid);
      expect([t.target_uuid, t.store_uuid, t.owner, t.archive_uuid]).toEqual([other.target, main.store, "jhunt", a.uuid]);
    });

    test("{} and an empty body both restore to the original target, owned by the requesting user", async () => {
      const a = await archive();
      for (const body of [{}, undefined, "\n"]) {
        const t = await task((await call(api, "POST", `/v1/archive/${a.uuid}/restore`, 200, { body })).json.task_uuid);
        expect([t.target_uuid, t.owner]).toEqual([main.target, "admin"]);
      }
    });

    test("400 naming the field: target unknown or malformed, owner bad, unknown fields; no task filed", async () => {
      const a = await archive();
      const path = `/v1/archive/${a.uuid}/restore`;
      await expectInvalid(api, "POST", path, { target: NOBODY }, "target", `no target with uuid ${NOBODY}`);
      await expectInvalid(api, "POST", path, { target: "db1" }, "target", "must be a UUID");
      await expectInvalid(api, "POST", path, { target: null }, "target", "must be a string");
      await expectInvalid(api, "POST", path, { owner: "" }, "owner", "must not be empty");
      await expectInvalid(api, "POST", path, { owner: ["x"] }, "owner", "must be a string");
      await expectInvalid(api, "POST", path, { store: main.store }, "store", "is not a field of this request");
      await call(api, "POST", path, 400, { body: "{target" });
      await call(api, "POST", path, 400, { body: "[]" });
      await call(api, "POST", path, 400, { body: "null" });
      expect((await call(api, "GET", `/v1/tasks?archive=${a.uuid}`, 200)).json).toEqual([]);
    });

    test("409 for an archive that is not valid (purged, expired, purge failed)", async () => {
      for (const [status, words] of [["purged", "is purged"], ["expired", "is expired"], ["purge_failed", "is purge failed"]] as const) {
        const a = await archive({ status });
        const res = await call(api, "POST", `/v1/archive/${a.uuid}/restore`, 409, { body: { target: other.target } });
        expect(res.json.error).toContain(words);
        expect(res.json.error).toContain("only valid archives (or those with a valid copy) can be restored");
        expect((await call(api, "GET", `/v1/tasks?archive=${a.uuid}`, 200)).json).toEqual([]);
      }
    });

    test("409 when the archive's own target is gone and no other is given; another target works", async () => {
      const gone = crypto.randomUUID();
      const a = await archive({ targetUuid: gone });
      const res = await call(api, "POST", `/v1/archive/${a.uuid}/restore`, 409);
      expect(res.json.error).toContain(gone);
      expect(res.json.error).toContain("give another target");
      await call(api, "POST", `/v1/archive/${a.uuid}/restore`, 200, { body: { target: other.target } });
    });

    test("400 for a malformed uuid, 404 for an unknown one", async () => {
      await expectInvalid(api, "POST", "/v1/archive/x/restore", undefined, "uuid", "must be a UUID");
      expect((await call(api, "POST", `/v1/archive/${NOBODY}/restore`, 404)).json.error).toBe(`no archive with uuid ${NOBODY}`);
    });
  });

  describe("authentication and roles", () => {
    const all = (uuid: string): [string, string, unknown][] => [
      ["GET", "/v1/archives", undefined],
      ["GET", `/v1/archive/${uuid}`, undefined],
      ["PUT", `/v1/archive/${uuid}`, { notes: "changed" }],
      ["DELETE", `/v1/archive/${uuid}`, undefined],
      ["POST", `/v1/archive/${uuid}/restore`, undefined],
    ];

    test("401 without or with wrong credentials, on every endpoint", async () => {
      const a = await archive();
      for (const [method, path, body] of all(a.uuid)) await expectAuthRequired(api, method, path, body);
    });

    test("a viewer may list and show; not annotate, delete or restore", async () => {
      const a = await archive();
      for (const [method, path, body] of all(a.uuid)) {
        if (method === "GET") await call(api, method, path, 200, { as: "viewer" });
        else await expectForbidden(api, method, path, "viewer", body);
      }
      expect((await call(api, "GET", `/v1/archive/${a.uuid}`, 200)).json).toEqual(archiveJson(a, "main"));
      expect((await call(api, "GET", `/v1/tasks?archive=${a.uuid}`, 200)).json).toEqual([]);
    });

    test("an operator may annotate, restore and delete", async () => {
      const a = await archive();
      await call(api, "PUT", `/v1/archive/${a.uuid}`, 200, { body: { notes: "op" }, as: "operator" });
      await call(api, "POST", `/v1/archive/${a.uuid}/restore`, 200, { as: "operator" });
      await call(api, "DELETE", `/v1/archive/${a.uuid}`, 200, { as: "operator" });
    });
  });
});
