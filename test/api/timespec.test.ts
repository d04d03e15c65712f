// GET /v1/timespec (the preview the web UI and CLI show while a schedule is typed),
// and the `canonical` and `next_run` a schedule's JSON carries beside `when`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApi, type TestApi } from "../helpers/app.ts";
import { parseTimespec } from "../../src/scheduler/timespec.ts";
import { daemonZone } from "../../src/scheduler/zone.ts";
import { TIME_RE, at, call, expectAuthRequired, expectInvalid } from "./fixtures.ts";

const preview = (when: string, extra = "") => `/v1/timespec?when=${encodeURIComponent(when)}${extra}`;
const seconds = (t: string) => at(t);

describe("GET /v1/timespec", () => {
  let api: TestApi;
  beforeAll(async () => { api = await testApi(); });
  afterAll(() => api.cleanup());

  test("the canonical form, the zone, and five next runs in UTC, strictly after now", async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await call(api, "GET", preview("daily at 4am in Europe/Berlin"), 200);
    expect(Object.keys(res.json).sort()).toEqual(["canonical", "next", "when", "zone"]);
    expect(res.json.when).toBe("daily at 4am in Europe/Berlin");
    expect(res.json.canonical).toBe("daily at 04:00 in Europe/Berlin");
    expect(res.json.zone).toBe("Europe/Berlin");
    expect(res.json.next).toHaveLength(5);
    for (const t of res.json.next) expect(t).toMatch(TIME_RE);
    const times = res.json.next.map(seconds);
    expect(times[0]).toBeGreaterThan(before);
    // Daily: a day apart, give or take a DST change.
    for (let i = 1; i < times.length; i++) expect([82800, 86400, 90000]).toContain(times[i] - times[i - 1]);
    // The same runs the parser gives (now moved on by a little; the first run is at most a day away).
    const expected = parseTimespec("daily at 4am in Europe/Berlin").nextRuns(new Date(before * 1000), 5).map((d) => d.getTime() / 1000);
    expect(times).toEqual(expected);
  });

  test("without a zone: the daemon's zone", async () => {
    const res = await call(api, "GET", preview("every 30 minutes"), 200);
    expect(res.json.zone).toBe(daemonZone());
    expect(res.json.canonical).toBe("every 30 minutes");
    const times = res.json.next.map(seconds);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(1800);
  });

  test("count: default 5, up to 50; cron expressions too", async () => {
    expect((await call(api, "GET", preview("*/5 * * * *", "&count=50"), 200)).json.next).toHaveLength(50);
    expect((await call(api, "GET", preview("*/5 * * * *", "&count=1"), 200)).json.next).toHaveLength(1);
    for (const bad of ["0", "51", "-1", "five", "2.5", ""]) {
      await expectInvalid(api, "GET", preview("daily at 4am", `&count=${bad}`), undefined, "count", "from 1 to 50");
    }
  });

  test("a '+' in the query string is a space, as forms send it", async () => {
    expect((await call(api, "GET", "/v1/timespec?when=sundays+8am", 200)).json.canonical).toBe("sundays at 08:00");
  });

  test("an expression that does not parse: 400 with the parser's words in fields.when", async () => {
    const cases: [string, string][] = [
      ["daily at 25:00", "\"25:00\" is not a time of day: hours run 0 to 23 (character 10)"],
      ["monthly on the 32nd", "\"32nd\" is not a day of the month"],
      ["every 0 hours", "\"every 0 hours\" is not an interval: it must be at least 1"],
      ["dialy at 4am", "did you mean \"daily\""],
      ["0 0 31 2 *", "never runs"],
    ];
    for (const [when, words] of cases) {
      const res = await expectInvalid(api, "GET", preview(when), undefined, "when", words);
      expect(res.json.error).toBe(`when: ${res.json.fields.when}`);
    }
    await expectInvalid(api, "GET", "/v1/timespec", undefined, "when", "is required");
    await expectInvalid(api, "GET", preview(" "), undefined, "when", "must not be empty");
    await expectInvalid(api, "GET", preview("x".repeat(201)), undefined, "when", "at most 200");
  });

  test("any signed-in user may preview; anonymous may not", async () => {
    for (const as of ["viewer", "operator", "admin"] as const) await call(api, "GET", preview("hourly at :15"), 200, { as });
    await expectAuthRequired(api, "GET", preview("hourly at :15"));
  });

  test("it is in /v1/openapi.json, with its query and answer", async () => {
    const doc = (await call(api, "GET", "/v1/openapi.json", 200, { as: "anonymous" })).json;
    const op = doc.paths["/v1/timespec"].get;
    expect(op.parameters.map((p: any) => `${p.name}:${p.required}`).sort()).toEqual(["count:false", "when:true"]);
    const deref = (schema: any): any => schema?.$ref ? doc.components.schemas[schema.$ref.split("/").pop()] : schema;
    expect(Object.keys(deref(op.responses["200"].content["application/json"].schema).properties).sort()).toEqual(["canonical", "next", "when", "zone"]);
    expect(op.responses["400"]).toBeDefined();
    const schedule = deref(doc.paths["/v1/schedule/{uuid}"].get.responses["200"].content["application/json"].schema);
    expect(Object.keys(schedule.properties)).toEqual(expect.arrayContaining(["when", "canonical", "next_run"]));
  });
});

