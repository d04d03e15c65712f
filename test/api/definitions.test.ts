// /v1 contract of schedules, retention policies, targets and stores: the same five
// endpoints each (list with filters, create, show, update, delete), so one suite
// runs over all four with each kind's fields and rules.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { builtinNames } from "../../plugins/index.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { testApi, type TestApi } from "../helpers/app.ts";
import { parseTimespec } from "../../src/scheduler/timespec.ts";
import {
  NOBODY, TIME_RE, UUID_RE, call, expectAuthRequired, expectForbidden, expectInvalid, insertArchive, makeDefinitions, makeJob,
  type Definitions,
} from "./fixtures.ts";

type Body = Record<string, unknown>;

const MAIN = resolve(import.meta.dir, "../../src/main.ts");

interface Kind {
  /** As the API's words say it: "retention policy". */
  kind: string;
  collection: string;
  item: string;
  /** The job field that refers to this kind. */
  jobField: keyof Definitions;
  /** A full create body (summary included) for a fresh name. */
  body(name: string): Body;
  /** The JSON the API shows for a row created from `body`. */
  json(uuid: string, body: Body): Body;
  /** A different, full update body. */
  changed(name: string): Body;
  /** [what, bad body from a good one, field, words the field's message contains] */
  invalid: [string, (b: Body) => Body, string, string][];
  /** Bodies that must be accepted besides the plain one, and what the JSON then shows. */
  accepted: [string, (b: Body) => Body, (b: Body) => Body][];
  plugin: boolean;
  /** Kinds whose deletion is refused while archives in them are not purged. */
  holdsArchives: boolean;
}

const without = (b: Body, key: string): Body => Object.fromEntries(Object.entries(b).filter(([k]) => k !== key));

// Checks every kind shares: name and summary.
const common: Kind["invalid"] = [
  ["name missing", (b) => without(b, "name"), "name", "is required"],
  ["name empty", (b) => ({ ...b, name: "" }), "name", "must not be empty"],
  ["name only spaces", (b) => ({ ...b, name: "   " }), "name", "must not be empty"],
  ["name not a string", (b) => ({ ...b, name: 42 }), "name", "must be a string"],
  ["name null", (b) => ({ ...b, name: null }), "name", "must be a string"],
  ["name too long", (b) => ({ ...b, name: "n".repeat(201) }), "name", "at most 200"],
  // PostgreSQL cannot store NUL: refused in every dialect alike, not a 500 on one of them.
  ["name holding NUL", (b) => ({ ...b, name: "a\u0000b" }), "name", "NUL"],
  ["summary holding NUL", (b) => ({ ...b, summary: "a\u0000b" }), "summary", "NUL"],
  ["summary not a string", (b) => ({ ...b, summary: ["x"] }), "summary", "must be a string"],
  ["summary too long", (b) => ({ ...b, summary: "s".repeat(2001) }), "summary", "at most 2000"],
  ["unknown field", (b) => ({ ...b, color: "red" }), "color", "is not a field of this request"],
  ["uuid is not settable", (b) => ({ ...b, uuid: NOBODY }), "uuid", "is not a field of this request"],
];

