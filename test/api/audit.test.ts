// The audit trail over the /v1 API, on both catalogs: a scripted sequence of
// changes yields exactly the expected entries (who, which token, what, which
// fields), no secret value appears anywhere in the trail, failed sign-ins are
// recorded with the name tried, GET /v1/audit is for admins only, filters and
// pages, and old entries go with the audit period. Real plugins: the built-ins
// and a shell plugin whose password field's name says nothing of a secret.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { builtinNames } from "../../plugins/index.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { Purger } from "../../src/scheduler/index.ts";
import { nowSeconds } from "../../src/catalog/index.ts";
import { dialects } from "../helpers/catalog.ts";
import { testApi, type TestApi } from "../helpers/app.ts";
import { call, expectErrorBody, insertArchive, insertTask, NOBODY } from "./fixtures.ts";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");

// Every secret sent below; none may appear in the trail, in any form.
const SECRETS = {
  pg: "pg-secret-audit-1a2b",          // postgres target: pg_password (declared password, and named so)
  pg2: "pg-secret-audit-new-3c4d",     // its replacement
  dsn: "dsn-secret-audit-5e6f",        // legacy plugin: `dsn`, declared password (its name alone would not say so)
  s3: "s3-secret-audit-7a8b",          // s3 store: secret_access_key
  userPw: "olive-password-9c0d",       // a user's password
  userPw2: "olive-password-new-1e2f",  // changed
  wrongPw: "wrong-password-3a4b",      // a failed sign-in's password
  hook: "hook-secret-audit-5c6d",      // webhook channel: secret
  hookUrl: "https://hooks.example/T0KEN-audit-7e8f", // webhook channel: url (carries a token)
  bind: "bind-secret-audit-9a0b",      // ldap provider: bind_password
};

const LEGACY_INFO = {
  name: "Legacy", author: "tests", version: "1", features: { target: "yes", store: "no" },
  fields: [
    { mode: "target", name: "pg_user", type: "string", title: "User", help: "", required: true },
    { mode: "target", name: "dsn", type: "password", title: "DSN", help: "" },
  ],
};
const script = (info: object) => `#!/bin/sh
case "$1" in
  info) echo '${JSON.stringify(info)}' ;;
  validate) echo ok ;;
  *) exit 2 ;;
esac
`;

/** An entry in one line: who (token) action type name [changed fields]. */
const line = (e: any) => `${e.user}${e.token ? ` (${e.token})` : ""} ${e.action} ${e.object_type} ${e.object_name ?? "-"} [${Object.keys(e.changes).join(",")}]`;