describe("schedule JSON: when as written, canonical, next_run", () => {
  let api: TestApi;
  beforeAll(async () => { api = await testApi(); });
  afterAll(() => api.cleanup());

  test("create, show and list carry the canonical form and the next run", async () => {
    const before = Math.floor(Date.now() / 1000);
    const uuid = (await call(api, "POST", "/v1/schedules", 200, { body: { name: "nightly", when: "Every Day at 4AM" } })).json.uuid;
    const shown = (await call(api, "GET", `/v1/schedule/${uuid}`, 200)).json;
    expect(shown.when).toBe("Every Day at 4AM");
    expect(shown.canonical).toBe("daily at 04:00");
    expect(shown.next_run).toMatch(TIME_RE);
    const next = seconds(shown.next_run);
    expect(next).toBeGreaterThan(before);
    expect(next - before).toBeLessThanOrEqual(86400 + 3600);
    const listed = (await call(api, "GET", "/v1/schedules", 200)).json.find((s: any) => s.uuid === uuid);
    expect(listed).toEqual(shown);
  });

  test("update validates when: 400 with the parser's words, and the schedule stays as it was", async () => {
    const uuid = (await call(api, "POST", "/v1/schedules", 200, { body: { name: "weekly", when: "sundays 8am" } })).json.uuid;
    await expectInvalid(api, "PUT", `/v1/schedule/${uuid}`, { name: "weekly", summary: "", when: "sundays 8am in Nowhere/Land" }, "when", "is not a time zone");
    await expectInvalid(api, "PUT", `/v1/schedule/${uuid}`, { name: "weekly", summary: "", when: "sundays at 13pm" }, "when", "with am or pm the hour runs 1 to 12");
    const shown = (await call(api, "GET", `/v1/schedule/${uuid}`, 200)).json;
    expect(shown.when).toBe("sundays 8am");
    await call(api, "PUT", `/v1/schedule/${uuid}`, 200, { body: { name: "weekly", summary: "", when: "last friday of the month at 6pm in America/New_York" } });
    const updated = (await call(api, "GET", `/v1/schedule/${uuid}`, 200)).json;
    expect(updated.canonical).toBe("last friday of the month at 18:00 in America/New_York");
    // A Friday, at 18:00 in New York: 22:00 or 23:00 UTC.
    const d = new Date(seconds(updated.next_run) * 1000);
    expect(d.getUTCDay()).toBe(5);
    expect([22, 23]).toContain(d.getUTCHours());
  });

  test("a refused schedule is not created", async () => {
    await expectInvalid(api, "POST", "/v1/schedules", { name: "broken", when: "daily at 4" }, "when", "needs am or pm");
    const names = (await call(api, "GET", "/v1/schedules", 200)).json.map((s: any) => s.name);
    expect(names).not.toContain("broken");
  });

  test("a row saved before validation that no longer parses still shows, with canonical and next_run null", async () => {
    const uuid = crypto.randomUUID();
    await api.catalog.schedules.create(uuid, { name: "legacy", summary: "", timespec: "whenever" }, Math.floor(Date.now() / 1000));
    const shown = (await call(api, "GET", `/v1/schedule/${uuid}`, 200)).json;
    expect(shown).toMatchObject({ when: "whenever", canonical: null, next_run: null });
  });
});