const endpointChecks: Kind["invalid"] = [
  ["plugin missing", (b) => without(b, "plugin"), "plugin", "is required"],
  ["plugin empty", (b) => ({ ...b, plugin: "" }), "plugin", "must be a plugin name"],
  ["plugin with a slash", (b) => ({ ...b, plugin: "../bin/sh" }), "plugin", "must be a plugin name"],
  ["plugin with a space", (b) => ({ ...b, plugin: "my plugin" }), "plugin", "must be a plugin name"],
  ["endpoint missing", (b) => without(b, "endpoint"), "endpoint", "is required"],
  ["endpoint not JSON", (b) => ({ ...b, endpoint: "host=db1" }), "endpoint", "JSON object"],
  ["endpoint a JSON array", (b) => ({ ...b, endpoint: "[1,2]" }), "endpoint", "JSON object"],
  ["endpoint JSON null", (b) => ({ ...b, endpoint: "null" }), "endpoint", "JSON object"],
  ["endpoint a number", (b) => ({ ...b, endpoint: 42 }), "endpoint", "JSON object"],
  ["endpoint an array", (b) => ({ ...b, endpoint: [1] }), "endpoint", "JSON object"],
  // Plugins take endpoint strings as C strings in the end: a NUL would cut a path short.
  ["endpoint value holding NUL", (b) => ({ ...b, endpoint: { base_dir: "/srv/a\u0000/../etc" } }), "endpoint", '"base_dir" must not contain NUL'],
  ["endpoint text holding an escaped NUL", (b) => ({ ...b, endpoint: '{"base_dir":"/srv\\u0000"}' }), "endpoint", '"base_dir" must not contain NUL'],
  ["endpoint nested value holding NUL", (b) => ({ ...b, endpoint: { include: ["ok", "a\u0000"] } }), "endpoint", '"include.1" must not contain NUL'],
  ["endpoint key holding NUL", (b) => ({ ...b, endpoint: { "a\u0000b": "x" } }), "endpoint", "must not contain NUL"],
];
const endpointAccepted: Kind["accepted"] = [
  // The design sends the endpoint as a JSON-encoded string; an object is accepted and stored as its JSON text.
  ["endpoint as an object", (b) => ({ ...b, endpoint: { host: "db9", port: 5432 } }), (b) => ({ ...b, endpoint: '{"host":"db9","port":5432}' })],
  ["plugin with dots, dashes, underscores", (b) => ({ ...b, plugin: "my-plugin_2.x" }), (b) => b],
];

