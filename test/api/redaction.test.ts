// Endpoint secrets and the viewer role: a viewer reads targets, stores, jobs and
// archives with every secret endpoint value replaced by REDACTED (fields a plugin
// declares as passwords, else keys named like secrets), while operators and admins
// read endpoints whole. Real plugins: the built-in postgres (run from source) and
// shell plugins in a temporary plugin directory, one written the way plugins for
// the original Shield declare their fields, one declaring none.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { builtinNames } from "../../plugins/index.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { looksSecret, REDACTED } from "../../src/api/redact.ts";
import { dialects } from "../helpers/catalog.ts";
import { testApi, type TestApi } from "../helpers/app.ts";
import { call, insertArchive, insertTask, makeJob, type RoleName } from "./fixtures.ts";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");

// Every secret stored in an endpoint below; none may reach a viewer, anywhere.
const S = {
  pg: "pg-secret-0a1b2c",          // postgres: pg_password, declared type password
  dsn: "dsn-secret-3d4e5f",        // legacy plugin: `dsn`, declared password (its name alone would not say so)
  legacyPass: "legacy-pass-6a7b8c",// legacy plugin: pg_password, declared password
  s3: "s3-secret-9d0e1f",          // fieldless store: secret_access_key, by name
  nested: "nested-key-2a3b4c",     // fieldless store: options.api_key, by name, nested
  bare: "bare-pass-5d6e7f",        // fieldless target: password, by name
  token: "orphan-token-8a9b0c",    // target whose plugin is gone: token, by name
  garbage: "garbage-secret-1d2e3f",// target whose endpoint is not JSON
  broken: "broken-pass-4a5b6c",    // target whose plugin's info fails
  slow: "slow-pass-7d8e9f",        // target whose plugin's info hangs
};

// Written like a plugin for the original Shield: fields carry "mode", the endpoint comes by --endpoint.
const LEGACY_INFO = {
  name: "Legacy PostgreSQL Plugin", author: "Stark and Wayne", version: "0.0.1", features: { target: "yes", store: "no" },
  fields: [
    { mode: "target", name: "pg_user", type: "string", title: "User", help: "", required: true },
    { mode: "target", name: "pg_password", type: "password", title: "Password", help: "", required: true },
    { mode: "target", name: "dsn", type: "password", title: "DSN", help: "Holds a password, so declared one" },
    { mode: "target", name: "base_dir", type: "abspath", title: "Work directory", help: "" },
  ],
};
const FIELDLESS_STORE = { name: "Fieldless Store", author: "tests", version: "1", features: { target: "no", store: "yes" } };
const FIELDLESS_TARGET = { name: "Fieldless Target", author: "tests", version: "1", features: { target: "yes", store: "no" } };

// Plugins that cannot tell their fields: one whose `info` fails, one whose `info` hangs.
const BROKEN = `#!/bin/sh\necho "cannot start: missing library" >&2\nexit 1\n`;
const SLOW = `#!/bin/sh\nsleep 8\necho '${JSON.stringify(FIELDLESS_TARGET)}'\n`;

const script = (info: object) => `#!/bin/sh
case "$1" in
  info) echo '${JSON.stringify(info)}' ;;
  validate) echo ok ;;
  *) echo "unsupported action $1" >&2; exit 2 ;;
esac
`;

test("the name rule: secret-looking keys go, names that only mention a key stay", () => {
  for (const k of ["password", "pg_password", "PGPASSWORD", "passphrase", "secret_access_key", "token", "vault_token", "api_key",
    "apiKey", "key", "storage_account_key", "ssh-key", "private_key_path", "credentials", "auth", "client_secret", "db_pwd"]) {
    expect([k, looksSecret(k)]).toEqual([k, true]);
  }
  for (const k of ["base_dir", "access_key_id", "key_id", "keyspace", "bucket", "host", "pg_user", "pg_port", "region", "path", "monkey_count", "keys"]) {
    expect([k, looksSecret(k)]).toEqual([k, false]);
  }
});

test("the OpenAPI document describes the redaction on each route answering endpoints", async () => {
  const api = await testApi();
  try {
    const doc = (await call(api, "GET", "/v1/openapi.json", 200, { as: "anonymous" })).json;
    for (const p of ["/v1/targets", "/v1/target/{uuid}", "/v1/stores", "/v1/store/{uuid}", "/v1/jobs", "/v1/job/{uuid}", "/v1/archives", "/v1/archive/{uuid}"]) {
      expect([p, doc.paths[p].get.description]).toEqual([p, expect.stringContaining(`replaced by "${REDACTED}"`)]);
    }
  } finally {
    await api.cleanup();
  }
});

