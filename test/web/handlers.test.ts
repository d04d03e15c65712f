// The web handlers in-process (app.request): sessions, CSRF, what a viewer is
// offered, validation errors placed by their field, and that no secret of an
// endpoint is ever rendered into a page.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { byId, signedIn, webApp, WebClient } from "./session-client.ts";
import type { TestApi } from "../helpers/app.ts";

const SECRET = "pg-secret-never-rendered-7f3a";

describe("web sessions", () => {
  let t: TestApi;
  let web: Awaited<ReturnType<typeof webApp>>["web"];
  beforeAll(async () => ({ t, web } = await webApp()));
  afterAll(() => t.cleanup());

  test("pages need a session: they redirect to sign-in, keeping where the user was going", async () => {
    const r = await new WebClient(web).get("/jobs?paused=t");
    expect(r.status).toBe(303);
    expect(r.location).toBe("/signin?next=%2Fjobs%3Fpaused%3Dt");
  });

  test("a wrong password is refused on the page, and no session cookie is set", async () => {
    const b = new WebClient(web);
    const r = await b.signIn("admin", "not the password");
    expect(r.status).toBe(401);
    expect(r.html).toContain("Wrong user name or password.");
    expect(b.cookies.has("shield_session")).toBe(false);
  });

  test("signing in makes an API token; the cookie is HttpOnly, SameSite=Strict, and Secure behind https", async () => {
    const b = new WebClient(web);
    await b.get("/signin");
    const r = await b.request("POST", "/signin", { form: { _csrf: b.csrf, name: "operator", password: "correct horse battery", next: "/jobs" } });
    expect(r.status).toBe(303);
    expect(r.location).toBe("/jobs");
    const cookie = r.headers.getSetCookie().find((c) => c.startsWith("shield_session="))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toMatch(/Secure/);
    // The session is a token of the user's, usable with the API and listed among their tokens.
    const token = b.cookies.get("shield_session")!.split(".")[1]!;
    const who = await t.req("GET", "/v1/auth/whoami", { as: { token } });
    expect(who.json).toMatchObject({ name: "operator", role: "operator" });
    const tokens = await t.req("GET", "/v1/auth/tokens", { as: "operator" });
    expect(tokens.json.some((x: any) => x.name.startsWith("web session"))).toBe(true);

    const tls = new WebClient(web, "https://shield.test");
    const secure = await tls.signIn("viewer");
    expect(secure.headers.getSetCookie().find((c) => c.startsWith("shield_session="))).toMatch(/Secure/);
  });

  test("the sign-in form itself is CSRF-protected, and `next` cannot leave the site", async () => {
    const b = new WebClient(web);
    const r = await b.request("POST", "/signin", { form: { name: "admin", password: "correct horse battery" } });
    expect(r.status).toBe(403);
    expect(b.cookies.has("shield_session")).toBe(false);
    await b.get("/signin");
    const away = await b.post("/signin", { name: "admin", password: "correct horse battery", next: "//evil.example/x" });
    expect(away.location).toBe("/");
  });

  test("`next` with a tab or newline (which browsers drop from a Location) cannot leave the site, nor fail the sign-in", async () => {
    // "/\t/evil.example" reads as "//evil.example" in a browser: another host.
    for (const next of ["/\t/evil.example/x", "/\n/evil.example", "/\r\n/evil.example", "/%0a", "/jobs\x00"]) {
      const b = new WebClient(web);
      await b.get("/signin");
      const r = await b.post("/signin", { name: "admin", password: "correct horse battery", next });
      expect(r.status).toBe(303);
      expect(r.location).toBe(next === "/%0a" ? "/%0a" : "/");
    }
    const b = new WebClient(web);
    await b.get("/signin");
    const kept = await b.post("/signin", { name: "admin", password: "correct horse battery", next: "/jobs?paused=t#x" });
    expect(kept.location).toBe("/jobs?paused=t#x");
    const page = await new WebClient(web).get("/signin?next=%2F%09%2Fevil.example");
    expect(page.html).toContain('name="next" value="/"');
  });

  test("signing out revokes the token: the old cookie and the token are both refused", async () => {
    const b = new WebClient(web);
    await b.signIn("admin");
    const saved = b.cookies.get("shield_session")!;
    const token = saved.split(".")[1]!;
    expect((await b.get("/")).status).toBe(200);
    const out = await b.post("/signout");
    expect(out.location).toBe("/signin");
    expect(b.cookies.has("shield_session")).toBe(false);
    expect((await t.req("GET", "/v1/auth/whoami", { as: { token } })).status).toBe(401);
    const replay = new WebClient(web);
    replay.cookies.set("shield_session", saved);
    expect((await replay.get("/")).location).toStartWith("/signin");
  });

  test("a session older than its lifetime ends, and its token is revoked", async () => {
    const short = await webApp({ sessionTtlSeconds: 1 });
    try {
      const b = new WebClient(short.web);
      await b.signIn("admin");
      expect((await b.get("/")).status).toBe(200);
      const token = b.cookies.get("shield_session")!.split(".")[1]!;
      // created_at has whole seconds: wait past the next one.
      await Bun.sleep(2100);
      const r = await b.get("/");
      expect(r.status).toBe(303);
      expect(r.location).toStartWith("/signin");
      expect((await short.t.req("GET", "/v1/auth/whoami", { as: { token } })).status).toBe(401);
    } finally {
      await short.t.cleanup();
    }
  });

  test("a forged cookie is no session", async () => {
    const b = new WebClient(web);
    b.cookies.set("shield_session", `${crypto.randomUUID()}.shield_madeup`);
    expect((await b.get("/")).location).toStartWith("/signin");
  });
});

