// /v1 contract of GFS retention: rules on policies (stored, shown, validated,
// left as they are when an update leaves them out), the preview, the share a
// policy change may purge without "force", and pinning archives.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ArchiveRow } from "../../src/catalog/index.ts";
import { testApi, type TestApi } from "../helpers/app.ts";
import { call, expectInvalid, insertArchive, makeDefinitions, makeJob, NOBODY, type Definitions } from "./fixtures.ts";

const HOUR = 3600;
const DAY = 86400;

describe("GFS retention over /v1", () => {
  let api: TestApi;
  let d: Definitions;
  let job: string;
  let policy: string;
  // Two archives a day for 20 days, all past their expiry, newest taken an hour ago.
  const archives: ArchiveRow[] = [];

  beforeAll(async () => {
    process.env.TZ = "UTC";
    api = await testApi();
    d = await makeDefinitions(api, "gfs");
    policy = d.retention;
    job = await makeJob(api, d, "gfs job");
    const newest = Math.floor(Date.now() / 1000 / DAY) * DAY - HOUR; // 23:00 yesterday, UTC
    for (let i = 0; i < 40; i++) {
      const takenAt = newest - i * 12 * HOUR;
      archives.push(await insertArchive(api, { targetUuid: d.target, storeUuid: d.store, jobUuid: job, takenAt, expiresAt: takenAt + HOUR }));
    }
  });
  afterAll(() => api.cleanup());

  const preview = async (query: string, policyUuid: string | null = policy) =>
    (await call(api, "GET", `/v1/retention/${policyUuid ? `${policyUuid}/` : ""}preview?job=${job}${query}`, 200)).json;

  test("a policy takes rules, shows them, and keeps them when an update leaves them out", async () => {
    const created = await call(api, "POST", "/v1/retention", 200, { body: { name: "gfs", expires: DAY, keep_daily: 7, keep_within: "12h" } });
    const uuid = created.json.uuid;
    expect((await call(api, "GET", `/v1/retention/${uuid}`, 200)).json).toEqual({
      uuid, name: "gfs", summary: "", expires: DAY, keep_last: 0, keep_hourly: 0, keep_daily: 7, keep_weekly: 0, keep_monthly: 0, keep_yearly: 0, keep_within: 12 * HOUR,
    });
    await call(api, "PUT", `/v1/retention/${uuid}`, 200, { body: { name: "gfs", summary: "s", expires: DAY, keep_monthly: 12 } });
    expect((await call(api, "GET", `/v1/retention/${uuid}`, 200)).json).toMatchObject({ keep_daily: 7, keep_monthly: 12, keep_within: 12 * HOUR });
    await call(api, "PUT", `/v1/retention/${uuid}`, 200, { body: { name: "gfs", summary: "s", expires: DAY, keep_daily: 0, keep_within: 0 } });
    expect((await call(api, "GET", `/v1/retention/${uuid}`, 200)).json).toMatchObject({ keep_daily: 0, keep_monthly: 12, keep_within: 0 });
  });

  test("400 naming the rule: negative, fractional, a string count, a bad duration, an unknown field", async () => {
    const body = { name: "bad", expires: DAY };
    await expectInvalid(api, "POST", "/v1/retention", { ...body, keep_daily: -1 }, "keep_daily", "must be 0");
    await expectInvalid(api, "POST", "/v1/retention", { ...body, keep_daily: 1.5 }, "keep_daily", "whole number");
    await expectInvalid(api, "POST", "/v1/retention", { ...body, keep_weekly: "4" }, "keep_weekly", "must be a number");
    await expectInvalid(api, "POST", "/v1/retention", { ...body, keep_yearly: 100_001 }, "keep_yearly", "100000");
    await expectInvalid(api, "POST", "/v1/retention", { ...body, keep_within: "30 days" }, "keep_within", "like 12h, 30d");
    await expectInvalid(api, "POST", "/v1/retention", { ...body, keep_within: -5 }, "keep_within", "like 12h, 30d");
    await expectInvalid(api, "POST", "/v1/retention", { ...body, keep_hours: 3 }, "keep_hours", "is not a field");
    await expectInvalid(api, "POST", "/v1/retention", { ...body, force: true }, "force", "is not a field");
    await expectInvalid(api, "GET", `/v1/retention/${policy}/preview?job=${job}&keep_daily=x`, undefined, "keep_daily", "whole number");
    await expectInvalid(api, "GET", `/v1/retention/${policy}/preview`, undefined, "job", "is required");
    await expectInvalid(api, "GET", `/v1/retention/${policy}/preview?job=${job}&expires=3600`, undefined, "expires", "is not a parameter");
    await expectInvalid(api, "GET", `/v1/retention/${policy}/preview?job=${NOBODY}`, undefined, "job", "no job");
    expect((await call(api, "GET", `/v1/retention/${NOBODY}/preview?job=${job}`, 404)).json.error).toBe(`no retention policy with uuid ${NOBODY}`);
  });

  test("the preview: plain expiry expires everything; proposed rules keep the newest of each day, by rule", async () => {
    const plain = await preview("");
    expect(plain).toMatchObject({ policy_uuid: policy, job_uuid: job, job_name: "gfs job", zone: "UTC", keep: 0, expire: 40, newly_expired: 0, force_needed: false });
    expect(plain.archives.map((a: any) => a.uuid)).toEqual(archives.map((a) => a.uuid));

    const gfs = await preview("&keep_daily=7&keep_last=3");
    expect(gfs).toMatchObject({ keep: 8, expire: 32, rules: { keep_daily: 7, keep_last: 3, keep_within: 0 } });
    // Two a day, newest first: the last three are archives 0, 1, 2; the dailies every other one from 0 to 12.
    expect(gfs.archives.slice(0, 4).map((a: any) => [a.action, a.kept_by])).toEqual([
      ["keep", ["keep_last", "keep_daily"]], ["keep", ["keep_last"]], ["keep", ["keep_last", "keep_daily"]], ["expire", []],
    ]);
    expect(gfs.archives.filter((a: any) => a.kept_by.includes("keep_daily")).map((a: any) => a.uuid))
      .toEqual([0, 2, 4, 6, 8, 10, 12].map((i) => archives[i]!.uuid));

    // A policy not yet saved: the same rules, the same verdicts.
    const unsaved = await preview("&keep_daily=7&keep_last=3", null);
    expect(unsaved.policy_uuid).toBeNull();
    expect(unsaved.archives).toEqual(gfs.archives);
    expect((await preview("&keep_within=2d")).keep).toBe(4);
  });

  test("a policy update that would purge more than half of a job's archives needs force; the newest is never expired by rules", async () => {
    // The job's policy keeps the last 40: everything. Nothing expires yet.
    await call(api, "PUT", `/v1/retention/${policy}`, 200, { body: { name: "gfs policy", summary: "", expires: DAY, keep_last: 40 } });
    expect((await preview("")).keep).toBe(40);
    // Down to 7 dailies and the last 3: 32 of 40 would go at once.
    const refused = await call(api, "PUT", `/v1/retention/${policy}`, 409, { body: { name: "gfs policy", summary: "", expires: DAY, keep_daily: 7, keep_last: 3 } });
    expect(refused.json.error).toContain('would purge 32 of the 40 archives of job "gfs job" at once');
    expect(refused.json.error).toContain('"force": true');
    expect((await preview("&keep_daily=7&keep_last=3")).force_needed).toBe(true);
    expect((await preview("")).keep).toBe(40);
    // Down to 20 dailies (and the oldest, a slot being left): 19 of 40 go, not more than half: allowed.
    expect((await preview("&keep_daily=20&keep_last=0")).force_needed).toBe(false);
    await call(api, "PUT", `/v1/retention/${policy}`, 200, { body: { name: "gfs policy", summary: "", expires: DAY, keep_daily: 20, keep_last: 0 } });
    // With force, anything; keep_within of an hour still keeps the newest archive.
    await call(api, "PUT", `/v1/retention/${policy}`, 200, { body: { name: "gfs policy", summary: "", expires: DAY, keep_daily: 0, keep_within: HOUR, force: true } });
    const p = await preview("");
    expect(p.keep).toBe(1);
    expect(p.archives[0]).toMatchObject({ uuid: archives[0]!.uuid, action: "keep", kept_by: ["keep_within"] });
  });

  test("moving a job to a policy that would purge most of its archives at once needs force too", async () => {
    // The job's policy now keeps only the newest (keep_within an hour); put it back on keeping everything first.
    await call(api, "PUT", `/v1/retention/${policy}`, 200, { body: { name: "gfs policy", summary: "", expires: DAY, keep_last: 40, keep_within: 0 } });
    const plain = (await call(api, "POST", "/v1/retention", 200, { body: { name: "plain day", expires: DAY } })).json.uuid;
    const body = { name: "gfs job", summary: "", target: d.target, store: d.store, schedule: d.schedule, retention: plain };
    const refused = await call(api, "PUT", `/v1/job/${job}`, 409, { body });
    expect(refused.json.error).toContain('would purge 40 of the 40 archives of job "gfs job" at once');
    expect((await call(api, "GET", `/v1/job/${job}`, 200)).json.retention_uuid).toBe(policy);
    // Other changes of the job are not held up.
    await call(api, "PUT", `/v1/job/${job}`, 200, { body: { ...body, retention: policy, summary: "still here" } });
    await call(api, "PUT", `/v1/job/${job}`, 200, { body: { ...body, force: true } });
    expect((await call(api, "GET", `/v1/job/${job}`, 200)).json.retention_uuid).toBe(plain);
    await call(api, "PUT", `/v1/job/${job}`, 200, { body: { ...body, retention: policy } });
    await call(api, "PUT", `/v1/retention/${policy}`, 200, { body: { name: "gfs policy", summary: "", expires: DAY, keep_last: 0, keep_within: HOUR, force: true } });
  });

  test("pinning: with a reason, shown on the archive, kept by the preview, refused deletion until unpinned", async () => {
    const a = archives[39]!;
    const path = `/v1/archive/${a.uuid}`;
    await expectInvalid(api, "PUT", path, { pinned: true }, "pin_reason", "required");
    await expectInvalid(api, "PUT", path, { pinned: true, pin_reason: "  " }, "pin_reason", "required");
    await expectInvalid(api, "PUT", path, { pin_reason: "why" }, "pin_reason", "goes with pinned");
    await expectInvalid(api, "PUT", path, { pinned: "yes", pin_reason: "why" }, "pinned", "true or false");
    await call(api, "PUT", path, 200, { body: { pinned: true, pin_reason: "audit 2024", notes: "keep for the auditors" }, as: "operator" });
    expect((await call(api, "GET", path, 200)).json).toMatchObject({ pinned: true, pin_reason: "audit 2024", notes: "keep for the auditors" });
    await call(api, "PUT", path, 403, { body: { pinned: false }, as: "viewer" });
    const p = await preview("");
    expect(p.archives[39]).toMatchObject({ uuid: a.uuid, pinned: true, action: "keep", kept_by: ["pinned"] });
    expect((await call(api, "DELETE", path, 409)).json.error).toBe(`archive ${a.uuid} is pinned (audit 2024); unpin it first`);
    await call(api, "PUT", path, 200, { body: { pinned: false } });
    expect((await call(api, "GET", path, 200)).json).toMatchObject({ pinned: false, pin_reason: "", notes: "keep for the auditors" });
    expect((await preview("")).archives[39]).toMatchObject({ action: "expire", kept_by: [] });
  });
});