for (const dialect of dialects) {
  describe(`endpoint secrets and roles (${dialect})`, () => {
    let api: TestApi;
    let dir: string;
    const ids = {} as Record<"pgTarget" | "legacyTarget" | "bareTarget" | "orphanTarget" | "garbageTarget" | "brokenTarget" | "slowTarget" | "store" | "job" | "legacyJob" | "archive" | "orphanArchive" | "task" | "schedule" | "retention", string>;
    const endpoints = {
      pgTarget: { pg_host: "db1.example", pg_user: "backup", pg_password: S.pg, pg_database: "orders" },
      legacyTarget: { pg_user: "legacy", pg_password: S.legacyPass, dsn: S.dsn, base_dir: "/var/lib/legacy" },
      bareTarget: { size: 10, password: S.bare, base_dir: "/srv" },
      store: { bucket: "backups", access_key_id: "AKIAEXAMPLE", secret_access_key: S.s3, base_dir: "/shield", options: { api_key: S.nested, region: "eu-1" } },
      orphanTarget: { host: "gone.example", token: S.token },
    };

    const created = async (path: string, body: object) => (await call(api, "POST", path, 200, { body })).json.uuid as string;
    const get = async (path: string, as: RoleName) => (await call(api, "GET", path, 200, { as })).json;
    const ep = (text: string) => JSON.parse(text);

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "shield-test-redact-"));
      for (const [name, info] of [["legacy-pg", LEGACY_INFO], ["fieldless-store", FIELDLESS_STORE], ["fieldless-target", FIELDLESS_TARGET]] as const) {
        writeFileSync(join(dir, name), script(info));
        chmodSync(join(dir, name), 0o755);
      }
      for (const [name, text] of [["broken-target", BROKEN], ["slow-target", SLOW]]) {
        writeFileSync(join(dir, name!), text!);
        chmodSync(join(dir, name!), 0o755);
      }
      const plugins = new PluginRegistry({ dirs: [dir], self: [process.execPath, MAIN], builtins: builtinNames() });
      api = await testApi(dialect, { plugins });

      const schedule = ids.schedule = await created("/v1/schedules", { name: "nightly", when: "daily at 4am" });
      const retention = ids.retention = await created("/v1/retention", { name: "week", expires: 7 * 86400 });
      const target = (name: string, plugin: string, endpoint: object) => created("/v1/targets", { name, plugin, endpoint, agent: "" });
      ids.pgTarget = await target("orders-db", "postgres", endpoints.pgTarget);
      ids.legacyTarget = await target("legacy-db", "legacy-pg", endpoints.legacyTarget);
      ids.bareTarget = await target("bare", "fieldless-target", endpoints.bareTarget);
      ids.store = await created("/v1/stores", { name: "s3ish", plugin: "fieldless-store", endpoint: endpoints.store });
      // A plugin uninstalled after its target was saved (the API would refuse it now): straight into the catalog.
      ids.orphanTarget = crypto.randomUUID();
      await api.catalog.targets.create(ids.orphanTarget, { name: "orphan", summary: "", plugin: "uninstalled", endpoint: JSON.stringify(endpoints.orphanTarget), agent: "" }, 1);
      ids.garbageTarget = crypto.randomUUID();
      await api.catalog.targets.create(ids.garbageTarget, { name: "garbage", summary: "", plugin: "postgres", endpoint: `pg_password=${S.garbage}`, agent: "" }, 1);
      // Plugins that broke (or hang) after their targets were saved.
      ids.brokenTarget = crypto.randomUUID();
      await api.catalog.targets.create(ids.brokenTarget, { name: "broken", summary: "", plugin: "broken-target", endpoint: JSON.stringify({ host: "h", pg_password: S.broken }), agent: "" }, 1);
      ids.slowTarget = crypto.randomUUID();
      await api.catalog.targets.create(ids.slowTarget, { name: "slow", summary: "", plugin: "slow-target", endpoint: JSON.stringify({ host: "h", password: S.slow }), agent: "" }, 1);

      const d = { target: ids.pgTarget, store: ids.store, schedule, retention };
      ids.job = await makeJob(api, d, "orders-nightly");
      ids.legacyJob = await makeJob(api, { ...d, target: ids.legacyTarget }, "legacy-nightly");
      await makeJob(api, { ...d, target: ids.bareTarget }, "bare-nightly");
      await makeJob(api, { ...d, target: ids.orphanTarget }, "orphan-nightly");
      ids.archive = (await insertArchive(api, { targetUuid: ids.pgTarget, storeUuid: ids.store, jobUuid: ids.job })).uuid;
      ids.orphanArchive = (await insertArchive(api, { targetUuid: ids.orphanTarget, storeUuid: ids.store, jobUuid: null })).uuid;
      ids.task = await insertTask(api, { jobUuid: ids.job, targetUuid: ids.pgTarget, storeUuid: ids.store, requestedAt: 1_500_000_000 });
    }, 60_000);
    afterAll(async () => {
      await api?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    /** What each route answers about the postgres target and the store, per role. */
    async function seen(as: RoleName) {
      const targets = await get("/v1/targets", as);
      const stores = await get("/v1/stores", as);
      const jobs = await get("/v1/jobs", as);
      const archives = await get("/v1/archives", as);
      const byUuid = (rows: any[], uuid: string) => rows.find((r) => r.uuid === uuid);
      return {
        "GET /v1/targets": { target: byUuid(targets, ids.pgTarget).endpoint },
        "GET /v1/target/:uuid": { target: (await get(`/v1/target/${ids.pgTarget}`, as)).endpoint },
        "GET /v1/stores": { store: byUuid(stores, ids.store).endpoint },
        "GET /v1/store/:uuid": { store: (await get(`/v1/store/${ids.store}`, as)).endpoint },
        "GET /v1/jobs": { target: byUuid(jobs, ids.job).target_endpoint, store: byUuid(jobs, ids.job).store_endpoint },
        "GET /v1/job/:uuid": (({ target_endpoint, store_endpoint }) => ({ target: target_endpoint, store: store_endpoint }))(await get(`/v1/job/${ids.job}`, as)),
        "GET /v1/archives": { target: byUuid(archives, ids.archive).target_endpoint, store: byUuid(archives, ids.archive).store_endpoint },
        "GET /v1/archive/:uuid": (({ target_endpoint, store_endpoint }) => ({ target: target_endpoint, store: store_endpoint }))(await get(`/v1/archive/${ids.archive}`, as)),
      } as Record<string, { target?: string; store?: string }>;
    }

    test("a viewer gets the marker for pg_password and the store's secrets on every route, and every other value as stored", async () => {
      const routes = await seen("viewer");
      expect(Object.keys(routes)).toHaveLength(8);
      for (const [route, got] of Object.entries(routes)) {
        if (got.target !== undefined) {
          expect([route, ep(got.target)]).toEqual([route, { ...endpoints.pgTarget, pg_password: REDACTED }]);
        }
        if (got.store !== undefined) {
          expect([route, ep(got.store)]).toEqual([route, {
            ...endpoints.store, secret_access_key: REDACTED, options: { api_key: REDACTED, region: "eu-1" },
          }]);
        }
      }
    });

    for (const role of ["operator", "admin"] as const) {
      test(`an ${role} gets every endpoint whole on every route`, async () => {
        for (const [route, got] of Object.entries(await seen(role))) {
          if (got.target !== undefined) expect([route, ep(got.target)]).toEqual([route, endpoints.pgTarget]);
          if (got.store !== undefined) expect([route, ep(got.store)]).toEqual([route, endpoints.store]);
        }
        const legacy = await get(`/v1/target/${ids.legacyTarget}`, role);
        expect(ep(legacy.endpoint)).toEqual(endpoints.legacyTarget);
        expect((await get(`/v1/target/${ids.garbageTarget}`, role)).endpoint).toBe(`pg_password=${S.garbage}`);
      });
    }

    test("an original-Shield-style plugin's password fields are redacted by declaration, even under a harmless name", async () => {
      const got = ep((await get(`/v1/target/${ids.legacyTarget}`, "viewer")).endpoint);
      expect(got).toEqual({ pg_user: "legacy", pg_password: REDACTED, dsn: REDACTED, base_dir: "/var/lib/legacy" });
      const job = (await get("/v1/jobs", "viewer")).find((j: any) => j.target_plugin === "legacy-pg");
      expect(ep(job.target_endpoint).dsn).toBe(REDACTED);
    });

    test("a plugin that declares no fields falls back to the name rule: password goes, size and base_dir stay", async () => {
      const got = ep((await get(`/v1/target/${ids.bareTarget}`, "viewer")).endpoint);
      expect(got).toEqual({ size: 10, password: REDACTED, base_dir: "/srv" });
    });

    test("a target whose plugin is gone falls back to the name rule too, also in archives", async () => {
      const got = ep((await get(`/v1/target/${ids.orphanTarget}`, "viewer")).endpoint);
      expect(got).toEqual({ host: "gone.example", token: REDACTED });
      const archive = await get(`/v1/archive/${ids.orphanArchive}`, "viewer");
      expect(ep(archive.target_endpoint)).toEqual({ host: "gone.example", token: REDACTED });
    });

    test("a plugin whose info fails, or hangs, falls back to the name rule without holding up the answer", async () => {
      expect(ep((await get(`/v1/target/${ids.brokenTarget}`, "viewer")).endpoint)).toEqual({ host: "h", pg_password: REDACTED });
      const started = performance.now();
      expect(ep((await get(`/v1/target/${ids.slowTarget}`, "viewer")).endpoint)).toEqual({ host: "h", password: REDACTED });
      // Not a speed target: the answer must not wait for the 8 s the plugin's info takes.
      expect(performance.now() - started).toBeLessThan(6000);
      // While that info is still running, answers do not wait for it again.
      const again = performance.now();
      expect(ep((await get(`/v1/target/${ids.slowTarget}`, "viewer")).endpoint)).toEqual({ host: "h", password: REDACTED });
      expect(performance.now() - again).toBeLessThan(1500);
    }, 30_000);

    test("an endpoint that is not a JSON object is the marker whole", async () => {
      expect((await get(`/v1/target/${ids.garbageTarget}`, "viewer")).endpoint).toBe(REDACTED);
    });

    test("no endpoint secret appears anywhere in any GET a viewer may make", async () => {
      // Every GET route the API declares, each UUID parameter filled with an object of its kind:
      // a new route answering endpoints is scanned as soon as it exists.
      const doc = (await call(api, "GET", "/v1/openapi.json", 200, { as: "anonymous" })).json;
      const viewer = (await get("/v1/auth/whoami", "viewer")).uuid;
      const fill: Record<string, string[]> = {
        "/v1/target/{uuid}": [ids.pgTarget, ids.legacyTarget, ids.bareTarget, ids.orphanTarget, ids.garbageTarget, ids.brokenTarget],
        "/v1/store/{uuid}": [ids.store],
        "/v1/job/{uuid}": [ids.job, ids.legacyJob],
        "/v1/job/{uuid}/history": [ids.job],
        "/v1/archive/{uuid}": [ids.archive, ids.orphanArchive],
        "/v1/archive/{uuid}/objects": [ids.archive],
        "/v1/task/{uuid}": [ids.task],
        "/v1/user/{uuid}": [viewer],
        "/v1/schedule/{uuid}": [ids.schedule],
        "/v1/retention/{uuid}": [ids.retention],
        // Without ?job= a 400; the preview answers archives, never endpoints.
        "/v1/retention/{uuid}/preview": [ids.retention],
        "/v1/plugin/{name}": ["postgres", "legacy-pg", "fieldless-store"],
        "/v1/auth/provider/{name}": ["local"],
        // Admin only (a viewer gets 403): any UUID will do.
        "/v1/notification/{uuid}": [crypto.randomUUID()],
        "/v1/job/{uuid}/drill": [ids.job, ids.legacyJob],
        "/v1/job/{uuid}/drills": [ids.job],
        // Operators only (a viewer gets 403): the archive's data, never an endpoint.
        "/v1/archive/{uuid}/download": [ids.archive],
      };
      const gets = Object.entries(doc.paths as Record<string, Record<string, unknown>>).filter(([, ops]) => "get" in ops).map(([p]) => p);
      expect(gets.length).toBeGreaterThan(15);
      let scanned = 0;
      for (const path of gets) {
        let urls = [path];
        if (path.includes("{")) {
          const values = fill[path];
          if (!values) throw new Error(`no test object for ${path}: add one to this scan`);
          urls = values.map((v) => path.replace(/\{\w+\}/, v));
        }
        for (const url of urls) {
          // Every status counts: a 403 or 400 must not echo a secret either.
          const res = await api.req("GET", url, { as: "viewer" });
          for (const [name, secret] of Object.entries(S)) expect([url, name, res.text.includes(secret)]).toEqual([url, name, false]);
          scanned++;
        }
      }
      // The listings really did carry the endpoints the scan looked through.
      expect((await api.req("GET", "/v1/jobs", { as: "viewer" })).text).toContain(REDACTED);
      expect(scanned).toBeGreaterThan(gets.length);
      // The scan would have seen a secret: the same routes give an operator the values.
      const operatorText = (await api.req("GET", "/v1/targets", { as: "operator" })).text + (await api.req("GET", "/v1/stores", { as: "operator" })).text;
      for (const secret of Object.values(S)) expect(operatorText).toContain(secret);
    }, 60_000);
  });
}