for (const dialect of dialects) {
  describe(`the audit trail (${dialect})`, () => {
    let api: TestApi;
    let dir: string;
    const ids: Record<string, string> = {};
    let opToken = "";

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "shield-test-audit-"));
      writeFileSync(join(dir, "legacy-pg"), script(LEGACY_INFO));
      chmodSync(join(dir, "legacy-pg"), 0o755);
      const plugins = new PluginRegistry({ dirs: [dir], self: [process.execPath, MAIN], builtins: builtinNames() });
      api = await testApi(dialect, { plugins, core: { loopbackOnly: true } });
    });
    afterAll(async () => {
      await api.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    const created = async (path: string, body: object, as: any = "admin") => (await call(api, "POST", path, 200, { body, as })).json.uuid as string;
    const trail = async (query = "") => (await call(api, "GET", `/v1/audit${query}`, 200)).json as any[];

    test("a scripted sequence of changes makes exactly the expected entries, newest first", async () => {
      const before = (await trail()).length;
      expect(before).toBe(0);
      // As an operator with an API token made with a password (a sign-in), limited to nothing less.
      const tok = await call(api, "POST", "/v1/auth/tokens", 200, { body: { name: "ci" }, as: "operator" });
      opToken = tok.json.token;
      const op = { token: opToken };
      ids.pg = await created("/v1/targets", {
        name: "orders-db", summary: "orders", plugin: "postgres", agent: "",
        endpoint: JSON.stringify({ pg_host: "db1", pg_user: "backup", pg_password: SECRETS.pg, pg_database: "orders" }),
      }, op);
      await call(api, "PUT", `/v1/target/${ids.pg}`, 200, {
        as: op, body: {
          name: "orders-db", summary: "orders (primary)", plugin: "postgres", agent: "",
          endpoint: JSON.stringify({ pg_host: "db2", pg_user: "backup", pg_password: SECRETS.pg2, pg_database: "orders" }),
        },
      });
      ids.legacy = await created("/v1/targets", { name: "legacy", summary: "", plugin: "legacy-pg", agent: "", endpoint: JSON.stringify({ pg_user: "u", dsn: SECRETS.dsn }) }, op);
      ids.store = await created("/v1/stores", {
        name: "s3", summary: "", plugin: "s3", endpoint: JSON.stringify({ bucket: "audit-bucket", access_key_id: "AKIAAUDIT", secret_access_key: SECRETS.s3, region: "us-east-1", endpoint: "http://127.0.0.1:1" }),
      }, op);
      ids.schedule = await created("/v1/schedules", { name: "nightly", summary: "", when: "daily at 4am" }, op);
      ids.policy = await created("/v1/retention", { name: "week", summary: "", expires: 7 * 86400 }, op);
      ids.job = await created("/v1/jobs", { name: "orders-nightly", summary: "", target: ids.pg, store: ids.store, schedule: ids.schedule, retention: ids.policy, paused: false }, op);
      await call(api, "POST", `/v1/job/${ids.job}/pause`, 200, { as: op });
      const run = await call(api, "POST", `/v1/job/${ids.job}/run`, 200, { as: op });
      ids.runTask = run.json.task_uuid;
      await call(api, "DELETE", `/v1/task/${ids.runTask}`, 200, { as: op });
      const archive = await insertArchive(api, { targetUuid: ids.pg, storeUuid: ids.store, jobUuid: ids.job });
      ids.archive = archive.uuid;
      await call(api, "PUT", `/v1/archive/${ids.archive}`, 200, { as: op, body: { notes: "before the migration", pinned: true, pin_reason: "legal hold" } });
      await call(api, "PUT", `/v1/archive/${ids.archive}`, 200, { as: op, body: { pinned: false } });
      const restore = await call(api, "POST", `/v1/archive/${ids.archive}/restore`, 200, { as: op, body: { target: ids.pg } });
      ids.restoreTask = restore.json.task_uuid;
      await call(api, "DELETE", `/v1/archive/${ids.archive}`, 200, { as: op });
      // As the admin, with the password on each request.
      ids.olive = await created("/v1/users", { name: "olive", password: SECRETS.userPw, role: "viewer" });
      await call(api, "PUT", `/v1/user/${ids.olive}`, 200, { body: { role: "operator", password: SECRETS.userPw2 } });
      ids.channel = await created("/v1/notifications", { name: "ops-hook", kind: "webhook", settings: { url: SECRETS.hookUrl, secret: SECRETS.hook } });
      await call(api, "PUT", `/v1/notification/${ids.channel}`, 200, { body: { events: ["backup.failed"] } });
      await call(api, "POST", "/v1/auth/providers", 200, {
        body: { name: "corp", type: "ldap", config: { url: "ldap://127.0.0.1:1", base_dn: "dc=x", bind_dn: "cn=svc,dc=x", bind_password: SECRETS.bind, user_filter: "(uid={username})" } },
      });
      await call(api, "PUT", "/v1/auth/provider/corp", 200, {
        body: { config: { url: "ldap://127.0.0.1:2", base_dn: "dc=x", bind_dn: "cn=svc,dc=x", bind_password: "********", user_filter: "(uid={username})" } },
      });
      await call(api, "DELETE", "/v1/auth/provider/corp", 200);
      // A failed sign-in, with a name that exists and one that does not.
      await call(api, "GET", "/v1/auth/whoami", 401, { as: { basic: `olive:${SECRETS.wrongPw}` } });
      await call(api, "GET", "/v1/jobs", 401, { as: { basic: `mallory:${SECRETS.wrongPw}` } });
      // Refused changes and reads change nothing, and are not entries.
      await call(api, "DELETE", `/v1/job/${ids.job}`, 403, { as: "viewer" });
      await call(api, "GET", `/v1/job/${ids.job}`, 200, { as: op });
      await call(api, "POST", `/v1/target/${ids.pg}/test`, 200, { as: op });
      await call(api, "DELETE", `/v1/job/${ids.job}`, 200, { as: op });
      await call(api, "DELETE", `/v1/user/${ids.olive}`, 200);

      const entries = (await trail()).reverse();
      expect(entries.map(line)).toEqual([
        "operator sign-in token ci [name]",
        "operator (ci) create target orders-db [bandwidth,endpoint.pg_database,endpoint.pg_host,endpoint.pg_password,endpoint.pg_user,name,plugin,summary]",
        "operator (ci) update target orders-db [endpoint.pg_host,endpoint.pg_password,summary]",
        "operator (ci) create target legacy [bandwidth,endpoint.dsn,endpoint.pg_user,name,plugin]",
        "operator (ci) create store s3 [bandwidth,endpoint.access_key_id,endpoint.bucket,endpoint.endpoint,endpoint.region,endpoint.secret_access_key,max_tasks,name,plugin]",
        "operator (ci) create schedule nightly [name,when]",
        "operator (ci) create retention policy week [expires,keep_daily,keep_hourly,keep_last,keep_monthly,keep_weekly,keep_within,keep_yearly,name]",
        "operator (ci) create job orders-nightly [compression,name,paused,priority,retention_name,retention_uuid,schedule_name,schedule_uuid,store_name,store_uuid,target_name,target_uuid]",
        "operator (ci) pause job orders-nightly [paused]",
        "operator (ci) run job orders-nightly [task]",
        "operator (ci) cancel task backup [status]",
        `operator (ci) update archive orders-db ${archive.takenAt ? new Date(archive.takenAt * 1000).toISOString().slice(0, 19).replace("T", " ") : ""} [notes,pin_reason,pinned]`,
        `operator (ci) update archive orders-db ${new Date(archive.takenAt * 1000).toISOString().slice(0, 19).replace("T", " ")} [pin_reason,pinned]`,
        `operator (ci) restore archive orders-db ${new Date(archive.takenAt * 1000).toISOString().slice(0, 19).replace("T", " ")} [target,task]`,
        `operator (ci) delete archive orders-db ${new Date(archive.takenAt * 1000).toISOString().slice(0, 19).replace("T", " ")} [expires_at,status]`,
        "admin create user olive [name,password,provider,role]",
        "admin update user olive [password,role]",
        "admin create notification channel ops-hook [events,kind,name,settings.secret,settings.url]",
        "admin update notification channel ops-hook [events]",
        "admin create auth provider corp [config.base_dn,config.bind_dn,config.bind_password,config.url,config.user_filter,type]",
        "admin update auth provider corp [config.url]",
        "admin delete auth provider corp [config.base_dn,config.bind_dn,config.bind_password,config.url,config.user_filter,type]",
        "olive sign-in-failed user olive [reason]",
        "mallory sign-in-failed user mallory [reason]",
        "operator (ci) delete job orders-nightly [compression,name,paused,priority,retention_name,retention_uuid,schedule_name,schedule_uuid,store_name,store_uuid,target_name,target_uuid]",
        "admin delete user olive [name,provider,role]",
      ]);
      const by = (action: string, type: string) => entries.find((e) => e.action === action && e.object_type === type)!;
      // Ids and values: a changed field says what it was and became; a secret says only that it changed.
      expect(by("update", "target")).toMatchObject({
        object_uuid: ids.pg, user_uuid: expect.any(String), provider: "local", token: "ci",
        changes: { "endpoint.pg_host": { from: "db1", to: "db2" }, "endpoint.pg_password": { from: "********", to: "********" }, summary: { from: "orders", to: "orders (primary)" } },
      });
      expect(by("create", "target").changes["endpoint.pg_password"]).toEqual({ to: "********" });
      expect(by("update", "user").changes).toEqual({ role: { from: "viewer", to: "operator" }, password: { to: "********" } });
      expect(by("run", "job").changes).toEqual({ task: { to: ids.runTask } });
      expect(by("cancel", "task")).toMatchObject({ object_uuid: ids.runTask, changes: { status: { from: "pending", to: "canceled" } } });
      expect(by("restore", "archive").changes).toEqual({ target: { to: ids.pg }, task: { to: ids.restoreTask } });
      expect(by("delete", "archive").changes).toMatchObject({ status: { from: "valid", to: "expired" } });
      expect(by("update", "auth provider")).toMatchObject({ object_uuid: "corp", changes: { "config.url": { from: "ldap://127.0.0.1:1", to: "ldap://127.0.0.1:2" } } });
      expect(by("create", "notification channel").changes["settings.url"]).toEqual({ to: "********" });
      // The sign-in that failed names who was tried and nobody else.
      const failed = entries.filter((e) => e.action === "sign-in-failed");
      expect(failed.map((e) => [e.user, e.user_uuid, e.provider, e.token, e.changes.reason.to])).toEqual([
        ["olive", null, null, null, "wrong user name or password"], ["mallory", null, null, null, "wrong user name or password"],
      ]);
      for (const e of entries) {
        expect(e.at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
        expect(e.address).toBe("unknown"); // in-process requests: no client address (the daemon's front door gives one)
      }
    });

    test("no secret value anywhere in the trail, nor the token made", async () => {
      const text = JSON.stringify(await trail("?limit=1000"));
      for (const [name, secret] of Object.entries({ ...SECRETS, token: opToken })) expect([name, text.includes(secret)]).toEqual([name, false]);
      // Not in the stored rows either (what a database dump shows).
      const rows = JSON.stringify(await api.catalog.audit.list({}, { limit: 1000, offset: 0 }));
      for (const [name, secret] of Object.entries({ ...SECRETS, token: opToken })) expect([name, rows.includes(secret)]).toEqual([name, false]);
    });

    test("only admins read the trail", async () => {
      for (const as of ["operator", "viewer"] as const) {
        const r = await call(api, "GET", "/v1/audit", 403, { as });
        expect(r.json.error).toContain("admin");
      }
      await call(api, "GET", "/v1/audit", 403, { as: { token: opToken } });
      await call(api, "GET", "/v1/audit", 401, { as: "anonymous" });
    });

    test("filters: user (name or uuid), type, object, action, time; paged with limit and offset", async () => {
      const all = await trail();
      const ops = await trail("?user=operator");
      expect(ops.length).toBe(all.filter((e) => e.user === "operator").length);
      expect(ops.length).toBeGreaterThan(5);
      expect(await trail(`?user=${ops[0].user_uuid}`)).toEqual(ops);
      expect((await trail("?user=mallory")).map((e) => e.action)).toEqual(["sign-in-failed"]);
      expect((await trail("?type=archive")).map((e) => e.action)).toEqual(["delete", "restore", "update", "update"]);
      expect((await trail(`?object=${ids.job}`)).map((e) => e.action)).toEqual(["delete", "run", "pause", "create"]);
      expect((await trail(`?type=job&object=${ids.job}&action=run`)).length).toBe(1);
      expect((await trail(`?type=${encodeURIComponent("retention policy")}`)).map((e) => e.object_name)).toEqual(["week"]);
      expect((await trail("?action=sign-in-failed")).map((e) => e.user)).toEqual(["mallory", "olive"]);
      const today = new Date().toISOString().slice(0, 10);
      expect((await trail(`?since=${today}&until=${today}`)).length).toBe(all.length);
      expect(await trail("?until=2000-01-01")).toEqual([]);
      expect(await trail(`?since=${encodeURIComponent("2999-01-01 00:00:00")}`)).toEqual([]);
      const page1 = await trail("?limit=3");
      const page2 = await trail("?limit=3&offset=3");
      expect(page1.concat(page2).map((e) => e.uuid)).toEqual(all.slice(0, 6).map((e) => e.uuid));
    });

    test("bad queries are 400s naming the parameter", async () => {
      for (const [q, field] of [["?usr=admin", "usr"], ["?since=yesterday", "since"], ["?until=2026-13-45", "until"], ["?since=2026-02-31", "since"], ["?limit=0", "limit"], ["?user=", "user"]] as const) {
        const r = await api.req("GET", `/v1/audit${q}`);
        expect([q, r.status]).toEqual([q, 400]);
        expectErrorBody(r);
        expect(r.json.error).toContain(field);
      }
    });

    test("a throttled sign-in is recorded as failed too; a bad token names nobody and is not an entry", async () => {
      const t = await testApi(dialect, { throttle: { freePerUser: 1, freePerAddress: 100, firstWaitMs: 60_000, maxWaitMs: 60_000 } });
      try {
        for (let i = 0; i < 3; i++) await t.req("GET", "/v1/auth/whoami", { as: { basic: `admin:guess-${i}` } });
        await t.req("GET", "/v1/auth/whoami", { as: { token: "shield_not-a-token" } });
        const rows = await t.catalog.audit.list({}, { limit: 100, offset: 0 });
        const reasons = rows.reverse().map((r) => `${r.userName} ${r.action}: ${JSON.parse(r.changes!).reason.to}`);
        expect(reasons[0]).toBe("admin sign-in-failed: wrong user name or password");
        expect(reasons.at(-1)).toBe("admin sign-in-failed: too many failed sign-ins");
        expect(rows.length).toBe(3);
      } finally {
        await t.cleanup();
      }
    });

    test("entries older than the audit period are removed by the purger, newer ones stay", async () => {
      const now = nowSeconds();
      const old = { uuid: Bun.randomUUIDv7(), at: now - 7200, userUuid: null, userName: "old", provider: null, tokenName: null, address: "192.0.2.1", action: "update", objectType: "job", objectUuid: NOBODY, objectName: "x", changes: null };
      await api.catalog.audit.add(old);
      const count = (await trail("?limit=1000")).length;
      const r = await new Purger({ catalog: api.catalog, auditRetentionS: 3600 }).tick();
      expect(r.removedAuditEntries).toBe(1);
      expect((await trail("?limit=1000")).length).toBe(count - 1);
      expect(await trail("?user=old")).toEqual([]);
    });
  });
}

test("every route but GETs declares what it changes (route() refuses one that does not)", async () => {
  const api = await testApi();
  try {
    const doc = (await call(api, "GET", "/v1/openapi.json", 200, { as: "anonymous" })).json;
    expect(doc.paths["/v1/audit"].get.parameters.map((p: any) => p.name).sort()).toEqual(["action", "limit", "object", "offset", "since", "type", "until", "user"]);
  } finally {
    await api.cleanup();
  }
  const { route } = await import("../../src/api/route.ts");
  expect(() => route({ app: { post() {} } as any, core: {} as any, specs: [] }, {
    method: "post", path: "/v1/x", tag: "x", summary: "x", permission: "operate", response: "text",
  }, () => ({}))).toThrow("declares no audit");
});