describe("CSRF", () => {
  let t: TestApi;
  let b: WebClient;
  beforeAll(async () => ({ t, b } = await signedIn("admin")));
  afterAll(() => t.cleanup());

  const form = { name: "nightly", summary: "", when: "daily at 4am" };

  test("a form without the token, or with another session's, is refused and changes nothing", async () => {
    for (const _csrf of [undefined, "", "x".repeat(43), b.csrf.slice(0, -1) + (b.csrf.endsWith("A") ? "B" : "A")]) {
      const r = await b.request("POST", "/schedules", { form: _csrf === undefined ? form : { ...form, _csrf } });
      expect(r.status).toBe(403);
      expect(r.html).toContain("security token (CSRF)");
    }
    expect((await t.req("GET", "/v1/schedules")).json).toEqual([]);
  });

  test("every action form and htmx request is refused without it: run, pause, cancel, delete, sign out", async () => {
    const paths = ["/jobs/" + crypto.randomUUID() + "/run", "/jobs/x/pause", "/tasks/x/cancel", "/targets/x/delete", "/archives/x/restore", "/signout"];
    for (const p of paths) expect((await b.request("POST", p)).status).toBe(403);
    // Still signed in: the refused sign-out did nothing.
    expect((await b.get("/")).status).toBe(200);
  });

  test("the page's token works as a form field and as htmx's X-CSRF-Token header", async () => {
    expect((await b.post("/schedules", form)).status).toBe(303);
    const viaHeader = await b.request("POST", "/schedules", { form: { ...form, name: "weekly" }, headers: { "x-csrf-token": b.csrf, "hx-request": "true" } });
    expect(viaHeader.status).toBe(303);
    expect((await t.req("GET", "/v1/schedules")).json.map((s: any) => s.name).sort()).toEqual(["nightly", "weekly"]);
  });

  test("every page carries the token on <body hx-headers> and in each form", async () => {
    const r = await b.get("/schedules/new");
    expect(r.html).toContain(`hx-headers="{&quot;X-CSRF-Token&quot;:&quot;${b.csrf}&quot;}"`);
    const forms = r.html.match(/<form method="post"[^>]*>/g) ?? [];
    const withToken = r.html.match(/<form method="post"[^>]*><input type="hidden" name="_csrf"/g) ?? [];
    expect(forms.length).toBeGreaterThan(0);
    expect(withToken.length).toBe(forms.length);
  });
});