const kinds: Kind[] = [
  {
    kind: "schedule", collection: "/v1/schedules", item: "/v1/schedule", jobField: "schedule",
    body: (name) => ({ name, summary: "a short description", when: "daily at 4am" }),
    // `when` as written, beside its canonical form and next run (test/api/timespec.test.ts checks those closely).
    json: (uuid, b) => ({
      uuid, name: b.name, summary: b.summary ?? "", when: b.when,
      canonical: parseTimespec(b.when as string).canonical, next_run: expect.stringMatching(TIME_RE),
    }),
    changed: (name) => ({ name, summary: "changed", when: "sundays 8am" }),
    invalid: [
      ...common,
      ["when missing", (b) => without(b, "when"), "when", "is required"],
      ["when empty", (b) => ({ ...b, when: " " }), "when", "must not be empty"],
      ["when not a string", (b) => ({ ...b, when: 4 }), "when", "must be a string"],
      ["when too long", (b) => ({ ...b, when: "x".repeat(201) }), "when", "at most 200"],
      ["when holding NUL", (b) => ({ ...b, when: "daily\u0000" }), "when", "NUL"],
      // The timespec parser's own words.
      ["when not a time of day", (b) => ({ ...b, when: "daily at 25:00" }), "when", "\"25:00\" is not a time of day: hours run 0 to 23 (character 10)"],
      ["when a misspelled word", (b) => ({ ...b, when: "dialy at 4am" }), "when", "did you mean \"daily\""],
      ["when an interval of zero", (b) => ({ ...b, when: "every 0 hours" }), "when", "at least 1"],
      ["when a bad cron field", (b) => ({ ...b, when: "61 * * * *" }), "when", "cron minute field \"61\""],
      ["when an unknown zone", (b) => ({ ...b, when: "daily at 4am in Mars/Olympus" }), "when", "is not a time zone"],
    ],
    accepted: [
      ["a cron expression", (b) => ({ ...b, when: "15 4 * * *" }), (b) => b],
      ["a zone", (b) => ({ ...b, when: "daily at 4am in Europe/Berlin" }), (b) => b],
      ["any spelling, kept as written", (b) => ({ ...b, when: "Weekly at 5:35PM on Tues" }), (b) => b],
    ],
    plugin: false, holdsArchives: false,
  },
  {
    kind: "retention policy", collection: "/v1/retention", item: "/v1/retention", jobField: "retention",
    body: (name) => ({ name, summary: "a short description", expires: 86400 }),
    json: (uuid, b) => ({
      uuid, name: b.name, summary: b.summary ?? "", expires: b.expires,
      keep_last: 0, keep_hourly: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0, keep_yearly: 0, keep_within: 0,
    }),
    changed: (name) => ({ name, summary: "changed", expires: 8640000 }),
    invalid: [
      ...common,
      ["expires missing", (b) => without(b, "expires"), "expires", "is required"],
      ["expires under an hour", (b) => ({ ...b, expires: 3599 }), "expires", "at least 3600"],
      ["expires zero", (b) => ({ ...b, expires: 0 }), "expires", "at least 3600"],
      ["expires negative", (b) => ({ ...b, expires: -86400 }), "expires", "at least 3600"],
      ["expires fractional", (b) => ({ ...b, expires: 3600.5 }), "expires", "whole number"],
      ["expires as a string", (b) => ({ ...b, expires: "86400" }), "expires", "must be a number"],
      ["expires absurdly long", (b) => ({ ...b, expires: 1e12 }), "expires", "at most"],
      ["expires past 100 years", (b) => ({ ...b, expires: 100 * 365 * 86400 + 1 }), "expires", "at most 100 years"],
      ["expires null", (b) => ({ ...b, expires: null }), "expires", "must be a number"],
    ],
    accepted: [
      ["expires of exactly an hour", (b) => ({ ...b, expires: 3600 }), (b) => b],
      // Past 2^31 - 1 seconds: PostgreSQL's expiry column must be 64-bit.
      ["expires of 100 years", (b) => ({ ...b, expires: 100 * 365 * 86400 }), (b) => b],
    ],
    plugin: false, holdsArchives: false,
  },
  {
    kind: "target", collection: "/v1/targets", item: "/v1/target", jobField: "target",
    body: (name) => ({ name, summary: "a short description", plugin: "postgres", endpoint: '{"host":"db1"}', agent: "10.17.66.54:5544" }),
    json: (uuid, b) => ({ uuid, name: b.name, summary: b.summary ?? "", plugin: b.plugin, endpoint: b.endpoint, agent: b.agent, bandwidth: b.bandwidth ?? 0, last_test: null }),
    changed: (name) => ({ name, summary: "changed", plugin: "mysql", endpoint: '{"host":"db2"}', agent: "agent.example.com:5444" }),
    invalid: [
      ...common, ...endpointChecks,
      // The design makes agent required; empty means "no agent, the core runs the plugin".
      ["agent missing", (b) => without(b, "agent"), "agent", "is required"],
      ["agent without a port", (b) => ({ ...b, agent: "10.17.66.54" }), "agent", "host:port"],
      ["agent with a path", (b) => ({ ...b, agent: "http://x:1/" }), "agent", "host:port"],
      ["agent not a string", (b) => ({ ...b, agent: 5544 }), "agent", "must be a string"],
      ["agent port past 65535", (b) => ({ ...b, agent: "host:99999" }), "agent", "port from 1 to 65535"],
      ["agent port 0", (b) => ({ ...b, agent: "[::1]:0" }), "agent", "port from 1 to 65535"],
    ],
    accepted: [
      ...endpointAccepted,
      ["agent empty", (b) => ({ ...b, agent: "" }), (b) => b],
      ["agent on IPv6", (b) => ({ ...b, agent: "[::1]:5544" }), (b) => b],
    ],
    plugin: true, holdsArchives: true,
  },
  {
    kind: "store", collection: "/v1/stores", item: "/v1/store", jobField: "store",
    body: (name) => ({ name, summary: "a short description", plugin: "s3", endpoint: '{"bucket":"b1"}' }),
    json: (uuid, b) => ({ uuid, name: b.name, summary: b.summary ?? "", plugin: b.plugin, endpoint: b.endpoint, max_tasks: b.max_tasks ?? 0, bandwidth: b.bandwidth ?? 0, last_test: null }),
    changed: (name) => ({ name, summary: "changed", plugin: "fs", endpoint: '{"path":"/srv"}' }),
    invalid: [
      ...common, ...endpointChecks,
      ["agent is a target's field", (b) => ({ ...b, agent: "10.0.0.1:1" }), "agent", "is not a field of this request"],
    ],
    accepted: endpointAccepted,
    plugin: true, holdsArchives: true,
  },
];

