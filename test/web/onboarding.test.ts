// The first steps of a new user, in-process: the getting-started checklist, the
// job form creating its parts on the way (and coming back with them chosen), a
// job without a schedule, and the restore flow from the archive list.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signedIn, WebClient } from "./session-client.ts";
import type { TestApi } from "../helpers/app.ts";
import type { Hono } from "hono";

describe("getting started in the web UI", () => {
  let t: TestApi;
  let web: Hono<any>;
  let b: WebClient;
  let dir: string;
  beforeAll(async () => {
    ({ t, web, b } = await signedIn("admin"));
    dir = mkdtempSync(join(tmpdir(), "shield-onboarding-"));
  });
  afterAll(async () => {
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const ticks = (html: string) => [...html.matchAll(/<li( class="done")?><span class="tick"/g)].map((m) => (m[1] ? "done" : "todo"));

  test("an empty dashboard shows the checklist, nothing ticked, each step a link", async () => {
    const r = await b.get("/");
    expect(r.html).toContain("Getting started");
    expect(ticks(r.html)).toEqual(["todo", "todo", "todo", "todo", "todo", "todo"]);
    for (const href of ["/stores/new", "/targets/new", "/schedules/new", "/retention/new", "/jobs/new"]) expect(r.html).toContain(`href="${href}"`);
    // A viewer sees the steps, without links to forms they may not use.
    const v = new WebClient(web);
    await v.signIn("viewer");
    const seen = await v.get("/");
    expect(seen.html).toContain("Creating them needs the operator or admin role.");
    expect(seen.html).not.toContain('href="/stores/new"');
  });

  test("the job form creates a store, a policy and a target on the way, keeping what was typed", async () => {
    let form = await b.get("/jobs/new");
    expect(form.html).toContain("New store…");
    expect(form.html).toContain("None: run by hand only");
    // "New store…" posts the form as typed; the store's form comes with where to return.
    let r = await b.post("/jobs/draft", { back: "/jobs/new", add: "store", name: "photos", summary: "the photo library", priority: "20" });
    expect(r.status).toBe(303);
    const storeForm = new URL(r.location!, "http://x");
    expect(storeForm.pathname).toBe("/stores/new");
    const back = storeForm.searchParams.get("return")!;
    expect(back).toBe("/jobs/new?name=photos&summary=the+photo+library&priority=20");
    const page = await b.get(storeForm.pathname + storeForm.search);
    expect(page.html).toContain(`name="return" value="${back.replaceAll("&", "&amp;")}"`);
    // A refused store keeps the way back; a good one goes back with it chosen.
    r = await b.post("/stores", { return: back, name: "disk", plugin: "fs", "ep.base_dir": "relative/dir" });
    expect(r.status).toBe(400);
    expect(r.html).toContain(`name="return"`);
    r = await b.post("/stores", { return: back, name: "disk", plugin: "fs", "ep.base_dir": dir });
    expect(r.status).toBe(303);
    const store = (await t.req("GET", "/v1/stores", { as: "admin" })).json.find((s: any) => s.name === "disk").uuid;
    expect(r.location).toBe(`/jobs/new?name=photos&summary=the+photo+library&priority=20&store=${store}`);
    form = await b.get(r.location!);
    expect(form.html).toContain("Store “disk” created and chosen for the job.");
    expect(form.html).toContain('value="photos"');
    expect(form.html).toMatch(new RegExp(`<option value="${store}" selected="">disk`));

    // The same for a retention policy and a target, from the form as it now is.
    r = await b.post("/jobs/draft", { back: "/jobs/new", add: "retention", name: "photos", store });
    r = await b.post("/retention", { return: new URL(r.location!, "http://x").searchParams.get("return")!, name: "month", amount: "30", unit: "days" });
    expect(r.status).toBe(303);
    const policy = (await t.req("GET", "/v1/retention", { as: "admin" })).json.find((p: any) => p.name === "month").uuid;
    expect(r.location).toBe(`/jobs/new?name=photos&store=${store}&retention=${policy}`);
    r = await b.post("/jobs/draft", { back: "/jobs/new", add: "target", name: "photos", store, retention: policy });
    r = await b.post("/targets", { return: new URL(r.location!, "http://x").searchParams.get("return")!, name: "pictures", plugin: "files", "ep.base_dir": dir, agent: "" });
    expect(r.status).toBe(303);
    const target = (await t.req("GET", "/v1/targets", { as: "admin" })).json.find((x: any) => x.name === "pictures").uuid;
    expect(r.location).toBe(`/jobs/new?name=photos&store=${store}&retention=${policy}&target=${target}`);

    // The checklist ticks what exists.
    expect(ticks((await b.get("/")).html)).toEqual(["done", "done", "todo", "done", "todo", "todo"]);

    // No schedule chosen: a job run by hand only.
    r = await b.post("/jobs", { name: "photos", summary: "", target, store, retention: policy, schedule: "", priority: "50", compression: "zstd" });
    expect(r.status).toBe(303);
    const job = await b.get(r.location!);
    expect(job.html).toContain("none: runs only when asked");
    expect(job.html).toContain("when someone runs it");
    expect(ticks((await b.get("/")).html)).toEqual(["done", "done", "todo", "done", "done", "todo"]);
  });

  test("a return address that is not a job form of this site is ignored", async () => {
    for (const evil of ["https://evil.example/jobs/new", "//evil.example/jobs/new", "/jobs/new\n", "/archives", "/jobs/new/../../signout"]) {
      const page = await b.get(`/schedules/new?return=${encodeURIComponent(evil)}`);
      expect(page.html).not.toContain('name="return"');
      const r = await b.post("/schedules", { return: evil, name: `s-${crypto.randomUUID().slice(0, 6)}`, when: "daily at 4am" });
      expect(r.location).toBe("/schedules");
    }
    const r = await b.post("/jobs/draft", { back: "https://evil.example/", add: "store" });
    expect(r.location).toBe("/jobs/new");
  });

  test("the archive list restores: target chosen first, then the confirmation; the task names both", async () => {
    const job = (await t.req("GET", "/v1/jobs", { as: "admin" })).json.find((j: any) => j.name === "photos");
    await Bun.write(join(dir, "a.txt"), "a picture");
    const run = (await t.req("POST", `/v1/job/${job.uuid}/run`, { as: "admin", body: {} })).json.task_uuid;
    // This test's API has no supervisor running tasks: an archive row as a finished backup leaves it.
    expect(run).toMatch(/^[0-9a-f-]{36}$/);
    const archive = crypto.randomUUID();
    await t.catalog.archives.create({
      uuid: archive, jobUuid: job.uuid, targetUuid: job.target_uuid, storeUuid: job.store_uuid, storeKey: "k", takenAt: Math.floor(Date.now() / 1000),
      expiresAt: Math.floor(Date.now() / 1000) + 86400, notes: "", status: "valid", size: 10, rawSize: 10, sha256: "ab".repeat(32), compression: "zstd",
      cipher: "aes-256-gcm", encryptionKey: "k", purgedAt: null, purgeAttempts: 0, purgeError: null, purgeNextAt: null, pinned: false, pinReason: "",
    });
    const list = await b.get("/archives");
    expect(list.html).toContain(`href="/archives/${archive}/restore"`);
    const choose = await b.get(`/archives/${archive}/restore`);
    expect(choose.html).toContain("Restore into");
    expect(choose.html).toContain("pictures (original)");
    const confirm = await b.get(`/archives/${archive}/restore?target=${job.target_uuid}`);
    expect(confirm.html).toContain("This overwrites the data of target “pictures”");
    const r = await b.post(`/archives/${archive}/restore`, { target: job.target_uuid });
    expect(r.status).toBe(303);
    const task = await b.get(r.location!);
    expect(task.html).toMatch(/<h1>Restore of <a href="\/archives\/[0-9a-f-]{36}">pictures, taken <time[^>]*>[^<]*<\/time><\/a> into <a href="\/targets\/[0-9a-f-]{36}">pictures<\/a><\/h1>/);
    const tasks = await b.get("/tasks");
    expect(tasks.html).toMatch(/of <a href="\/archives\/[0-9a-f-]{36}">pictures, taken <time/);
    // A viewer's archive list offers no restore.
    const v = new WebClient(web);
    await v.signIn("viewer");
    expect((await v.get("/archives")).html).not.toContain("/restore");
  });

  test("/docs is the API reference from the binary: Swagger UI's files hash-named, our own starter script, the UI's CSP", async () => {
    const r = await new WebClient(web).get("/docs");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-security-policy")).toContain("script-src 'self'");
    const scripts = [...r.html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts).toEqual([expect.stringMatching(/^\/static\/\w+\/swagger-ui-bundle\.js$/), expect.stringMatching(/^\/static\/\w+\/api-docs\.js$/)]);
    expect(r.html).not.toMatch(/<script>|https?:\/\//);
    for (const path of [...scripts, /href="(\/static\/\w+\/swagger-ui\.css)"/.exec(r.html)![1]!]) {
      const asset = await web.request(`http://shield.test${path}`);
      expect([path, asset.status, asset.headers.get("cache-control")]).toEqual([path, 200, "public, max-age=31536000, immutable"]);
    }
    const starter = await (await web.request(`http://shield.test${scripts[1]}`)).text();
    expect(starter).toContain('url: "/v1/openapi.json"');
    expect(starter).toContain("validatorUrl: null");
  });
});