describe("endpoint secrets and validation", () => {
  let t: TestApi;
  let b: WebClient;
  let dir: string;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    ({ t, b } = await signedIn("operator"));
    dir = mkdtempSync(join(tmpdir(), "shield-web-store-"));
  });
  afterAll(async () => {
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the target form is built from the plugin's fields: types, help, defaults, required, secrets as password inputs", async () => {
    const r = await b.get("/targets/new?plugin=postgres");
    expect(r.html).toContain('name="ep.pg_password"');
    expect(r.html).toMatch(/<input type="password" name="ep.pg_password"[^>]*autocomplete="new-password"/);
    expect(r.html).toMatch(/<input type="text" name="ep.pg_user"[^>]*required=""/);
    expect(r.html).toContain("Default: 5432.");
    expect(r.html).toContain("Role to connect as");
    // The htmx swap of the fieldset when another plugin is chosen.
    const frag = await b.get("/targets/fields?plugin=files");
    expect(frag.html).toStartWith('<fieldset id="endpoint-fields"');
    expect(frag.html).toContain("<textarea");
  });

  test("a validation error of the plugin appears next to its field, and nothing is saved", async () => {
    const r = await b.post("/stores", { name: "disk", summary: "", plugin: "fs", "ep.base_dir": "relative/dir" });
    expect(r.status).toBe(400);
    expect(byId(r.html, "f-ep-base_dir-error")).toContain("base_dir");
    expect(r.html).toMatch(/name="ep.base_dir"[^>]*aria-describedby="[^"]*f-ep-base_dir-error"[^>]*aria-invalid="true"/);
    expect((await t.req("GET", "/v1/stores")).json).toEqual([]);
    // And the API's own field errors: a missing name.
    const noName = await b.post("/stores", { name: "", plugin: "fs", "ep.base_dir": dir });
    expect(noName.status).toBe(400);
    expect(byId(noName.html, "f-name-error")).toBe("must not be empty");
  });

  test("a secret typed in a form is saved, and never rendered on any page", async () => {
    const r = await b.post("/targets", {
      name: "orders-db", summary: "orders", plugin: "postgres", agent: "",
      "ep.pg_host": "127.0.0.1", "ep.pg_port": "5432", "ep.pg_user": "postgres", "ep.pg_password": SECRET, "ep.pg_database": "orders",
    });
    expect(r.status).toBe(303);
    ids.target = r.location!.split("/").pop()!;
    const stored = JSON.parse((await t.req("GET", `/v1/target/${ids.target}`)).json.endpoint);
    expect(stored).toMatchObject({ pg_password: SECRET, pg_port: "5432", pg_user: "postgres" });

    ids.store = (await b.post("/stores", { name: "disk", plugin: "fs", "ep.base_dir": dir })).location!.split("/").pop()!;
    ids.schedule = (await t.req("POST", "/v1/schedules", { body: { name: "daily", when: "daily at 4am" } })).json.uuid;
    ids.retention = (await t.req("POST", "/v1/retention", { body: { name: "week", expires: 604800 } })).json.uuid;
    const job = await b.post("/jobs", { name: "orders-nightly", target: ids.target!, store: ids.store!, schedule: ids.schedule!, retention: ids.retention!, priority: "50", compression: "zstd" });
    expect(job.status).toBe(303);
    ids.job = job.location!.split("/").pop()!;
    // An archive of the target, so the archive and restore pages show it too.
    const now = Math.floor(Date.now() / 1000);
    const archive = crypto.randomUUID();
    await t.catalog.archives.create({
      uuid: archive, jobUuid: ids.job, targetUuid: ids.target, storeUuid: ids.store, storeKey: "2025/01/01/" + crypto.randomUUID(),
      takenAt: now, expiresAt: now + 3600, notes: "", status: "valid", size: 1234, rawSize: 5678, sha256: "0".repeat(64), compression: "zstd", cipher: "none",
      encryptionKey: null, purgedAt: null,
    });

    const pages = [
      "/", "/targets", `/targets/${ids.target}`, `/targets/${ids.target}/edit`, `/targets/fields?plugin=postgres&uuid=${ids.target}`,
      "/jobs", `/jobs/${ids.job}`, `/jobs/${ids.job}/edit`, "/archives", `/archives/${archive}`,
      `/archives/${archive}/restore?target=${ids.target}`, `/targets/${ids.target}/delete`, "/tasks",
    ];
    for (const p of pages) {
      const page = await b.get(p);
      expect(page.status, p).toBe(200);
      expect(page.html, p).not.toContain(SECRET);
    }
    const detail = await b.get(`/targets/${ids.target}`);
    expect(detail.html).toContain("set (hidden)");
    const confirm = await b.get(`/archives/${archive}/restore?target=${ids.target}`);
    expect(confirm.html).toContain("This overwrites the data of target “orders-db”");
    expect(confirm.html).toContain("orders");
  });

  test("a job's copy and run window, and a store's limits, through the forms", async () => {
    const offsite = (await b.post("/stores", { name: "offsite", plugin: "fs", "ep.base_dir": dir, bandwidth: "1048576", max_tasks: "2" })).location!.split("/").pop()!;
    expect((await t.req("GET", `/v1/store/${offsite}`)).json).toMatchObject({ bandwidth: 1048576, max_tasks: 2 });
    expect((await b.get(`/stores/${offsite}`)).html).toContain("at most 2");
    const bad = await b.post("/stores", { name: "x", plugin: "fs", "ep.base_dir": dir, bandwidth: "fast" });
    expect(bad.status).toBe(400);
    const form = { name: "orders-nightly", target: ids.target!, store: ids.store!, schedule: ids.schedule!, retention: ids.retention!, priority: "50", compression: "zstd" };
    const saved = await b.post(`/jobs/${ids.job}`, { ...form, copy_store: offsite, copy_retention: ids.retention!, window: "01:00-05:00" });
    expect(saved.status).toBe(303);
    expect((await t.req("GET", `/v1/job/${ids.job}`)).json).toMatchObject({ copies: [{ store: offsite, retention: ids.retention }], run_window: "01:00-05:00" });
    const page = (await b.get(`/jobs/${ids.job}`)).html;
    expect(page).toContain("01:00-05:00");
    expect((await b.get(`/jobs/${ids.job}/edit`)).html).toContain(`value="01:00-05:00"`);
    const badWindow = await b.post(`/jobs/${ids.job}`, { ...form, window: "1-5" });
    expect(badWindow.status).toBe(400);
    expect(await b.post(`/jobs/${ids.job}`, form)).toMatchObject({ status: 303 });
    expect((await t.req("GET", `/v1/job/${ids.job}`)).json).toMatchObject({ copies: [], run_window: "" });
  });

  test("editing with the password left empty keeps it; typing one replaces it", async () => {
    const edit = await b.get(`/targets/${ids.target}/edit`);
    expect(edit.html).toContain("A value is stored; leave empty to keep it, or tick “clear” to remove it.");
    const keep = await b.post(`/targets/${ids.target}`, {
      name: "orders-db", summary: "orders, renamed db", plugin: "postgres", agent: "",
      "ep.pg_host": "127.0.0.1", "ep.pg_port": "5433", "ep.pg_user": "postgres", "ep.pg_password": "", "ep.pg_database": "orders2",
    });
    expect(keep.status).toBe(303);
    let ep = JSON.parse((await t.req("GET", `/v1/target/${ids.target}`)).json.endpoint);
    expect(ep).toMatchObject({ pg_password: SECRET, pg_port: "5433", pg_database: "orders2" });
    await b.post(`/targets/${ids.target}`, { name: "orders-db", summary: "", plugin: "postgres", agent: "", "ep.pg_user": "postgres", "ep.pg_password": "new-secret" });
    ep = JSON.parse((await t.req("GET", `/v1/target/${ids.target}`)).json.endpoint);
    expect(ep.pg_password).toBe("new-secret");
    expect(ep.pg_port).toBeUndefined();
  });

  test("a refused edit does not send the typed secret back", async () => {
    const r = await b.post(`/targets/${ids.target}`, { name: "", summary: "", plugin: "postgres", agent: "", "ep.pg_user": "postgres", "ep.pg_password": SECRET + "-typed" });
    expect(r.status).toBe(400);
    expect(r.html).not.toContain(SECRET);
  });

  test("for a plugin without fields, secret-looking keys are hidden on the page", async () => {
    const r = await b.post("/targets", { name: "bytes", plugin: "bytes-target", agent: "", endpoint_json: JSON.stringify({ size: 10, password: SECRET }) });
    expect(r.status).toBe(303);
    const page = await b.get(r.location!);
    expect(page.html).toContain("size");
    expect(page.html).not.toContain(SECRET);
    const edit = await b.get(r.location! + "/edit");
    expect(edit.html).not.toContain(SECRET);
    // Left empty on edit: the endpoint is kept whole.
    const uuid = r.location!.split("/").pop()!;
    expect((await b.post(`/targets/${uuid}`, { name: "bytes", summary: "", plugin: "bytes-target", agent: "", endpoint_json: "" })).status).toBe(303);
    expect(JSON.parse((await t.req("GET", `/v1/target/${uuid}`)).json.endpoint)).toEqual({ size: 10, password: SECRET });
  });

  test("a store in use cannot be deleted: the refusal says which job", async () => {
    const r = await b.post(`/stores/${ids.store}/delete`);
    expect(r.status).toBe(303);
    const page = await b.get(r.location!);
    expect(page.html).toContain("Not deleted:");
    expect(page.html).toContain("orders-nightly");
  });

  test("retention durations are typed and shown in human units", async () => {
    const r = await b.post("/retention", { name: "quarter", amount: "13", unit: "weeks" });
    expect(r.status).toBe(303);
    const list = await t.req("GET", "/v1/retention");
    expect(list.json.find((p: any) => p.name === "quarter").expires).toBe(13 * 7 * 86400);
    expect((await b.get("/retention")).html).toContain("13 weeks");
    // Below the API's minimum: its words, next to the duration.
    const tooShort = await b.post("/retention", { name: "brief", amount: "0.5", unit: "hours" });
    expect(tooShort.status).toBe(400);
    expect(byId(tooShort.html, "f-amount-error")).toContain("at least 3600");
    const bad = await b.post("/retention", { name: "blink", amount: "0", unit: "hours" });
    expect(bad.status).toBe(400);
    expect(byId(bad.html, "f-amount-error")).toContain("greater than 0");
  });
});

