// How the /v1 API refuses: broken and non-object bodies, unknown fields, unknown
// endpoints, oversize bodies; every refusal a JSON `{"error": ...}` with no stack
// trace; and no input, however odd, answered with a 500.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { authHeader, testApi, type As, type TestApi } from "../helpers/app.ts";
import { dialects } from "../helpers/catalog.ts";
import { log } from "../../src/log.ts";
import {
  NOBODY, call, expectErrorBody, expectNoStack, insertArchive, insertTask, jobBody, makeDefinitions, makeJob,
} from "./fixtures.ts";

/** Every route that reads a JSON body, with a body it accepts. */
const bodyRoutes: [string, string, unknown][] = [
  ["POST", "/v1/schedules", { name: "s", when: "daily at 4am" }],
  ["POST", "/v1/retention", { name: "r", expires: 3600 }],
  ["POST", "/v1/targets", { name: "t", plugin: "fs", endpoint: "{}", agent: "" }],
  ["POST", "/v1/stores", { name: "s", plugin: "fs", endpoint: "{}" }],
  ["POST", "/v1/auth/tokens", { name: "t" }],
  ["POST", "/v1/users", { name: "u", password: "password", role: "viewer" }],
  ["PUT", `/v1/archive/${NOBODY}`, { notes: "n" }],
];

describe("request bodies", () => {
  let api: TestApi;
  beforeAll(async () => { api = await testApi(); });
  afterAll(() => api.cleanup());

  test("broken JSON: 400 saying so, without fields", async () => {
    for (const [method, path] of bodyRoutes) {
      for (const broken of ["{", '{"name": }', "{'name': 'x'}", '{"name":"x",}', "name=x", "\u0000", '{"a":1}{"b":2}']) {
        const res = await call(api, method, path, 400, { body: broken });
        expect(res.json.error).toContain("request body is not valid JSON");
        expect(res.json.fields).toBeUndefined();
      }
    }
  });

  test("empty body where one is required: 400 asking for a JSON object", async () => {
    for (const [method, path] of bodyRoutes) {
      for (const empty of ["", "   ", "\n\t"]) {
        expect((await call(api, method, path, 400, { body: empty })).json.error).toBe("request body is empty; send a JSON object");
      }
      // No body at all.
      const res = await api.app.request(path, { method, headers: { authorization: authHeader("admin")! } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe("request body is empty; send a JSON object");
    }
  });

  test("a body that is JSON but not an object: 400 saying it must be an object", async () => {
    const cases: [string, string][] = [
      ["null", "not null"], ['"x"', "not"], ["42", "not"], ["true", "not"], ["[]", "not an array"], ['[{"name":"x"}]', "not an array"],
    ];
    for (const [method, path] of bodyRoutes) {
      for (const [body, words] of cases) {
        const res = await call(api, method, path, 400, { body });
        expect(res.json.error).toContain("must be a JSON object");
        expect(res.json.error).toContain(words);
      }
    }
    // Also where the body may be left out.
    const d = await makeDefinitions(api);
    const job = await makeJob(api, d, "j");
    for (const body of ["null", "[]", "7"]) {
      expect((await call(api, "POST", `/v1/job/${job}/run`, 400, { body })).json.error).toContain("must be a JSON object");
    }
  });

  test("an unknown field: 400 naming it in error and fields", async () => {
    for (const [method, path, body] of bodyRoutes) {
      const res = await call(api, method, path, 400, { body: { ...(body as object), bogus_field: 1 } });
      expect(res.json.error).toBe("invalid request body: bogus_field: is not a field of this request");
      expect(res.json.fields).toEqual({ bogus_field: "is not a field of this request" });
    }
  });

  test("several bad fields: one error naming each, and each in fields", async () => {
    const res = await call(api, "POST", "/v1/retention", 400, { body: { name: "", expires: 5, extra: true } });
    expect(res.json.fields).toEqual({ name: "must not be empty", expires: "must be at least 3600 (one hour)", extra: "is not a field of this request" });
    expect(res.json.error).toBe("invalid request body: name: must not be empty; expires: must be at least 3600 (one hour); extra: is not a field of this request");
  });

  test("the content type is not what decides: a JSON body is read whatever it is labeled", async () => {
    const res = await api.app.request("/v1/schedules", {
      method: "POST", headers: { authorization: authHeader("admin")!, "content-type": "text/plain" },
      body: JSON.stringify({ name: "labeled", when: "daily at 4am" }),
    });
    expect(res.status).toBe(200);
  });

  test("a body larger than 1 MiB: 413, whether or not its length is declared; nothing is created", async () => {
    const big = JSON.stringify({ name: "big", when: "daily at 4am", summary: "x".repeat(1024 * 1024) });
    const declared = await api.app.request("/v1/schedules", {
      method: "POST", body: big,
      headers: { authorization: authHeader("admin")!, "content-type": "application/json", "content-length": String(big.length) },
    });
    const streamed = await api.app.request("/v1/schedules", {
      method: "POST",
      body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); } }),
      headers: { authorization: authHeader("admin")!, "content-type": "application/json" },
    });
    for (const res of [declared, streamed]) {
      const text = await res.text();
      expectErrorBody({ status: res.status, json: JSON.parse(text), text, headers: res.headers });
      expect(res.status).toBe(413);
      expect(JSON.parse(text).error).toBe("request body is larger than 1048576 bytes");
    }
    // Before authentication, too: an anonymous caller cannot make the daemon read a huge body.
    expect((await call(api, "POST", "/v1/schedules", 413, { body: big, as: "anonymous" })).json.error).toContain("larger than");
    expect((await call(api, "GET", "/v1/schedules", 200)).json.map((s: any) => s.name)).not.toContain("big");
    // Just under the limit is read (and refused for what it says, not its size).
    const under = JSON.stringify({ name: "under", when: "daily at 4am", summary: "x".repeat(1000) });
    await call(api, "POST", "/v1/schedules", 200, { body: under });
  });
});