for (const k of kinds) {
  describe(`${k.collection} and ${k.item}/:uuid`, () => {
    let api: TestApi;
    let n = 0;
    const fresh = () => `${k.kind} ${++n}`;
    const create = async (body: Body, as: "admin" | "operator" = "admin") =>
      (await call(api, "POST", k.collection, 200, { body, as })).json.uuid as string;
    const one = (uuid: string) => `${k.item}/${uuid}`;

    beforeAll(async () => { api = await testApi(); });
    afterAll(() => api.cleanup());

    describe("create", () => {
      test("answers ok created with the new uuid, and show returns exactly what was sent", async () => {
        const body = k.body(fresh());
        const res = await call(api, "POST", k.collection, 200, { body });
        expect(Object.keys(res.json).sort()).toEqual(["ok", "uuid"]);
        expect(res.json.ok).toBe("created");
        expect(res.json.uuid).toMatch(UUID_RE);
        expect((await call(api, "GET", one(res.json.uuid), 200)).json).toEqual(k.json(res.json.uuid, body));
      });

      test("summary is optional on create, and shows as empty", async () => {
        const body = without(k.body(fresh()), "summary");
        const uuid = await create(body);
        expect((await call(api, "GET", one(uuid), 200)).json).toEqual(k.json(uuid, { ...body, summary: "" }));
      });

      test("names are trimmed", async () => {
        const name = fresh();
        const uuid = await create(k.body(`  ${name}\t`));
        expect((await call(api, "GET", one(uuid), 200)).json.name).toBe(name);
      });

      for (const [what, change, expected] of k.accepted) {
        test(`accepts ${what}`, async () => {
          const body = change(k.body(fresh()));
          const uuid = await create(body);
          expect((await call(api, "GET", one(uuid), 200)).json).toEqual(k.json(uuid, expected(body)));
        });
      }

      for (const [what, change, field, words] of k.invalid) {
        test(`400 naming ${field}: ${what}`, async () => {
          await expectInvalid(api, "POST", k.collection, change(k.body(fresh())), field, words);
        });
      }

      test("several bad fields are all named", async () => {
        const body = { ...k.body(fresh()), name: "", summary: 7 };
        const res = await expectInvalid(api, "POST", k.collection, body, "name");
        expect(Object.keys(res.json.fields).sort()).toEqual(["name", "summary"]);
      });

      test("a bad request creates nothing", async () => {
        const before = (await call(api, "GET", k.collection, 200)).json.length;
        await call(api, "POST", k.collection, 400, { body: { ...k.body(fresh()), name: "" } });
        expect((await call(api, "GET", k.collection, 200)).json.length).toBe(before);
      });

      test("409 for a name already taken, naming it", async () => {
        const name = fresh();
        const first = await create(k.body(name));
        const res = await call(api, "POST", k.collection, 409, { body: k.body(name) });
        expect(res.json.error).toContain(`"${name}"`);
        expect(res.json.error).toContain("already exists");
        expect(res.json.error).toContain(first);
        // Trimming applies before the check.
        await call(api, "POST", k.collection, 409, { body: k.body(` ${name} `) });
      });
    });

    describe("show", () => {
      test("400 for a malformed uuid, naming it", async () => {
        for (const bad of ["not-a-uuid", "12345", "6b8398be-fdc0-424a-8532-e812e5dfc11", "6b8398be-fdc0-424a-8532-e812e5dfc116x"]) {
          await expectInvalid(api, "GET", one(bad), undefined, "uuid", "must be a UUID");
        }
      });
      test("404 for an unknown uuid, naming the kind", async () => {
        const res = await call(api, "GET", one(NOBODY), 404);
        expect(res.json.error).toBe(`no ${k.kind} with uuid ${NOBODY}`);
      });
      test("a uuid in capitals names the same row", async () => {
        const body = k.body(fresh());
        const uuid = await create(body);
        expect((await call(api, "GET", one(uuid.toUpperCase()), 200)).json).toEqual(k.json(uuid, body));
      });
    });

    describe("update", () => {
      test("answers ok updated, and show returns the new values", async () => {
        const uuid = await create(k.body(fresh()));
        const changed = k.changed(fresh());
        const res = await call(api, "PUT", one(uuid), 200, { body: changed });
        expect(res.json).toEqual({ ok: "updated" });
        expect((await call(api, "GET", one(uuid), 200)).json).toEqual(k.json(uuid, changed));
      });

      test("keeping the same name is not a conflict", async () => {
        const name = fresh();
        const uuid = await create(k.body(name));
        await call(api, "PUT", one(uuid), 200, { body: k.changed(name) });
      });

      test("summary is required on update", async () => {
        const uuid = await create(k.body(fresh()));
        await expectInvalid(api, "PUT", one(uuid), without(k.changed(fresh()), "summary"), "summary", "is required");
      });

      test("an empty summary is accepted on update", async () => {
        const uuid = await create(k.body(fresh()));
        const changed = { ...k.changed(fresh()), summary: "" };
        await call(api, "PUT", one(uuid), 200, { body: changed });
        expect((await call(api, "GET", one(uuid), 200)).json.summary).toBe("");
      });

      for (const [what, change, field, words] of k.invalid) {
        test(`400 naming ${field}: ${what}`, async () => {
          const uuid = await create(k.body(fresh()));
          const before = (await call(api, "GET", one(uuid), 200)).json;
          await expectInvalid(api, "PUT", one(uuid), change(k.changed(fresh())), field, words);
          expect((await call(api, "GET", one(uuid), 200)).json).toEqual(before);
        });
      }

      test("409 for taking another's name", async () => {
        const taken = fresh();
        await create(k.body(taken));
        const uuid = await create(k.body(fresh()));
        const res = await call(api, "PUT", one(uuid), 409, { body: k.changed(taken) });
        expect(res.json.error).toContain(`"${taken}"`);
      });

      test("400 for a malformed uuid, 404 for an unknown one", async () => {
        await expectInvalid(api, "PUT", one("nope"), k.changed(fresh()), "uuid", "must be a UUID");
        const res = await call(api, "PUT", one(NOBODY), 404, { body: k.changed(fresh()) });
        expect(res.json.error).toBe(`no ${k.kind} with uuid ${NOBODY}`);
      });

      test("400 for an empty body", async () => {
        const uuid = await create(k.body(fresh()));
        await call(api, "PUT", one(uuid), 400, { body: "" });
      });
    });

    describe("delete", () => {
      test("answers ok deleted; the row is gone after", async () => {
        const uuid = await create(k.body(fresh()));
        expect((await call(api, "DELETE", one(uuid), 200)).json).toEqual({ ok: "deleted" });
        await call(api, "GET", one(uuid), 404);
        await call(api, "DELETE", one(uuid), 404);
        expect((await call(api, "GET", k.collection, 200)).json.map((r: Body) => r.uuid)).not.toContain(uuid);
      });

      test("400 for a malformed uuid, 404 for an unknown one", async () => {
        await expectInvalid(api, "DELETE", one("nope"), undefined, "uuid", "must be a UUID");
        const res = await call(api, "DELETE", one(NOBODY), 404);
        expect(res.json.error).toBe(`no ${k.kind} with uuid ${NOBODY}`);
      });

      test("409 while a job uses it, naming the job; allowed once the job is gone", async () => {
        const d = await makeDefinitions(api);
        const job = await makeJob(api, d, `${k.kind} user job`);
        const res = await call(api, "DELETE", one(d[k.jobField]), 409);
        expect(res.json.error).toContain(`job "${k.kind} user job"`);
        expect(res.json.error).toContain(d[k.jobField]);
        await call(api, "GET", one(d[k.jobField]), 200);
        await call(api, "DELETE", `/v1/job/${job}`, 200);
        await call(api, "DELETE", one(d[k.jobField]), 200);
      });

      test("409 naming every job that uses it", async () => {
        const d = await makeDefinitions(api);
        await makeJob(api, d, `${k.kind} job B`);
        await makeJob(api, d, `${k.kind} job A`);
        const res = await call(api, "DELETE", one(d[k.jobField]), 409);
        expect(res.json.error).toContain(`jobs "${k.kind} job A", "${k.kind} job B"`);
      });

      if (k.holdsArchives) {
        test("409 while archives in it are not purged; allowed once they are", async () => {
          const uuid = await create(k.body(fresh()));
          const other = crypto.randomUUID();
          const field = k.jobField === "store" ? "storeUuid" : "targetUuid";
          const counterpart = k.jobField === "store" ? "targetUuid" : "storeUuid";
          for (const status of ["valid", "expired", "purge_failed"] as const) {
            await insertArchive(api, { targetUuid: other, storeUuid: other, [field]: uuid, [counterpart]: other, status });
          }
          await insertArchive(api, { targetUuid: other, storeUuid: other, [field]: uuid, status: "purged" });
          const res = await call(api, "DELETE", one(uuid), 409);
          expect(res.json.error).toContain("3 archives");
          expect(res.json.error).toContain("purged");
          await call(api, "GET", one(uuid), 200);

          const clean = await create(k.body(fresh()));
          await insertArchive(api, { targetUuid: other, storeUuid: other, [field]: clean, status: "purged" });
          await call(api, "DELETE", one(clean), 200);
        });
      }
    });

    describe("list", () => {
      let lapi: TestApi;
      let used: string;
      let unused: string[];
      beforeAll(async () => {
        lapi = await testApi();
        const d = await makeDefinitions(lapi, "m");
        await makeJob(lapi, d, "the job");
        used = d[k.jobField];
        const mk = async (b: Body) => (await call(lapi, "POST", k.collection, 200, { body: b })).json.uuid as string;
        unused = [await mk(k.body("b unused")), await mk(k.body("a unused"))];
      });
      afterAll(() => lapi.cleanup());

      test("lists every row, by name, in the shape of show", async () => {
        const res = await call(lapi, "GET", k.collection, 200);
        expect(res.json.map((r: Body) => r.name)).toEqual(["a unused", "b unused", `m ${k.jobField === "retention" ? "policy" : k.jobField}`]);
        for (const row of res.json) expect(row).toEqual((await call(lapi, "GET", one(row.uuid), 200)).json);
      });

      test("unused=t lists only what no job uses; unused=f only what a job uses", async () => {
        for (const t of ["t", "true"]) {
          const res = await call(lapi, "GET", `${k.collection}?unused=${t}`, 200);
          expect(res.json.map((r: Body) => r.uuid).sort()).toEqual([...unused].sort());
        }
        for (const f of ["f", "false"]) {
          const res = await call(lapi, "GET", `${k.collection}?unused=${f}`, 200);
          expect(res.json.map((r: Body) => r.uuid)).toEqual([used]);
        }
      });

      test("400 for an unused flag that is not t or f", async () => {
        for (const bad of ["yes", "1", "", "T"]) {
          await expectInvalid(lapi, "GET", `${k.collection}?unused=${bad}`, undefined, "unused", "must be t or f");
        }
      });

      test("an unknown query parameter is a 400 naming it, not a whole list answered", async () => {
        const res = await expectInvalid(lapi, "GET", `${k.collection}?colour=blue`, undefined, "colour", "is not a parameter of this request");
        expect(res.json.error).toContain("it takes unused");
        // A near miss of a real one, and one of several.
        await expectInvalid(lapi, "GET", `${k.collection}?limt=1`, undefined, "limt");
        const two = await call(lapi, "GET", `${k.collection}?unused=t&x=1&y=2`, 400);
        expect(Object.keys(two.json.fields)).toEqual(["x", "y"]);
      });

      test("limit and offset page the list by name; without them it is whole", async () => {
        const all = (await call(lapi, "GET", k.collection, 200)).json.map((r: Body) => r.name);
        expect(all.length).toBe(3);
        const page = async (q: string) => (await call(lapi, "GET", `${k.collection}?${q}`, 200)).json.map((r: Body) => r.name);
        expect(await page("limit=2")).toEqual(all.slice(0, 2));
        expect(await page("limit=2&offset=2")).toEqual(all.slice(2));
        expect(await page("offset=1")).toEqual(all.slice(1));
        expect(await page("offset=3")).toEqual([]);
        expect(await page("limit=1&unused=t")).toEqual([all[0]]);
        for (const bad of ["limit=0", "limit=1001", "limit=x", "offset=-1", "limit=1.5"]) {
          await expectInvalid(lapi, "GET", `${k.collection}?${bad}`, undefined, bad.split("=")[0]!);
        }
      });

      if (k.plugin) {
        test("plugin= lists only that plugin's rows, and combines with unused=", async () => {
          const mk = async (b: Body) => (await call(lapi, "POST", k.collection, 200, { body: b })).json.uuid as string;
          const special = await mk({ ...k.body("z special"), plugin: "special-plugin" });
          expect((await call(lapi, "GET", `${k.collection}?plugin=special-plugin`, 200)).json.map((r: Body) => r.uuid)).toEqual([special]);
          expect((await call(lapi, "GET", `${k.collection}?plugin=special-plugin&unused=f`, 200)).json).toEqual([]);
          expect((await call(lapi, "GET", `${k.collection}?plugin=special-plugin&unused=t`, 200)).json.length).toBe(1);
          expect((await call(lapi, "GET", `${k.collection}?plugin=nothing-uses-this`, 200)).json).toEqual([]);
          await expectInvalid(lapi, "GET", `${k.collection}?plugin=${encodeURIComponent("bad plugin")}`, undefined, "plugin", "plugin name");
          await call(lapi, "DELETE", one(special), 200);
        });
      }
    });

    describe("authentication and roles", () => {
      const endpoints = (uuid: string, body: Body): [string, string, Body | undefined][] => [
        ["GET", k.collection, undefined],
        ["POST", k.collection, body],
        ["GET", one(uuid), undefined],
        ["PUT", one(uuid), body],
        ["DELETE", one(uuid), undefined],
      ];

      test("401 without credentials or with wrong ones, before any validation", async () => {
        for (const [method, path, body] of endpoints(NOBODY, k.body(fresh()))) await expectAuthRequired(api, method, path, body);
        // A malformed uuid and a bad body are not looked at either.
        await expectAuthRequired(api, "PUT", one("nope"), { bad: true });
      });

      test("a viewer may read, and nothing else; nothing changes", async () => {
        const body = k.body(fresh());
        const uuid = await create(body);
        await call(api, "GET", k.collection, 200, { as: "viewer" });
        expect((await call(api, "GET", one(uuid), 200, { as: "viewer" })).json).toEqual(k.json(uuid, body));
        await expectForbidden(api, "POST", k.collection, "viewer", k.body(fresh()));
        await expectForbidden(api, "PUT", one(uuid), "viewer", k.changed(fresh()));
        await expectForbidden(api, "DELETE", one(uuid), "viewer");
        expect((await call(api, "GET", one(uuid), 200)).json).toEqual(k.json(uuid, body));
      });

      test("an operator may create, update and delete", async () => {
        const uuid = await create(k.body(fresh()), "operator");
        await call(api, "PUT", one(uuid), 200, { body: k.changed(fresh()), as: "operator" });
        await call(api, "DELETE", one(uuid), 200, { as: "operator" });
      });
    });
  });
}

