// The OpenAPI document as a reader and a client generator use it: every operation
// named once, each shape written once under components/schemas, a server to call,
// and an example body that the API really accepts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApi, type TestApi } from "../helpers/app.ts";
import { call } from "./fixtures.ts";

type Ops = Record<string, Record<string, any>>;

/** Every object schema written out in place (not a $ref), with where it sits. */
function inlineObjects(node: unknown, where: string, out: { where: string; text: string }[]): void {
  if (!node || typeof node !== "object") return;
  if (Array.isArray(node)) {
    node.forEach((n, i) => inlineObjects(n, `${where}[${i}]`, out));
    return;
  }
  const o = node as Record<string, unknown>;
  if (o.type === "object" && o.properties && Object.keys(o.properties).length >= 2) out.push({ where, text: JSON.stringify(o) });
  for (const [k, v] of Object.entries(o)) if (k !== "example" && k !== "examples") inlineObjects(v, `${where}.${k}`, out);
}

describe("GET /v1/openapi.json for readers and generated clients", () => {
  let api: TestApi;
  let doc: any;
  beforeAll(async () => {
    api = await testApi();
    doc = (await call(api, "GET", "/v1/openapi.json", 200, { as: "anonymous" })).json;
  });
  afterAll(() => api.cleanup());

  const operations = () => Object.entries(doc.paths as Ops).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ name: `${method} ${path}`, op })));

  test("every operation has an operationId, unique, in camelCase", () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.length).toBeGreaterThan(50);
    for (const id of ids) expect(id).toMatch(/^[a-z][A-Za-z0-9]+$/);
    const seen = new Map<string, number>();
    for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
    expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
    expect(doc.paths["/v1/jobs"].get.operationId).toBe("listJobs");
    expect(doc.paths["/v1/archive/{uuid}/restore"].post.operationId).toBe("restoreArchive");
    expect(doc.paths["/v1/retention"].get.operationId).toBe("listRetentionPolicies");
  });

  test("summaries of lists say their plural right", () => {
    expect(doc.paths["/v1/retention"].get.summary).toBe("List retention policies, by name");
    expect(doc.paths["/v1/schedules"].get.summary).toBe("List schedules, by name");
    for (const { name, op } of operations()) expect([name, /[^aeiou ]ys\b/.test(op.summary)]).toEqual([name, false]);
  });

  test("names the server it describes", () => {
    expect(doc.servers).toEqual([{ url: "/", description: expect.any(String) }]);
  });

  test("shapes are named components, referred to, not copied into each route", () => {
    const schemas = doc.components.schemas as Record<string, any>;
    for (const name of ["Job", "JobCreate", "Task", "Archive", "Target", "Store", "ErrorBody", "Created"]) expect(Object.keys(schemas)).toContain(name);
    expect(doc.paths["/v1/jobs"].post.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/JobCreate" });
    expect(doc.paths["/v1/task/{uuid}"].get.responses["200"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Task" });
    expect(doc.paths["/v1/tasks"].get.responses["200"].content["application/json"].schema).toEqual({ type: "array", items: { $ref: "#/components/schemas/Task" } });
    // Every reference resolves.
    const refs = JSON.stringify(doc).match(/"#\/components\/schemas\/[^"]+"/g) ?? [];
    for (const ref of new Set(refs)) expect(schemas[JSON.parse(ref).slice("#/components/schemas/".length)]).toBeDefined();
    // No object shape of two or more fields is written out in place twice.
    const found: { where: string; text: string }[] = [];
    inlineObjects(doc, "", found);
    const byText = new Map<string, string[]>();
    for (const f of found) byText.set(f.text, [...(byText.get(f.text) ?? []), f.where]);
    expect([...byText.values()].filter((w) => w.length > 1)).toEqual([]);
    // The document got smaller for it: no more than a few hundred KB.
    expect(JSON.stringify(doc).length).toBeLessThan(400_000);
  });

  test("every request body has an example, and the API accepts its shape", () => {
    const bodies = operations().filter(({ op }) => op.requestBody);
    expect(bodies.length).toBeGreaterThan(20);
    for (const { name, op } of bodies) {
      expect([name, op.requestBody.content["application/json"].example !== undefined]).toEqual([name, true]);
    }
  });

  test("a documented example works as sent: creating a schedule from it", async () => {
    const example = doc.paths["/v1/schedules"].post.requestBody.content["application/json"].example;
    const res = await call(api, "POST", "/v1/schedules", 200, { body: example });
    expect(res.json.ok).toBe("created");
  });
});