describe("unknown endpoints", () => {
  let api: TestApi;
  beforeAll(async () => { api = await testApi(); });
  afterAll(() => api.cleanup());

  test("404 JSON naming the method and path, pointing at the OpenAPI document; no credentials needed", async () => {
    const cases: [string, string][] = [
      ["GET", "/v1/nope"], ["GET", "/nope"], ["GET", "/"], ["GET", "/v2/jobs"], ["GET", "/v1/job"], ["GET", "/v1/schedule"],
      ["PATCH", "/v1/jobs"], ["POST", `/v1/job/${NOBODY}/frobnicate`], ["GET", `/v1/job/${NOBODY}/run`],
      ["PUT", "/v1/jobs"], ["DELETE", "/v1/jobs"], ["POST", "/v1/archives"], ["POST", "/v1/tasks"], ["OPTIONS", "/v1/jobs"],
      ["GET", `/v1/job/${NOBODY}/`], ["GET", "/v1/jobs/"],
    ];
    for (const [method, path] of cases) {
      for (const as of ["anonymous", "admin"] as const) {
        const res = await call(api, method, path, 404, { as });
        expect(res.json).toEqual({ error: `no such endpoint: ${method} ${path} (see /v1/openapi.json)` });
      }
    }
  });
});

describe("unknown query parameters", () => {
  let api: TestApi;
  beforeAll(async () => { api = await testApi(); });
  afterAll(() => api.cleanup());

  test("every GET route refuses one it does not declare: 400 naming it, public routes too", async () => {
    // GET /metrics is Prometheus's, outside /v1: it takes only a token and ignores a query
    // string (a scrape config's `params` may add one); test/api/metrics.test.ts covers it.
    const gets = [...new Set(api.app.routes.filter((r) => r.method === "GET" && r.path !== "/metrics").map((r) => r.path))];
    expect(gets.length).toBeGreaterThan(15);
    for (const path of gets) {
      const url = path.replace(":uuid", NOBODY).replace(":name", "fs");
      for (const as of ["admin", "anonymous"] as const) {
        // Credentials first: an anonymous caller learns nothing about a route's parameters.
        const needsAuth = !["/v1/health", "/v1/meta/pubkey", "/v1/openapi.json", "/v1/auth/sso"].includes(path);
        if (as === "anonymous" && needsAuth) {
          await call(api, "GET", `${url}?bogus=1`, 401, { as });
          continue;
        }
        const res = await call(api, "GET", `${url}?bogus=1&also=2`, 400, { as });
        expect([path, res.json.fields]).toEqual([path, { bogus: "is not a parameter of this request", also: "is not a parameter of this request" }]);
        expect(res.json.error).toStartWith("invalid query parameters: bogus: is not a parameter of this request; also:");
      }
    }
    // A parameter named like an object's own properties is just as unknown.
    const proto = await call(api, "GET", "/v1/jobs?__proto__=x&constructor=y", 400);
    expect(Object.keys(proto.json.fields).sort()).toEqual(["__proto__", "constructor"]);
    // Declared ones still work, empty or repeated.
    await call(api, "GET", "/v1/tasks?debug", 200);
    await call(api, "GET", "/v1/archives?limit=1&limit=2", 200);
  });
});

