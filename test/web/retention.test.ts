// The web UI's retention policy form with GFS rules: rules saved and shown, the
// htmx preview fragment of what the typed rules keep and expire among a job's
// archives, and the confirmation a large purge needs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { byId, signedIn, type WebClient } from "./session-client.ts";
import type { TestApi } from "../helpers/app.ts";
import { insertArchive } from "../api/fixtures.ts";

const HOUR = 3600;
const DAY = 86400;

describe("retention policy form with GFS rules", () => {
  let t: TestApi;
  let b: WebClient;
  let job: string;
  let policy: string;
  let oldest: string;

  beforeAll(async () => {
    process.env.TZ = "UTC";
    ({ t, b } = await signedIn("operator"));
    const made = async (path: string, body: object) => (await t.req("POST", path, { body })).json.uuid as string;
    const target = await made("/v1/targets", { name: "db", plugin: "postgres", endpoint: JSON.stringify({ pg_host: "127.0.0.1", pg_user: "postgres" }), agent: "" });
    const store = await made("/v1/stores", { name: "disk", plugin: "fs", endpoint: JSON.stringify({ base_dir: "/tmp" }) });
    const schedule = await made("/v1/schedules", { name: "nightly", when: "daily at 4am" });
    policy = await made("/v1/retention", { name: "keep-all", expires: DAY, keep_last: 100 });
    job = await made("/v1/jobs", { name: "orders", target, store, schedule, retention: policy, paused: true });
    // Two archives a day for ten days, all past their expiry.
    const newest = Math.floor(Date.now() / 1000 / DAY) * DAY - HOUR;
    for (let i = 0; i < 20; i++) {
      const takenAt = newest - i * 12 * HOUR;
      oldest = (await insertArchive(t, { targetUuid: target, storeUuid: store, jobUuid: job, takenAt, expiresAt: takenAt + HOUR })).uuid;
    }
  });
  afterAll(() => t.cleanup());

  test("rules are typed in the form, saved, and listed", async () => {
    const r = await b.post("/retention", { name: "gfs", amount: "1", unit: "days", keep_last: "3", keep_daily: "7", keep_weekly: "", keep_within: "30d" });
    expect(r.status).toBe(303);
    const saved = (await t.req("GET", "/v1/retention")).json.find((p: any) => p.name === "gfs");
    expect(saved).toMatchObject({ expires: DAY, keep_last: 3, keep_daily: 7, keep_weekly: 0, keep_within: 30 * DAY });
    expect((await b.get("/retention")).html).toContain("last 3, daily 7, within 30d");
    const edit = await b.get(`/retention/${saved.uuid}/edit`);
    expect(edit.html).toMatch(/name="keep_daily"[^>]*value="7"|value="7"[^>]*name="keep_daily"/);
    expect(edit.html).toContain('hx-get="/retention/preview?policy=' + saved.uuid + '"');
    // A bad rule is the API's words, next to its field.
    const bad = await b.post("/retention", { name: "bad", amount: "1", unit: "days", keep_daily: "-2" });
    expect(bad.status).toBe(400);
    expect(byId(bad.html, "f-keep_daily-error")).toContain("must be 0");
  });

  test("the preview fragment: what the typed rules keep, by which rule; and that saving them needs confirming", async () => {
    const empty = await b.get("/retention/preview");
    expect(empty.html).toContain("Choose a job");
    const p = await b.get(`/retention/preview?policy=${policy}&job=${job}&keep_last=0&keep_daily=3&keep_within=`);
    expect(p.status).toBe(200);
    expect(p.html).not.toContain("<html");
    expect(p.html).toContain("Keeps 3, expires 17 of 20 archives of orders now (17 of them kept by the job’s policy today); periods in UTC.");
    expect(p.html).toContain("more than 50% at once: saving needs “Confirm”");
    expect(p.html.match(/<td data-label="Kept by">daily<\/td>/g)?.length).toBe(3);
    // The box swapped in asks again on changes, not on load.
    expect(p.html).toContain('hx-trigger="input changed');
    expect(p.html).not.toContain('hx-trigger="load');
    const wrong = await b.get(`/retention/preview?job=${job}&keep_daily=many`);
    expect(wrong.html).toContain("No preview: keep_daily:");

    const form = { name: "keep-all", amount: "1", unit: "days", keep_last: "0", keep_daily: "3" };
    const refused = await b.post(`/retention/${policy}`, form);
    expect(refused.status).toBe(409);
    expect(refused.html).toContain('would purge 17 of the 20 archives of job &quot;orders&quot; at once');
    expect((await t.req("GET", `/v1/retention/${policy}`)).json.keep_last).toBe(100);
    expect((await b.post(`/retention/${policy}`, { ...form, force: "t" })).status).toBe(303);
    expect((await t.req("GET", `/v1/retention/${policy}`)).json).toMatchObject({ keep_last: 0, keep_daily: 3 });
  });

  test("an archive's page pins it with a reason, and unpins it; a pinned archive offers no delete", async () => {
    const page = `/archives/${oldest}`;
    const noReason = await b.post(`${page}/pin`, { pinned: "t", pin_reason: "" });
    expect(noReason.status).toBe(400);
    expect(byId(noReason.html, "f-pin_reason-error")).toContain("is required when pinned is true");
    const pinned = await b.post(`${page}/pin`, { pinned: "t", pin_reason: "audit 2026" });
    expect(pinned.status).toBe(303);
    expect((await t.req("GET", `/v1/archive/${oldest}`)).json).toMatchObject({ pinned: true, pin_reason: "audit 2026" });
    const shown = await b.get(page);
    expect(shown.html).toContain("audit 2026");
    expect(shown.html).toContain(">Unpin</button>");
    expect(shown.html).not.toContain("Delete this archive");
    expect((await b.post(`${page}/pin`, { pinned: "f" })).status).toBe(303);
    expect((await t.req("GET", `/v1/archive/${oldest}`)).json).toMatchObject({ pinned: false, pin_reason: "" });
    expect((await b.get(page)).html).toContain("Delete this archive");
  });
});
