// The notifications page in-process: an admin creates a channel through the
// form (errors placed on the settings field), sees it listed with its secret
// redacted, sends a test; a viewer is refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { signedIn, WebClient } from "./session-client.ts";
import type { TestApi } from "../helpers/app.ts";

const SECRET = "webhook-secret-never-rendered";

describe("web: notifications", () => {
  let t: TestApi;
  let web: any;
  let b: WebClient;
  beforeAll(async () => ({ t, web, b } = await signedIn("admin")));
  afterAll(() => t.cleanup());

  test("the form refuses settings that are not JSON, and names a missing setting", async () => {
    await b.get("/notifications/new");
    const notJson = await b.post("/notifications", { name: "hook", kind: "webhook", settings: "url=x", "event:backup.failed": "on" });
    expect(notJson.status).toBe(400);
    expect(notJson.html).toContain("must be a JSON object");
    const missing = await b.post("/notifications", { name: "hook", kind: "webhook", settings: "{}", "event:backup.failed": "on" });
    expect(missing.status).toBe(400);
    expect(missing.html).toContain("url: is required");
  });

  test("creates a channel, lists it with the secret redacted, and says why a test was not sent", async () => {
    await b.get("/notifications/new");
    const r = await b.post("/notifications", {
      name: "hook", kind: "webhook", settings: JSON.stringify({ url: "https://hooks.example.com/abc", secret: SECRET }),
      "event:backup.failed": "on", "event:drill.failed": "on",
    });
    expect(r.status).toBe(303);
    const list = await b.get("/notifications");
    expect(list.html).toContain("hook");
    expect(list.html).toContain("backup.failed, drill.failed");
    expect(list.html).toContain("Send a test");
    const channels = (await t.req("GET", "/v1/notifications", { as: "admin" })).json;
    const edit = await b.get(`/notifications/${channels[0].uuid}/edit`);
    expect(edit.html).not.toContain(SECRET);
    expect(edit.html).toContain("********");
    // Saved as shown, the secret is kept.
    const saved = await b.post(`/notifications/${channels[0].uuid}`, { name: "hook", settings: JSON.stringify({ url: "********", secret: "********" }), "event:backup.failed": "on" });
    expect(saved.status).toBe(303);
    const test_ = await b.post(`/notifications/${channels[0].uuid}/test`);
    expect(test_.status).toBe(303);
    const after = await b.get("/notifications");
    expect(after.html).toContain("not delivered");
  });

  test("the job page shows the job's restore drill and its last RTO", async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(`${tmpdir()}/shield-web-drill-`);
    const mk = async (path: string, body: unknown) => (await t.req("POST", path, { body })).json.uuid as string;
    const store = await mk("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: dir } });
    const target = await mk("/v1/targets", { name: "bytes", plugin: "bytes-target", endpoint: { size: 1 }, agent: "" });
    const scratch = await mk("/v1/targets", { name: "scratch", plugin: "bytes-target", endpoint: { size: 1 }, agent: "" });
    const schedule = await mk("/v1/schedules", { name: "daily", when: "daily at 4am" });
    const retention = await mk("/v1/retention", { name: "week", expires: 604800 });
    const job = await mk("/v1/jobs", { name: "j", target, store, schedule, retention, paused: false });
    expect((await b.get(`/jobs/${job}`)).html).toMatch(/Restore drill<\/dt><dd>none/);
    expect((await t.req("PUT", `/v1/job/${job}/drill`, { body: { target: scratch, schedule } })).json).toEqual({ ok: "updated" });
    expect((await b.get(`/jobs/${job}`)).html).toContain("set; never ran yet");
    await t.catalog.drills.record({ taskUuid: crypto.randomUUID(), jobUuid: job, archiveUuid: null, ok: true, rtoMs: 12_345, figures: null, verify: "3 tables, 10 rows", error: null, finishedMs: Date.now() });
    expect((await b.get(`/jobs/${job}`)).html).toContain("ok, restored in 12.3 s (RTO); 3 tables, 10 rows");
  });

  test("a viewer is refused the page", async () => {
    const v = new WebClient(web);
    await v.signIn("viewer");
    const r = await v.get("/notifications");
    expect(r.status).toBe(403);
  });
});