describe("plugins written for the original Shield", () => {
  // Fakes of the original postgres, mysql, fs, xtrabackup and redis-broker plugins
  // (perl), which read values the way the original's plugin library does: a port
  // sent as a JSON number is refused. Installed first, they shadow the built-ins.
  const ORIGINAL = resolve(import.meta.dir, "../fixtures/plugins/original");
  let t: TestApi;
  let b: WebClient;
  beforeAll(async () => ({ t, b } = await signedIn("operator", { pluginDirs: [ORIGINAL, resolve(import.meta.dir, "../fixtures/plugins")] })));
  afterAll(() => t.cleanup());
  const stored = async (location: string | null) => JSON.parse((await t.req("GET", `/v1/target/${location!.split("/").pop()}`)).json.endpoint);
  /** The plugin's backup of a stored endpoint, as a backup task runs it: its exit code and output. */
  const backup = (plugin: string, endpoint: unknown) => {
    const r = Bun.spawnSync([join(ORIGINAL, plugin), "backup", "--endpoint", JSON.stringify(endpoint)]);
    return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
  };

  test("the original postgres plugin saves what the form sends: the port is the text typed, not a number", async () => {
    const r = await b.post("/targets", {
      name: "pg", summary: "", plugin: "postgres", agent: "",
      "ep.pg_host": "db1", "ep.pg_port": "5433", "ep.pg_user": "backup", "ep.pg_password": "pw", "ep.pg_database": "app",
    });
    expect(r.status).toBe(303);
    const ep = await stored(r.location);
    expect(ep).toEqual({ pg_host: "db1", pg_port: "5433", pg_user: "backup", pg_password: "pw", pg_database: "app" });
    expect(backup("postgres", ep)).toEqual({ code: 0, out: "-- fake pg_dump of app on db1:5433\n" });
  });

  test("a port that is not one is refused next to its field, before the plugin is asked", async () => {
    const r = await b.post("/targets", { name: "pg2", plugin: "postgres", agent: "", "ep.pg_port": "54x", "ep.pg_user": "backup" });
    expect(r.status).toBe(400);
    expect(byId(r.html, "f-ep-pg_port-error")).toBe("pg_port must be a port number (1-65535)");
  });

  test("the original mysql plugin: an empty password is saved as \"\" (the key it requires), and its backups run", async () => {
    const form = await b.get("/targets/new?plugin=mysql");
    // The browser must let the password be empty, though the plugin calls it required.
    expect(form.html).toMatch(/<input type="password" name="ep.mysql_password"/);
    expect(form.html).not.toMatch(/<input type="password" name="ep.mysql_password"[^>]*required/);
    const r = await b.post("/targets", {
      name: "my", summary: "", plugin: "mysql", agent: "",
      "ep.mysql_host": "db2", "ep.mysql_port": "3306", "ep.mysql_user": "root", "ep.mysql_password": "",
    });
    expect(r.status).toBe(303);
    const ep = await stored(r.location);
    expect(ep).toEqual({ mysql_host: "db2", mysql_port: "3306", mysql_user: "root", mysql_password: "" });
    expect(backup("mysql", ep)).toEqual({ code: 0, out: "-- fake mysqldump of all databases on db2:3306 as root\n" });
    // What a number would have done: saved (validate only reports it), then every backup refused.
    expect(backup("mysql", { ...ep, mysql_port: 3306 }).code).toBe(13);
  });

  test("editing: an empty password keeps the stored one; ticking “clear” stores an empty one", async () => {
    const base = { name: "my2", summary: "", plugin: "mysql", agent: "", "ep.mysql_port": "3306", "ep.mysql_user": "root" };
    const r = await b.post("/targets", { ...base, "ep.mysql_password": SECRET });
    expect(r.status).toBe(303);
    const edit = await b.get(`${r.location}/edit`);
    expect(edit.html).toContain('name="clear.mysql_password"');
    expect(edit.html).not.toContain(SECRET);
    expect((await b.post(r.location!, { ...base, "ep.mysql_password": "" })).status).toBe(303);
    expect((await stored(r.location)).mysql_password).toBe(SECRET);
    expect((await b.post(r.location!, { ...base, "ep.mysql_password": "", "clear.mysql_password": "on" })).status).toBe(303);
    expect(await stored(r.location)).toEqual({ mysql_port: "3306", mysql_user: "root", mysql_password: "" });
    // Nothing stored now: the edit form offers no "clear", and the page says "not set".
    expect((await b.get(`${r.location}/edit`)).html).not.toContain('name="clear.mysql_password"');
    expect((await b.get(r.location!)).html).toContain("not set");
  });

  test("an enum is a choice of its values; any other value is refused next to its field", async () => {
    const form = await b.get("/targets/new?plugin=redis-broker");
    expect(form.html).toMatch(/<select name="ep.redis_type" required=""/);
    expect(form.html).toContain('<option value="shared">shared</option><option value="dedicated">dedicated</option>');
    const bad = await b.post("/targets", { name: "redis", plugin: "redis-broker", agent: "", "ep.redis_type": "both" });
    expect(bad.status).toBe(400);
    expect(byId(bad.html, "f-ep-redis_type-error")).toBe("redis_type must be one of shared, dedicated");
    const r = await b.post("/targets", { name: "redis", plugin: "redis-broker", agent: "", "ep.redis_type": "dedicated" });
    expect(r.status).toBe(303);
    expect(await stored(r.location)).toEqual({ redis_type: "dedicated" });
    expect((await b.get(`${r.location}/edit`)).html).toContain('<option value="dedicated" selected="">dedicated</option>');
  });

  test("a wslist is typed one item a line and sent as one space-separated string, as the original reads it", async () => {
    const form = await b.get("/targets/new?plugin=xtrabackup");
    expect(form.html).toMatch(/<textarea name="ep.mysql_databases"/);
    const r = await b.post("/targets", {
      name: "xb", plugin: "xtrabackup", agent: "", "ep.mysql_user": "root", "ep.mysql_password": "pw",
      "ep.mysql_databases": "db1\r\n  db.users   db.sessions\r\n",
    });
    expect(r.status).toBe(303);
    const ep = await stored(r.location);
    expect(ep.mysql_databases).toBe("db1 db.users db.sessions");
    expect(backup("xtrabackup", ep)).toEqual({ code: 0, out: "-- fake xtrabackup of: db1 db.users db.sessions\n" });
    expect((await b.get(`${r.location}/edit`)).html).toContain(">db1\ndb.users\ndb.sessions</textarea>");
  });

  test("a target-only plugin that shadows the built-in fs store is refused as a store, naming both", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shield-web-shadow-"));
    try {
      const r = await t.req("POST", "/v1/stores", { body: { name: "disk", summary: "", plugin: "fs", endpoint: JSON.stringify({ base_dir: dir }) } });
      expect(r.status).toBe(400);
      expect(r.json.fields.plugin).toBe(`plugin fs is ${ORIGINAL}/fs, which can only be a target; it shadows the built-in fs store: remove or rename ${ORIGINAL}/fs to use the built-in`);
      // As a target it is the original fs, bool and all.
      const target = await b.post("/targets", { name: "www", plugin: "fs", agent: "", "ep.base_dir": "/srv/www", "ep.strict": "on" });
      expect(target.status).toBe(303);
      expect(await stored(target.location)).toEqual({ base_dir: "/srv/www", strict: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a viewer", () => {
  let t: TestApi;
  let b: WebClient;
  let jobPage: string;
  beforeAll(async () => {
    const w = await webApp();
    t = w.t;
    const dir = mkdtempSync(join(tmpdir(), "shield-web-viewer-"));
    const store = (await t.req("POST", "/v1/stores", { body: { name: "disk", plugin: "fs", endpoint: { base_dir: dir } } })).json.uuid;
    const target = (await t.req("POST", "/v1/targets", { body: { name: "bytes", plugin: "bytes-target", endpoint: { size: 1 }, agent: "" } })).json.uuid;
    const schedule = (await t.req("POST", "/v1/schedules", { body: { name: "daily", when: "daily at 4am" } })).json.uuid;
    const retention = (await t.req("POST", "/v1/retention", { body: { name: "week", expires: 604800 } })).json.uuid;
    const job = (await t.req("POST", "/v1/jobs", { body: { name: "j", target, store, schedule, retention, paused: false } })).json.uuid;
    jobPage = `/jobs/${job}`;
    b = new WebClient(w.web);
    await b.signIn("viewer");
  });
  afterAll(() => t.cleanup());

  test("sees the pages but no control that changes anything", async () => {
    for (const p of ["/", "/jobs", jobPage, "/targets", "/stores", "/schedules", "/retention", "/archives", "/tasks"]) {
      const r = await b.get(p);
      expect(r.status, p).toBe(200);
      // The only POST form on the page is signing out.
      expect((r.html.match(/<form method="post" action="([^"]+)"/g) ?? []).map((f) => f.match(/action="([^"]+)"/)![1]), p).toEqual(["/signout"]);
      expect(r.html, p).not.toMatch(/href="[^"]*\/(new|edit|delete)"/);
    }
  });

  test("a change page asked for by URL, or a change posted, is refused; so is the API", async () => {
    expect((await b.get("/jobs/new")).status).toBe(403);
    expect((await b.get(`${jobPage}/edit`)).status).toBe(403);
    const r = await b.post(`${jobPage}/run`);
    expect(r.status).toBe(403);
    expect(r.html).toContain("may look but not change anything");
    expect((await t.req("GET", `/v1/tasks`)).json).toEqual([]);
    expect((await t.req("POST", `/v1/${jobPage.slice(1).replace("jobs", "job")}/run`, { as: "viewer" })).status).toBe(403);
  });
});

describe("assets", () => {
  let t: TestApi;
  let b: WebClient;
  beforeAll(async () => ({ t, b } = await signedIn("admin")));
  afterAll(() => t.cleanup());

  test("htmx, uPlot, the stylesheets and the scripts are served from the binary with a long cache; pages name no other host", async () => {
    const page = await b.get("/");
    const urls = [...page.html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(urls.filter((u) => /^(https?:)?\/\//.test(u))).toEqual([]);
    const statics = urls.filter((u) => u.startsWith("/static/"));
    // htmx, shield.css, shield.js, theme.js; uPlot, charts.css (uPlot's rules and ours), charts.js.
    expect(statics).toHaveLength(7);
    for (const u of statics) {
      const r = await b.get(u);
      expect(r.status).toBe(200);
      expect(r.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    }
    const htmx = await b.get(statics.find((u) => u.endsWith("htmx.min.js"))!);
    expect(htmx.html).toContain('version:"2.');
    expect((await b.get(statics.find((u) => u.endsWith("uPlot.iife.min.js"))!)).html).toContain("uPlot");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
  });
});

describe("schedules", () => {
  let t: TestApi;
  let b: WebClient;
  beforeAll(async () => ({ t, b } = await signedIn("operator")));
  afterAll(() => t.cleanup());

  test("the preview shows the next runs of what is typed, or the parser's words", async () => {
    const ok = await b.get(`/schedules/preview?when=${encodeURIComponent("daily at 4am")}`);
    expect(ok.html).toStartWith('<div id="when-preview"');
    expect(ok.html.match(/<time datetime="\d{4}-\d\d-\d\dT04:00:00Z"/g)).toHaveLength(5);
    expect(ok.html).toContain("Reads as");
    const bad = await b.get(`/schedules/preview?when=${encodeURIComponent("daily at 25pm")}`);
    expect(bad.html).toContain('class="field-error"');
    expect(bad.html).not.toContain("<time");
  });

  test("an unreadable schedule is refused next to its field; a good one is listed with its next run", async () => {
    const bad = await b.post("/schedules", { name: "bad", summary: "", when: "every blue moon" });
    expect(bad.status).toBe(400);
    expect(byId(bad.html, "f-when-error")).toBeTruthy();
    expect(bad.html).toMatch(/name="when" value="every blue moon"/);
    expect((await b.post("/schedules", { name: "nightly", summary: "", when: "daily at 4am" })).status).toBe(303);
    const list = await b.get("/schedules");
    expect(list.html).toContain("nightly");
    expect(list.html).toMatch(/<time datetime="[^"]+T04:00:00Z"/);
  });
});

describe("the purger's tasks and archives", () => {
  let t: TestApi;
  let b: WebClient;
  let dir: string;
  let job: any;
  const now = () => Math.floor(Date.now() / 1000);
  /** A task of the job, run and ended as the supervisor would (claim, then finish). */
  async function ran(op: "backup" | "purge", status: "done" | "failed", archiveUuid: string | null = null, later = 0) {
    const uuid = crypto.randomUUID();
    await t.catalog.tasks.create({
      uuid, owner: op === "purge" ? "system" : "admin", op, jobUuid: job.uuid, archiveUuid,
      targetUuid: job.target_uuid, storeUuid: job.store_uuid, requestedAt: now() + later,
    });
    expect((await t.catalog.tasks.claim(now(), { id: "r1", host: "backuphost", pid: 4242, pidSpace: null }))?.uuid).toBe(uuid);
    expect(await t.catalog.tasks.finish(uuid, status, now())).toBe(true);
    return uuid;
  }
  beforeAll(async () => {
    ({ t, b } = await signedIn("operator"));
    dir = mkdtempSync(join(tmpdir(), "shield-web-purge-"));
    const made = async (path: string, body: unknown) => (await t.req("POST", path, { body })).json.uuid as string;
    const store = await made("/v1/stores", { name: "disk", summary: "", plugin: "fs", endpoint: JSON.stringify({ base_dir: dir }) });
    const target = await made("/v1/targets", { name: "bytes", summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: "10" }), agent: "" });
    const schedule = await made("/v1/schedules", { name: "hourly", summary: "", when: "hourly at :15" });
    const retention = await made("/v1/retention", { name: "day", summary: "", expires: 86400 });
    const uuid = await made("/v1/jobs", { name: "hourly-bytes", summary: "", target, store, schedule, retention, priority: 50, compression: "zstd", paused: false });
    job = (await t.req("GET", `/v1/job/${uuid}`)).json;
  });
  afterAll(async () => {
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the dashboard judges a job by its backups: a purge done after a failed backup does not hide the failure", async () => {
    const failed = await ran("backup", "failed");
    // Later than the backup: the newest finished task of the job is the purge.
    await ran("purge", "done", crypto.randomUUID(), 5);
    const page = await b.get("/");
    expect(page.status).toBe(200);
    expect(page.html).toContain("last run failed");
    expect(page.html).toContain(`href="/tasks/${failed}"`);
  });

  test("a purge task is shown as one: its archive link, who ran it; a scheduled backup shows when it was due", async () => {
    const archive = crypto.randomUUID();
    const purge = await ran("purge", "done", archive, 10);
    const page = await b.get(`/tasks/${purge}`);
    expect(page.html).toContain("<h1>Purge task</h1>");
    expect(page.html).toContain(`<a href="/archives/${archive}">the archive purged</a>`);
    expect(page.html).toContain("backuphost");
    const due = now() + 3600;
    const pending = crypto.randomUUID();
    await t.catalog.tasks.create({
      uuid: pending, owner: "system", op: "backup", jobUuid: job.uuid, archiveUuid: null,
      targetUuid: job.target_uuid, storeUuid: job.store_uuid, requestedAt: now(), dueAt: due,
    });
    const waiting = await b.get(`/tasks/${pending}`);
    expect(waiting.html).toContain("<dt>Due</dt>");
    expect(waiting.html).toContain(`<time datetime="${new Date(due * 1000).toISOString().slice(0, 19)}Z"`);
  });

  test("an archive whose purge failed says why, how often it was tried, and when the purger tries again", async () => {
    const uuid = crypto.randomUUID();
    const next = now() + 600;
    await t.catalog.archives.create({
      uuid, targetUuid: job.target_uuid, storeUuid: job.store_uuid, jobUuid: job.uuid, storeKey: "2024/01/01/gone",
      takenAt: now() - 7200, expiresAt: now() - 3600, notes: "", status: "purge_failed", size: 10, rawSize: 10, sha256: null,
      compression: "zstd", cipher: "none", encryptionKey: null, purgedAt: null,
      purgeAttempts: 3, purgeError: "store fs: permission denied on 2024/01/01/gone", purgeNextAt: next,
    });
    const page = await b.get(`/archives/${uuid}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain("permission denied on 2024/01/01/gone");
    expect(page.html).toContain("<dt>Purge attempts</dt><dd>3</dd>");
    expect(page.html).toContain(`<time datetime="${new Date(next * 1000).toISOString().slice(0, 19)}Z"`);
    // Nothing to restore or delete: its data is on its way out.
    expect(page.html).not.toContain(`/archives/${uuid}/restore`);
  });
});

describe("job health in the web UI", () => {
  let t: TestApi;
  let b: WebClient;
  let job: any;
  let failedTask: string;
  let archive: string;
  let dir: string;
  const ERROR = "store failed (exit 4): no space left on device";
  const now = () => Math.floor(Date.now() / 1000);
  beforeAll(async () => {
    ({ t, b } = await signedIn("viewer"));
    const made = async (path: string, body: unknown) => (await t.req("POST", path, { body })).json.uuid as string;
    dir = mkdtempSync(join(tmpdir(), "shield-web-health-"));
    const store = await made("/v1/stores", { name: "disk", summary: "", plugin: "fs", endpoint: JSON.stringify({ base_dir: dir }) });
    const target = await made("/v1/targets", { name: "orders-db", summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: "10" }), agent: "" });
    const schedule = await made("/v1/schedules", { name: "daily", summary: "", when: "daily at 4am" });
    const retention = await made("/v1/retention", { name: "week", summary: "", expires: 7 * 86400 });
    const uuid = await made("/v1/jobs", { name: "orders-nightly", summary: "", target, store, schedule, retention, paused: false });
    job = (await t.req("GET", `/v1/job/${uuid}`)).json;
    // A backup done (its archive, 4 KiB), then one failed: as the supervisor records them.
    archive = crypto.randomUUID();
    await t.catalog.archives.create({
      uuid: archive, targetUuid: target, storeUuid: store, jobUuid: uuid, storeKey: "k1", takenAt: now() - 7200, expiresAt: now() + 86400,
      notes: "before the upgrade", status: "valid", size: 4096, rawSize: 4096, sha256: null, compression: "zstd", cipher: "none", encryptionKey: null, purgedAt: null,
    });
    for (const [status, error] of [["done", null], ["failed", ERROR]] as const) {
      const task = crypto.randomUUID();
      await t.catalog.tasks.create({ uuid: task, owner: "admin", op: "backup", jobUuid: uuid, archiveUuid: null, targetUuid: target, storeUuid: store, requestedAt: now() });
      expect((await t.catalog.tasks.claim(now(), { id: "r1", host: "h", pid: 1, pidSpace: null }))?.uuid).toBe(task);
      expect(await t.catalog.tasks.finish(task, status, now() + (status === "failed" ? 1 : 0), status === "done" ? archive : undefined, undefined, error)).toBe(true);
      if (status === "failed") failedTask = task;
    }
  });
  afterAll(async () => {
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the jobs list shows each job's last run, next run and success rate", async () => {
    const page = await b.get("/jobs");
    expect(page.status).toBe(200);
    for (const h of ["Last run", "Next run", "Success (30 days)"]) expect(page.html).toContain(h);
    expect(page.html).toContain(`href="/tasks/${failedTask}"`);
    expect(page.html).toMatch(/<time datetime="\d{4}-\d\d-\d\dT04:00:00Z"/);
    expect(page.html).toContain("50%<span class=\"muted\"> of 2</span>");
  });

  test("the job page shows the last run's error, the next run and the window's figures; its archives by job", async () => {
    const page = await b.get(`/jobs/${job.uuid}`);
    expect(page.html).toContain(ERROR);
    expect(page.html).toContain("2 runs, 1 failed (50% succeeded)");
    expect(page.html).toContain(`href="/archives?job=${job.uuid}"`);
    const archives = await b.get(`/archives?job=${job.uuid}`);
    expect(archives.html).toContain(`/archives/${archive}`);
    expect(archives.html).toContain(`name="job" value="${job.uuid}"`);
  });

  test("the dashboard names the failing job with its error, and the storage from the statistics", async () => {
    const page = await b.get("/");
    expect(page.html).toContain(`last run failed: ${ERROR}`);
    expect(page.html).toContain("1 jobs, 1 failing; 1 archives held, 4.0 KiB.");
    expect(page.html).toContain(`>disk</a></td><td data-label="Plugin">fs</td><td data-label="Archives held">1</td><td data-label="Size">4.0 KiB</td>`);
  });

  test("archive search: by notes, target or job name, and largest first", async () => {
    expect((await b.get("/archives?q=UPGRADE")).html).toContain(`/archives/${archive}`);
    expect((await b.get("/archives?q=orders-night")).html).toContain(`/archives/${archive}`);
    expect((await b.get("/archives?q=nothing-like-it")).html).toContain("No archive matches these filters.");
    expect((await b.get("/archives?sort=size")).status).toBe(200);
  });

  test("a failed task's page shows its error line", async () => {
    expect((await b.get(`/tasks/${failedTask}`)).html).toContain(ERROR);
  });
});
