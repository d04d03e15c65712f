// "Test connection": the plugin's live `test` through the API (a saved target or
// store, and an endpoint not saved) and the web UI (the forms' and detail pages'
// button, the list's mark for a failed last test). Real plugins: the built-in fs
// store (its test writes and deletes a blob) and the bytes-target fixture (no
// `test` action: it exits 2, a failed test).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signedIn, type WebClient } from "../web/session-client.ts";
import type { TestApi } from "../helpers/app.ts";

describe("test connection", () => {
  let t: TestApi;
  let b: WebClient;
  let dir: string;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    ({ t, b } = await signedIn("operator"));
    dir = mkdtempSync(join(tmpdir(), "shield-test-connection-"));
    ids.store = (await t.req("POST", "/v1/stores", { body: { name: "disk", plugin: "fs", endpoint: { base_dir: dir } } })).json.uuid;
    ids.target = (await t.req("POST", "/v1/targets", { body: { name: "bytes", plugin: "bytes-target", endpoint: { size: 1 }, agent: "" } })).json.uuid;
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.cleanup();
  });

  test("a saved store that works: ok with the plugin's lines, remembered as its last test", async () => {
    expect((await t.req("GET", `/v1/store/${ids.store}`)).json.last_test).toBeNull();
    const r = await t.req("POST", `/v1/store/${ids.store}/test`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ ok: true, tested_at: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/) });
    expect(r.json.lines.length).toBeGreaterThan(0);
    expect((await t.req("GET", `/v1/store/${ids.store}`)).json.last_test).toEqual(r.json);
  });

  test("a saved store that no longer works: ok false with the plugin's words; the list marks it", async () => {
    const doomed = mkdtempSync(join(tmpdir(), "shield-test-connection-gone-"));
    const uuid = (await t.req("POST", "/v1/stores", { body: { name: "doomed", plugin: "fs", endpoint: { base_dir: doomed } } })).json.uuid;
    rmSync(doomed, { recursive: true }); // validate passed at save; now the directory is gone
    const r = await t.req("POST", `/v1/store/${uuid}/test`);
    expect(r.status).toBe(200);
    expect(r.json.ok).toBe(false);
    expect(r.json.lines.join("\n")).toContain(doomed);
    const list = (await t.req("GET", "/v1/stores")).json;
    expect(list.find((s: any) => s.uuid === uuid).last_test.ok).toBe(false);
    const page = await b.get("/stores");
    expect(page.html).toContain("last test failed");
    await t.req("DELETE", `/v1/store/${uuid}`);
  });

  test("a plugin without a working `test` is a failed test (200, ok false), not an error", async () => {
    const r = await t.req("POST", `/v1/target/${ids.target}/test`);
    expect(r.status).toBe(200);
    expect(r.json.ok).toBe(false);
    expect(r.json.lines.join(" ")).toContain("'test' failed");
    expect((await b.get("/targets")).html).toContain("last test failed");
  });

  test("an unsaved endpoint: tested, nothing saved; a missing plugin or bad body is a 400", async () => {
    const ok = await t.req("POST", "/v1/stores/test", { body: { plugin: "fs", endpoint: { base_dir: dir } } });
    expect(ok.status).toBe(200);
    expect(ok.json.ok).toBe(true);
    const gone = await t.req("POST", "/v1/stores/test", { body: { plugin: "fs", endpoint: { base_dir: join(dir, "nope") } } });
    expect(gone.json.ok).toBe(false);
    expect((await t.req("GET", "/v1/stores")).json).toHaveLength(1);
    const missing = await t.req("POST", "/v1/stores/test", { body: { plugin: "no-such", endpoint: {} } });
    expect(missing.status).toBe(400);
    expect(missing.json.error).toContain("no-such");
    expect((await t.req("POST", "/v1/stores/test", { body: { plugin: "fs" } })).status).toBe(400);
    // A target plugin used as a store: the plugin field is what is wrong.
    expect((await t.req("POST", "/v1/stores/test", { body: { plugin: "bytes-target", endpoint: {} } })).status).toBe(400);
    expect((await t.req("POST", `/v1/store/${crypto.randomUUID()}/test`)).status).toBe(404);
  });

  test("testing needs the operator role", async () => {
    expect((await t.req("POST", `/v1/store/${ids.store}/test`, { as: "viewer" })).status).toBe(403);
    expect((await t.req("POST", "/v1/stores/test", { as: "viewer", body: { plugin: "fs", endpoint: { base_dir: dir } } })).status).toBe(403);
  });

  test("web: the new-store form's button tests what is typed; the detail page's tests the saved one", async () => {
    const form = await b.get("/stores/new?plugin=fs");
    expect(form.html).toContain('hx-post="/stores/test"');
    expect(form.html).toContain("Test connection");
    const typed = await b.request("POST", "/stores/test", { form: { _csrf: b.csrf, name: "", plugin: "fs", "ep.base_dir": dir }, headers: { "hx-request": "true" } });
    expect(typed.status).toBe(200);
    expect(typed.html).toContain("Connection ok");
    const wrong = await b.request("POST", "/stores/test", { form: { _csrf: b.csrf, plugin: "fs", "ep.base_dir": join(dir, "nope") }, headers: { "hx-request": "true" } });
    expect(wrong.html).toContain("Connection test failed");
    expect(wrong.html).toContain("nope");
    // Without the CSRF token: refused like every other action.
    expect((await b.request("POST", "/stores/test", { form: { plugin: "fs", "ep.base_dir": dir } })).status).toBe(403);
    const detail = await b.get(`/stores/${ids.store}`);
    expect(detail.html).toContain(`hx-post="/stores/${ids.store}/test"`);
    const saved = await b.request("POST", `/stores/${ids.store}/test`, { form: { _csrf: b.csrf }, headers: { "hx-request": "true" } });
    expect(saved.html).toContain("Connection ok");
    // The list no longer marks it: its last test passed.
    expect((await b.get("/stores")).html).not.toContain("last test failed");
  });
});
