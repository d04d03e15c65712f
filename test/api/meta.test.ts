// /v1 contract of the public endpoints: health, the daemon's public key, and the
// OpenAPI document, which must list every route the API registers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApi, type TestApi } from "../helpers/app.ts";
import { createApi } from "../../src/api/index.ts";
import pkg from "../../package.json" with { type: "json" };
import { call } from "./fixtures.ts";

describe("/v1 meta", () => {
  let api: TestApi;
  beforeAll(async () => { api = await testApi(); });
  afterAll(() => api.cleanup());

  describe("GET /v1/health", () => {
    test("answers without credentials: ok, ready and the version", async () => {
      const res = await call(api, "GET", "/v1/health", 200, { as: "anonymous" });
      expect(res.json).toEqual({ ok: "shield is up", ready: true, version: pkg.version });
      expect(res.headers.get("content-type")).toContain("application/json");
    });
    test("while the daemon starts: 503, ready false, and when to ask again", async () => {
      let ready = false;
      const app = createApi(api.core, { pubkey: "ssh-ed25519 AAAATEST core@shield", ready: () => ready });
      const starting = await app.request("/v1/health");
      expect(starting.status).toBe(503);
      expect(starting.headers.get("retry-after")).toBe("1");
      expect(await starting.json()).toEqual({ error: "shield is starting", ready: false, version: pkg.version });
      ready = true;
      const up = await app.request("/v1/health");
      expect(up.status).toBe(200);
      expect(await up.json()).toEqual({ ok: "shield is up", ready: true, version: pkg.version });
    });
    test("credentials, even wrong ones, do not matter", async () => {
      await call(api, "GET", "/v1/health", 200, { as: { basic: "admin:wrong" } });
      await call(api, "GET", "/v1/health", 200, { as: "viewer" });
    });
  });

  describe("GET /v1/meta/pubkey", () => {
    test("answers the daemon's public key as SSH text, without credentials", async () => {
      const res = await call(api, "GET", "/v1/meta/pubkey", 200, { as: "anonymous" });
      expect(res.text).toBe("ssh-ed25519 AAAATEST core@shield\n");
      await call(api, "GET", "/v1/meta/pubkey", 200, { as: { token: "bogus" } });
    });
    test("is served as text/plain", async () => {
      // In-process, Bun leaves a plain-text Response's content type to the server: ask over HTTP.
      const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: api.app.fetch });
      try {
        const res = await fetch(`http://127.0.0.1:${server.port}/v1/meta/pubkey`);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toContain("text/plain");
        expect(await res.text()).toBe("ssh-ed25519 AAAATEST core@shield\n");
      } finally {
        await server.stop(true);
      }
    });
  });

  describe("GET /v1/openapi.json", () => {
    let doc: any;
    beforeAll(async () => {
      doc = (await call(api, "GET", "/v1/openapi.json", 200, { as: "anonymous" })).json;
    });

    /** method + path of every handler Hono has, in OpenAPI's spelling ({uuid}); middleware excluded. */
    const registered = () => {
      const routes = new Set<string>();
      for (const r of api.app.routes) {
        // GET /metrics is Prometheus's text, outside /v1: not the OpenAPI document's (test/api/metrics.test.ts).
        if (r.method === "ALL" || r.path === "/metrics") continue;
        routes.add(`${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
      }
      return [...routes].sort();
    };
    /** A schema as written, its $ref (to components/schemas) followed. */
    const deref = (schema: any): any => schema?.$ref ? doc.components.schemas[schema.$ref.split("/").pop()] : schema;
    const documented = () => Object.entries(doc.paths as Record<string, object>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)).sort();

    test("is OpenAPI 3.1 with the daemon's version and both security schemes", () => {
      expect(doc.openapi).toBe("3.1.0");
      expect(doc.info.version).toBe(pkg.version);
      expect(doc.components.securitySchemes).toEqual({ basic: { type: "http", scheme: "basic" }, token: { type: "http", scheme: "bearer" } });
    });

    test("lists every registered route with its methods, and nothing else", () => {
      expect(registered().length).toBeGreaterThan(40);
      expect(documented()).toEqual(registered());
    });

    test("names every endpoint of the design", () => {
      const design = [
        "get /v1/schedules", "post /v1/schedules", "get /v1/schedule/{uuid}", "put /v1/schedule/{uuid}", "delete /v1/schedule/{uuid}",
        "get /v1/retention", "post /v1/retention", "get /v1/retention/{uuid}", "put /v1/retention/{uuid}", "delete /v1/retention/{uuid}",
        "get /v1/targets", "post /v1/targets", "get /v1/target/{uuid}", "put /v1/target/{uuid}", "delete /v1/target/{uuid}",
        "get /v1/stores", "post /v1/stores", "get /v1/store/{uuid}", "put /v1/store/{uuid}", "delete /v1/store/{uuid}",
        "get /v1/jobs", "post /v1/jobs", "get /v1/job/{uuid}", "put /v1/job/{uuid}", "delete /v1/job/{uuid}",
        "post /v1/job/{uuid}/pause", "post /v1/job/{uuid}/unpause", "post /v1/job/{uuid}/run",
        "get /v1/archives", "get /v1/archive/{uuid}", "put /v1/archive/{uuid}", "delete /v1/archive/{uuid}", "post /v1/archive/{uuid}/restore",
        "get /v1/tasks", "get /v1/task/{uuid}", "delete /v1/task/{uuid}",
        "get /v1/meta/pubkey",
      ];
      const have = new Set(documented());
      expect(design.filter((r) => !have.has(r))).toEqual([]);
    });

    test("every operation: a summary, a tag, a 200 answer; authenticated ones document 401 and 403 and their role", () => {
      const publicRoutes = ["get /v1/health", "get /v1/meta/pubkey", "get /v1/openapi.json", "get /v1/auth/sso", "post /v1/auth/sso/{name}/start",
        "post /v1/auth/sso/{name}/finish", "post /v1/auth/sso/{name}/device", "post /v1/auth/sso/{name}/device/poll"];
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
        for (const [method, op] of Object.entries(ops)) {
          const name = `${method} ${path}`;
          expect(typeof op.summary).toBe("string");
          expect(op.tags).toHaveLength(1);
          expect(op.responses["200"]).toBeDefined();
          if (publicRoutes.includes(name)) {
            expect(op.security).toEqual([]);
          } else {
            expect(["read", "operate", "admin"]).toContain(op["x-shield-role"]);
            expect(op.responses["401"]).toBeDefined();
            expect(op.responses["403"]).toBeDefined();
          }
          if (path.includes("{uuid}")) {
            expect(op.parameters.find((p: any) => p.name === "uuid")).toMatchObject({ in: "path", required: true });
            expect(op.responses["400"]).toBeDefined();
            expect(op.responses["404"]).toBeDefined();
          }
          for (const code of Object.keys(op.responses).filter((c) => c !== "200")) {
            expect(deref(op.responses[code].content["application/json"].schema).properties.error).toEqual({ type: "string" });
          }
        }
      }
      expect(publicRoutes.every((r) => documented().includes(r))).toBe(true);
    });

    test("request bodies and query parameters are documented as the API validates them", () => {
      const createSchedule = doc.paths["/v1/schedules"].post.requestBody;
      expect(createSchedule.required).toBe(true);
      const schema = deref(createSchedule.content["application/json"].schema);
      expect(Object.keys(schema.properties).sort()).toEqual(["name", "summary", "when"]);
      expect(schema.required.sort()).toEqual(["name", "when"]);
      expect(schema.additionalProperties).toBe(false);
      const updateSchedule = deref(doc.paths["/v1/schedule/{uuid}"].put.requestBody.content["application/json"].schema);
      expect(updateSchedule.required.sort()).toEqual(["name", "summary", "when"]);
      expect(Object.keys(deref(doc.paths["/v1/jobs"].post.requestBody.content["application/json"].schema).properties)).toContain("paused");
      expect(Object.keys(deref(doc.paths["/v1/job/{uuid}"].put.requestBody.content["application/json"].schema).properties)).not.toContain("paused");
      // Run and restore may be sent without a body.
      expect(doc.paths["/v1/job/{uuid}/run"].post.requestBody.required).toBe(false);
      expect(doc.paths["/v1/archive/{uuid}/restore"].post.requestBody.required).toBe(false);
      const params = (path: string) => doc.paths[path].get.parameters.map((p: any) => `${p.in}:${p.name}`).sort();
      expect(params("/v1/targets")).toEqual(["query:limit", "query:offset", "query:plugin", "query:unused"]);
      expect(params("/v1/jobs")).toEqual(["query:limit", "query:offset", "query:paused", "query:retention", "query:schedule", "query:store", "query:target", "query:window"]);
      for (const list of ["/v1/schedules", "/v1/retention", "/v1/stores"]) expect(params(list)).toContain("query:limit");
      // Any GET may answer 400: an unknown query parameter is refused on every one.
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
        if (ops.get) expect([path, ops.get.responses["400"]?.description]).toEqual([path, expect.stringContaining("Invalid input")]);
      }
      expect(params("/v1/archives")).toEqual([
        "query:after", "query:before", "query:job", "query:limit", "query:max_size", "query:min_size", "query:offset", "query:order", "query:q",
        "query:sort", "query:status", "query:store", "query:target",
      ]);
      // The endpoint is a JSON object or a string holding one.
      const endpoint = deref(doc.paths["/v1/targets"].post.requestBody.content["application/json"].schema).properties.endpoint;
      expect(endpoint.anyOf.map((s: any) => s.type).sort()).toEqual(["object", "string"]);
    });

    test("the document is the same on every request", async () => {
      expect((await call(api, "GET", "/v1/openapi.json", 200, { as: "viewer" })).json).toEqual(doc);
    });
  });
});