describe("internal errors", () => {
  test("a failure inside the daemon is a 500 with an id to find in the log, and no details", async () => {
    const api = await testApi();
    const lines: string[] = [];
    log.setSink((l) => lines.push(l));
    try {
      await api.catalog.close();
      const res = await api.req("GET", "/v1/schedules");
      expect(res.status).toBe(500);
      expect(Object.keys(res.json)).toEqual(["error"]);
      const id = /^internal error \(id ([0-9a-f-]{36})\); the daemon log has the details$/.exec(res.json.error)?.[1];
      expect(id).toBeDefined();
      expectNoStack(res.text);
      const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "unexpected error");
      expect(logged).toMatchObject({ level: "error", id, method: "GET", path: "/v1/schedules" });
      expect(typeof logged.stack).toBe("string");
    } finally {
      log.setSink(() => {});
      await api.cleanup().catch(() => {});
    }
  });
});

describe("logs", () => {
  test("requests are logged by method, path and status only: no query string, body or credentials", async () => {
    const api = await testApi();
    const lines: string[] = [];
    log.setSink((l) => lines.push(l));
    try {
      await call(api, "POST", "/v1/targets", 200, {
        body: { name: "secretive", plugin: "postgres", endpoint: '{"password":"hunter2-endpoint"}', agent: "" },
      });
      await call(api, "POST", "/v1/targets", 400, { body: { name: "", plugin: "postgres", endpoint: '{"password":"hunter2-invalid"}', agent: "" } });
      await call(api, "GET", "/v1/targets?plugin=hunter2-query", 200);
      await call(api, "GET", "/v1/auth/whoami", 401, { as: { basic: "admin:hunter2-password" } });
      const { token } = (await call(api, "POST", "/v1/auth/tokens", 200, { body: { name: "t" } })).json;
      await call(api, "GET", "/v1/auth/whoami", 200, { as: { token } });
      const all = lines.join("\n");
      expect(lines.length).toBeGreaterThanOrEqual(6);
      expect(all).not.toContain("hunter2");
      expect(all).not.toContain(token);
      expect(all).not.toContain("correct horse");
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ msg: "request", method: "GET", path: "/v1/auth/whoami", status: 200 });
    } finally {
      log.setSink(() => {});
      await api.cleanup();
    }
  });
});

// Hundreds of requests each: more than bun's default 5 s per test, on PostgreSQL above all.
const FUZZ_TIMEOUT = 120_000;

