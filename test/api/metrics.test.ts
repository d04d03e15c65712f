// GET /metrics: the Prometheus text format, checked by a strict parser
// (test/helpers/promtext.ts), on every catalog dialect: per job figures from the
// catalog, task durations and purge failures from the task events, a token
// unless public, bounded labels.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { createApi } from "../../src/api/index.ts";
import { nowSeconds } from "../../src/catalog/index.ts";
import type { TaskEvent } from "../../src/core/index.ts";
import { testApi, type TestApi } from "../helpers/app.ts";
import { dialects } from "../helpers/catalog.ts";
import { parsePrometheus, type Family } from "../helpers/promtext.ts";
import { UUID_RE, call, insertArchive, insertTask, makeDefinitions, makeJob, setTaskState, type Definitions } from "./fixtures.ts";

const value = (f: Family | undefined, labels: Record<string, string>) =>
  f?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v) && (!("le" in s.labels) || "le" in labels))?.value;

for (const dialect of dialects) {
  describe(`GET /metrics on ${dialect}`, () => {
    let api: TestApi;
    let main: Definitions;
    let open: Hono;
    let token: string;
    const now = nowSeconds();
    const labels = { job_name: "nightly db", target: "main target", store: "main store" };
    const okLabels = { job_name: "ok job", target: "main target", store: "main store" };

    async function run(job: string, d: Definitions, status: "done" | "failed", stoppedAt: number, duration: number, size?: number) {
      const archive = size === undefined ? null : (await insertArchive(api, { targetUuid: d.target, storeUuid: d.store, jobUuid: job, takenAt: stoppedAt - duration, size })).uuid;
      const uuid = await insertTask(api, { jobUuid: job, targetUuid: d.target, storeUuid: d.store, requestedAt: stoppedAt - duration });
      await setTaskState(api, uuid, { status, startedAt: stoppedAt - duration, stoppedAt, archiveUuid: archive, error: status === "failed" ? "store failed (exit 4): disk full" : null });
    }

    beforeAll(async () => {
      api = await testApi(dialect);
      main = await makeDefinitions(api, "main");
      const nightly = await makeJob(api, main, "nightly db");
      const ok = await makeJob(api, main, "ok job");
      await makeJob(api, main, "never ran");
      await makeJob(api, main, "paused job", { paused: true });
      await run(nightly, main, "done", now - 86400, 120, 5000);
      await run(nightly, main, "failed", now - 600, 30);
      await run(ok, main, "done", now - 300, 45, 4096);
      await insertArchive(api, { targetUuid: main.target, storeUuid: main.store, size: 99, status: "purge_failed", takenAt: now - 90 * 86400 });
      await insertTask(api, { jobUuid: ok, targetUuid: main.target, storeUuid: main.store, requestedAt: now });
      token = (await call(api, "POST", "/v1/auth/tokens", 200, { body: { name: "prometheus" }, as: "viewer" })).json.token;
      open = createApi(api.core, { pubkey: "ssh-ed25519 AAAATEST core@shield", metrics: { public: true, agents: async () => [{ name: "db-host", up: true }, { name: "old-host", up: false }] } });
      // Outcomes this daemon's supervisor tells (the events a real run emits: test/supervisor/events.test.ts).
      const event = (e: Partial<TaskEvent>): TaskEvent => ({
        name: "backup_succeeded", task: crypto.randomUUID(), op: "backup", outcome: "done", job: null, target: null,
        store: { uuid: main.store, name: "main store" }, archive: null, startedAt: now - 100, stoppedAt: now, durationS: 100, size: null, error: null, ...e,
      });
      api.core.outcomes.emit(event({}));
      api.core.outcomes.emit(event({ durationS: 2 }));
      api.core.outcomes.emit(event({ name: "backup_failed", outcome: "failed", durationS: 20000, error: "x" }));
      api.core.outcomes.emit(event({ name: "purge_failed", op: "purge", outcome: "failed", durationS: 1, error: "y" }));
      api.core.outcomes.emit(event({ name: "purge_failed", op: "purge", outcome: "failed", durationS: 1, error: "y" }));
    });
    afterAll(() => api.cleanup());

    const scrape = async (): Promise<{ families: Map<string, Family>; text: string }> => {
      const res = await api.app.request("/metrics", { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      const text = await res.text();
      return { families: parsePrometheus(text), text };
    };

    test("takes an API token of any role; refuses none, a bad one, and a password", async () => {
      for (const authorization of [undefined, "Bearer shield_not-a-token", `Basic ${Buffer.from("viewer:correct horse battery").toString("base64")}`]) {
        const res = await api.app.request("/metrics", { headers: authorization ? { authorization } : {} });
        expect(res.status).toBe(401);
        expect(((await res.json()) as { error: string }).error).toMatch(/token|authentication/);
      }
      await scrape();
    });

    test("with --metrics-public it answers without a token", async () => {
      const res = await open.request("/metrics");
      expect(res.status).toBe(200);
      parsePrometheus(await res.text());
    });

    test("per job: last success, last status, last duration, last archive bytes, schedule interval", async () => {
      const { families: m } = await scrape();
      for (const f of ["shield_job_last_success_timestamp_seconds", "shield_job_last_run_status", "shield_job_last_duration_seconds", "shield_job_last_archive_bytes", "shield_job_schedule_interval_seconds"]) {
        expect(m.get(f)?.type).toBe("gauge");
      }
      expect(value(m.get("shield_job_last_success_timestamp_seconds"), labels)).toBe(now - 86400);
      expect(value(m.get("shield_job_last_run_status"), labels)).toBe(0);
      expect(value(m.get("shield_job_last_duration_seconds"), labels)).toBe(30);
      // The last successful backup's archive.
      expect(value(m.get("shield_job_last_archive_bytes"), labels)).toBe(5000);
      expect(value(m.get("shield_job_last_run_status"), okLabels)).toBe(1);
      expect(value(m.get("shield_job_last_archive_bytes"), okLabels)).toBe(4096);
      expect(value(m.get("shield_job_schedule_interval_seconds"), labels)).toBe(86400);
      // A job that never ran has no last-run series; a paused job has no interval (no overdue alert).
      expect(value(m.get("shield_job_last_run_status"), { job_name: "never ran" })).toBeUndefined();
      expect(value(m.get("shield_job_schedule_interval_seconds"), { job_name: "never ran" })).toBe(86400);
      expect(value(m.get("shield_job_schedule_interval_seconds"), { job_name: "paused job" })).toBeUndefined();
    });

    test("tasks by status, archives and bytes by store and status, scheduler lag, agents, process metrics", async () => {
      const { families: m } = await scrape();
      expect(value(m.get("shield_tasks"), { status: "failed" })).toBe(1);
      expect(value(m.get("shield_tasks"), { status: "done" })).toBe(2);
      expect(value(m.get("shield_tasks"), { status: "pending" })).toBe(1);
      expect(value(m.get("shield_tasks"), { status: "running" })).toBe(0);
      expect(value(m.get("shield_archives"), { store: "main store", status: "valid" })).toBe(2);
      expect(value(m.get("shield_archive_bytes"), { store: "main store", status: "valid" })).toBe(9096);
      expect(value(m.get("shield_archives"), { store: "main store", status: "purge_failed" })).toBe(1);
      // No job has a due time yet (no scheduler ran here): no lag.
      expect(m.get("shield_scheduler_lag_seconds")!.samples[0]!.value).toBe(0);
      // No agents in this daemon: the family is declared, without series.
      expect(m.get("shield_agent_up")).toMatchObject({ type: "gauge", samples: [] });
      for (const f of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds"]) expect(m.get(f)?.samples.length).toBe(1);
      // The event loop's lag is still there, sampled once a second rather than every 10 ms (metrics.ts).
      expect(m.get("nodejs_eventloop_lag_seconds")?.samples.length).toBe(1);
      const { families: public_ } = { families: parsePrometheus(await (await open.request("/metrics")).text()) };
      expect(value(public_.get("shield_agent_up"), { agent: "db-host" })).toBe(1);
      expect(value(public_.get("shield_agent_up"), { agent: "old-host" })).toBe(0);
    });

    test("scheduler lag: how far the earliest due time of an unpaused job is in the past", async () => {
      const nightly = (await call(api, "GET", "/v1/jobs", 200)).json.find((j: any) => j.name === "nightly db").uuid;
      const due = nowSeconds() - 120;
      expect(await api.catalog.jobs.advanceDue(nightly, { at: null, spec: null }, { at: due, spec: "daily at 4am" })).toBe(true);
      const lag = (await scrape()).families.get("shield_scheduler_lag_seconds")!.samples[0]!.value;
      expect(lag).toBeGreaterThanOrEqual(120);
      expect(lag).toBeLessThan(130);
      expect(await api.catalog.jobs.advanceDue(nightly, { at: due, spec: "daily at 4am" }, { at: null, spec: null })).toBe(true);
    });

    test("task durations as a histogram by op and outcome, purge failures by store, from the task events", async () => {
      const { families: m } = await scrape();
      const h = m.get("shield_task_duration_seconds")!;
      expect(h.type).toBe("histogram");
      expect(value(h, { op: "backup", outcome: "done", le: "+Inf" })).toBe(2);
      expect(value(h, { op: "backup", outcome: "done", le: "5" })).toBe(1);
      expect(h.samples.find((s) => s.name.endsWith("_sum") && s.labels.outcome === "done" && s.labels.op === "backup")!.value).toBe(102);
      expect(value(h, { op: "backup", outcome: "failed", le: "+Inf" })).toBe(1);
      expect(value(m.get("shield_purge_failures_total"), { store: "main store" })).toBe(2);
      expect(m.get("shield_purge_failures_total")!.type).toBe("counter");
    });

    test("labels are names only: no task or archive UUID anywhere", async () => {
      const { families: m, text } = await scrape();
      const allowed = new Set(["job_name", "target", "store", "status", "op", "outcome", "le", "agent", "version", "major", "minor", "patch", "type", "space", "kind"]);
      for (const f of m.values()) {
        for (const s of f.samples) {
          if (!f.name.startsWith("shield_")) continue;
          for (const [k, v] of Object.entries(s.labels)) {
            expect(allowed.has(k)).toBe(true);
            expect(v).not.toMatch(UUID_RE);
          }
        }
      }
      expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);
    });
  });
}

test("the parser refuses what Prometheus refuses", () => {
  const bad = [
    "no_type 1",
    "# TYPE a gauge\na{x=\"1\"} one\n",
    "# TYPE a gauge\na{x=1} 1\n",
    "# TYPE a gauge\na 1\na 2\n",
    "# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n",
    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
    "# TYPE 1a gauge\n",
  ];
  for (const text of bad) expect(() => parsePrometheus(text.endsWith("\n") ? text : `${text}\n`)).toThrow();
  expect(parsePrometheus("# HELP a x\n# TYPE a gauge\na{x=\"q\\\"\\n\"} 1.5e3\n").get("a")!.samples[0]).toEqual({ name: "a", labels: { x: "q\"\n" }, value: 1500 });
});