// What a plugin declares of its fields binds the endpoint's JSON types: a text field
// takes a string, a list a list of strings. Real plugins: the built-ins (run from
// source) and one written the way plugins for the original Shield declare fields.
describe("endpoint values against the plugin's declared field types", () => {
  const LEGACY_INFO = {
    name: "Legacy", author: "tests", version: "1", features: { target: "yes", store: "no" },
    fields: [
      { mode: "target", name: "db_user", type: "string", title: "User", help: "", required: true },
      { mode: "target", name: "db_port", type: "port", title: "Port", help: "" },
      { mode: "target", name: "db_password", type: "password", title: "Password", help: "" },
      { mode: "target", name: "work_dir", type: "abspath", title: "Work directory", help: "" },
    ],
  };
  let api: TestApi;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shield-test-fieldtypes-"));
    writeFileSync(join(dir, "legacy-db"), `#!/bin/sh\ncase "$1" in\n  info) echo '${JSON.stringify(LEGACY_INFO)}' ;;\n  validate) echo ok ;;\n  *) exit 2 ;;\nesac\n`);
    chmodSync(join(dir, "legacy-db"), 0o755);
    const plugins = new PluginRegistry({ dirs: [dir], self: [process.execPath, MAIN], builtins: builtinNames() });
    api = await testApi("sqlite", { plugins });
  });
  afterAll(async () => {
    await api.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  const target = (plugin: string, endpoint: object) => ({ name: `typed ${++n}`, plugin, endpoint, agent: "" });
  /** A 400 under `endpoint` whose words name the field in quotes (the web UI places it by that). */
  const refused = async (plugin: string, endpoint: object, words: string) => {
    const res = await expectInvalid(api, "POST", "/v1/targets", target(plugin, endpoint), "endpoint", words);
    expect(res.json.error).toContain(words);
    return res;
  };

  test("a non-string where the plugin declares a string: 400 naming the field and the type", async () => {
    for (const [value, what] of [[42, "a number"], [null, "null"], [true, "a boolean"], [["backup"], "a list"], [{ name: "backup" }, "an object"]] as const) {
      const res = await refused("postgres", { pg_user: value }, '"pg_user" must be a string');
      expect(res.json.fields.endpoint).toBe(`"pg_user" must be a string (plugin postgres declares it string), not ${what}`);
    }
    await refused("postgres", { pg_user: "backup", pg_database: 7 }, '"pg_database" must be a string');
    await refused("postgres", { pg_user: "backup", pg_password: 12345 }, '"pg_password" must be a string');
    await refused("postgres", { pg_user: "backup", pg_bindir: ["/usr/bin"] }, '"pg_bindir" must be a string');
    // A plugin for the original Shield reads its text fields as strings, however it is installed.
    await refused("legacy-db", { db_user: 7 }, '"db_user" must be a string (plugin legacy-db declares it string), not a number');
    await refused("legacy-db", { db_user: "u", work_dir: 1 }, '"work_dir" must be a string');
    // On update too.
    const uuid = (await call(api, "POST", "/v1/targets", 200, { body: target("legacy-db", { db_user: "u" }) })).json.uuid;
    await expectInvalid(api, "PUT", `/v1/target/${uuid}`, { ...target("legacy-db", { db_user: 1 }), summary: "" }, "endpoint", '"db_user" must be a string');
  });

  test("a list given as one string: 400 naming the field", async () => {
    await refused("files", { base_dir: "/srv/app", include: "config/*.yml" }, '"include" must be a list of strings, like ["a", "b"] (plugin files declares it list), not a string');
    await refused("files", { base_dir: "/srv/app", exclude: [1, 2] }, '"exclude" must be a list of strings');
  });

  test("ports: a whole number or a string; anything else is refused", async () => {
    await call(api, "POST", "/v1/targets", 200, { body: target("legacy-db", { db_user: "u", db_port: "5432" }) });
    await call(api, "POST", "/v1/targets", 200, { body: target("legacy-db", { db_user: "u", db_port: 5432 }) });
    await refused("legacy-db", { db_user: "u", db_port: 5432.5 }, '"db_port" must be a port number');
    await refused("legacy-db", { db_user: "u", db_port: [5432] }, '"db_port" must be a port number');
  });

  test("values of the declared types, and keys the plugin does not declare, pass to its validate", async () => {
    await call(api, "POST", "/v1/targets", 200, { body: target("legacy-db", { db_user: "u", db_password: "", work_dir: "/w", extra: 7 }) });
    await call(api, "POST", "/v1/targets", 200, { body: target("files", { base_dir: "/srv/app", include: ["config/*.yml"], exclude: [] }) });
  });
});