// The catalog is where odd input would turn into a 500 (PostgreSQL refuses NUL in
// text and overflows its integers where SQLite does not), so this runs on each.
for (const dialect of dialects) {
  describe(`no 500, whatever the input, on ${dialect}`, () => {
    let api: TestApi;
    const paths = new Map<string, string>();
    const bodies = new Map<string, Record<string, unknown>>();

    beforeAll(async () => {
      api = await testApi(dialect);
      const d = await makeDefinitions(api, "fuzz");
      const job = await makeJob(api, d, "fuzz job");
      const archive = await insertArchive(api, { targetUuid: d.target, storeUuid: d.store, jobUuid: job });
      const task = await insertTask(api, { jobUuid: job, requestedAt: 1 });
      const user = (await call(api, "POST", "/v1/users", 200, { body: { name: "fuzz user", password: "fuzz pass", role: "viewer" } })).json.uuid;
      const token = (await call(api, "POST", "/v1/auth/tokens", 200, { body: { name: "fuzz" } })).json.uuid;
      const channel = (await call(api, "POST", "/v1/notifications", 200, { body: { name: "fuzz", kind: "slack", settings: { url: "http://127.0.0.1:1/x" } } })).json.uuid;
      // Which real object each item path names.
      for (const [prefix, uuid] of Object.entries({
        "/v1/schedule/": d.schedule, "/v1/retention/": d.retention, "/v1/target/": d.target, "/v1/store/": d.store,
        "/v1/job/": job, "/v1/archive/": archive.uuid, "/v1/task/": task, "/v1/user/": user, "/v1/auth/token/": token,
        "/v1/notification/": channel,
      })) paths.set(prefix, uuid);
      const { paused: _, ...jobUpdate } = jobBody(d, "fuzz job");
      for (const [route, body] of Object.entries({
        "post /v1/schedules": { name: "s", summary: "", when: "daily at 4am" },
        "put /v1/schedule/:uuid": { name: "s2", summary: "", when: "daily at 4am" },
        "post /v1/retention": { name: "r", summary: "", expires: 3600 },
        "put /v1/retention/:uuid": { name: "r2", summary: "", expires: 3600 },
        "post /v1/targets": { name: "t", summary: "", plugin: "fs", endpoint: "{}", agent: "" },
        "put /v1/target/:uuid": { name: "t2", summary: "", plugin: "fs", endpoint: "{}", agent: "" },
        "post /v1/stores": { name: "s", summary: "", plugin: "fs", endpoint: "{}" },
        "put /v1/store/:uuid": { name: "s2", summary: "", plugin: "fs", endpoint: "{}" },
        "post /v1/jobs": jobBody(d, "j"),
        "put /v1/job/:uuid": jobUpdate,
        "post /v1/job/:uuid/run": { owner: "o" },
        "put /v1/archive/:uuid": { notes: "n" },
        "post /v1/archive/:uuid/restore": { target: d.target, owner: "o" },
        "post /v1/gpbackup/backups": { target_name: "gp", store: d.store, retention: d.retention, timestamp: "20240101010101", compression: "zstd", cipher: "none" },
        "post /v1/gpbackup/objects": { target_name: "gp", store: d.store, retention: d.retention, timestamp: "20240101010101", name: "backups/20240101/20240101010101/f", store_key: "k", size: 1 },
        "post /v1/gpbackup/delete": { target_name: "gp", store: d.store, timestamp: "20240101010101" },
        "post /v1/auth/tokens": { name: "t", role: "viewer", expires_in: 3600 },
        "post /v1/auth/providers": { name: "p", type: "ldap", config: { url: "ldap://127.0.0.1:1", base_dn: "dc=x" } },
        "put /v1/auth/provider/:name": { config: { url: "ldap://127.0.0.1:1", base_dn: "dc=x" } },
        "post /v1/auth/sso/:name/start": { redirect_uri: "http://127.0.0.1:1/signin/sso/x/callback" },
        "post /v1/auth/sso/:name/finish": { state: "shield-sealed:v1:AAAA", query: { code: "c", state: "s" }, token_name: "t", expires_in: 3600 },
        "post /v1/auth/sso/:name/device": {},
        "post /v1/auth/sso/:name/device/poll": { state: "shield-sealed:v1:AAAA", token_name: "t" },
        "post /v1/users": { name: "u", password: "password", role: "viewer" },
        "put /v1/user/:uuid": { password: "password", role: "viewer" },
        "post /v1/notifications": { name: "n", kind: "webhook", settings: { url: "http://127.0.0.1:1/x", secret: "s" }, events: ["backup.failed"], jobs: [] },
        "put /v1/notification/:uuid": { name: "n2", settings: { url: "http://127.0.0.1:1/y" }, events: ["drill.failed"], jobs: [] },
        "post /v1/notification/:uuid/test": {},
        "put /v1/job/:uuid/drill": { target: d.target, schedule: d.schedule },
        "post /v1/job/:uuid/drill/run": { owner: "o" },
        "post /v1/target/:uuid/test": {},
        "post /v1/store/:uuid/test": {},
        "post /v1/targets/test": { plugin: "fs", endpoint: "{}", agent: "" },
        "post /v1/stores/test": { plugin: "fs", endpoint: "{}" },
      })) bodies.set(route, body);
    });
    afterAll(() => api.cleanup());

    const WEIRD: unknown[] = [
      null, true, 0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 2 ** 31, "", " ", "\u0000", "a\u0000b", "\ud800", "\uffff", "😀",
      "x".repeat(3000), "'; DROP TABLE jobs; --", "../../etc/passwd", [], [1], {}, { $gt: "" }, NOBODY, "not-a-uuid",
    ];
    const QUERIES = [
      "", "?unused=%00", "?limit=1e400&offset=99999999999999999999", "?after=99999999&before=00000000", "?status=%E2%80%AE",
      `?target=${NOBODY.toUpperCase()}&store=%00`, "?paused[]=t&unused=t&unused=f", "?plugin=%ff%fe", "?debug&limit=1000&offset=1000000000",
    ];

    const routes = () => {
      const seen = new Set<string>();
      const out: { method: string; path: string }[] = [];
      for (const r of api.app.routes) {
        const key = `${r.method} ${r.path}`;
        if (r.method === "ALL" || seen.has(key)) continue;
        seen.add(key);
        out.push({ method: r.method, path: r.path });
      }
      // Deletes last, so the other routes still find their objects.
      return out.sort((a, b) => Number(a.method === "DELETE") - Number(b.method === "DELETE"));
    };
    const realPath = (path: string, uuid?: string) => {
      const prefix = path.slice(0, path.indexOf(":uuid"));
      return path.replace(":uuid", uuid ?? paths.get(prefix) ?? NOBODY);
    };
    const expectSane = async (method: string, path: string, body?: unknown, as: As = "admin") => {
      const res = await api.req(method, path, { body, as });
      if (res.status >= 500) throw new Error(`${method} ${path} ${JSON.stringify(body)?.slice(0, 200)}: ${res.status} ${res.text}`);
      expectNoStack(res.text);
      if (res.status >= 400) expectErrorBody(res);
      return res;
    };

    test("odd values in every field of every body", async () => {
      for (const { method, path } of routes()) {
        const valid = bodies.get(`${method.toLowerCase()} ${path}`);
        if (!valid) continue;
        for (const field of Object.keys(valid)) {
          for (const weird of WEIRD) await expectSane(method, realPath(path), { ...valid, [field]: weird });
        }
        for (const weird of WEIRD) await expectSane(method, realPath(path), { ...valid, [String(weird).slice(0, 50)]: weird });
        await expectSane(method, realPath(path), '{"__proto__": {"role": "admin"}, "constructor": {"prototype": {}}}');
        await expectSane(method, realPath(path), "[".repeat(100_000) + "]".repeat(100_000));
        await expectSane(method, realPath(path), '{"name": "\\ud800\\udc00\\ud800"}');
      }
      // The auth providers made above point at no server: sign-ins of unknown names would be 503s.
      for (const p of await api.catalog.authProviders.list()) await api.catalog.authProviders.delete(p.uuid);
    }, FUZZ_TIMEOUT);

    test("every route: every body route is covered above", () => {
      const writes = routes().filter((r) => r.method === "POST" || r.method === "PUT").map((r) => `${r.method.toLowerCase()} ${r.path}`);
      // Pause and unpause take no body.
      expect(writes.filter((w) => !bodies.has(w) && !/\/(un)?pause$/.test(w))).toEqual([]);
    });

    test("odd path parameters and query strings on every route", async () => {
      const uuids = [
        undefined, NOBODY, NOBODY.toUpperCase(), "not-a-uuid", "%00", "%2e%2e", "%E2%80%AE", "x".repeat(2000),
        "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "{00000000-0000-4000-8000-000000000000}",
      ];
      for (const { method, path } of routes()) {
        const variants = path.includes(":uuid") ? uuids : [undefined];
        for (const uuid of variants) {
          for (const query of QUERIES) {
            await expectSane(method, realPath(path, uuid) + query, method === "GET" || method === "DELETE" ? undefined : "{}");
          }
        }
      }
    }, FUZZ_TIMEOUT);

    test("odd credentials on every route", async () => {
      const odd = [
        { basic: "\u0000:\u0000" }, { basic: "a\u0000b:c" }, { basic: ":" }, { basic: "x".repeat(5000) + ":y" }, { basic: "\ud800\ud800:\udc00" },
        { token: "" }, { token: "\u00ff".repeat(100) }, { token: "shield_" + "A".repeat(10_000) },
      ] as const;
      for (const { method, path } of routes()) {
        for (const as of odd) await expectSane(method, realPath(path), undefined, as);
      }
    }, FUZZ_TIMEOUT);
  });
}
