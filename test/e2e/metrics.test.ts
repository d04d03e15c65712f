// The compiled daemon end to end: a backup that fails (a real plugin process)
// shows up in the task's error line, the job's last run, the statistics' failing
// jobs and in /metrics, whose histogram is fed by the supervisor's task events
// through the daemon's own wiring; --metrics-public opens /metrics.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { parsePrometheus } from "../helpers/promtext.ts";

const PASSWORD = "metrics-admin-password";
const basic = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}`;

describe("job health and /metrics through the daemon", () => {
  let d: DaemonProcess;
  let dir: string;
  let token: string;
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(d.url + path, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return r.json() as Promise<any>;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shield-e2e-metrics-"));
    d = await startShieldDaemon({ args: ["--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins")], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    token = (await (await fetch(`${d.url}/v1/auth/tokens`, { method: "POST", headers: { authorization: basic }, body: JSON.stringify({ name: "prometheus" }) })).json() as any).token;
  });
  afterAll(async () => {
    await d?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a failed backup: error line, last run, failing job, and its metrics", async () => {
    const store = (await api("POST", "/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: dir } })).uuid;
    const target = (await api("POST", "/v1/targets", { name: "dies", plugin: "bytes-target", endpoint: { size: 100000, fail_after: 1000 }, agent: "" })).uuid;
    const schedule = (await api("POST", "/v1/schedules", { name: "daily", when: "daily at 4am" })).uuid;
    const retention = (await api("POST", "/v1/retention", { name: "week", expires: 604800 })).uuid;
    const job = (await api("POST", "/v1/jobs", { name: "dies nightly", target, store, schedule, retention, paused: false })).uuid;
    const { task_uuid } = await api("POST", `/v1/job/${job}/run`);
    let task: any;
    for (let i = 0; i < 400; i++) {
      task = await api("GET", `/v1/task/${task_uuid}`);
      if (task.status !== "pending" && task.status !== "running") break;
      await Bun.sleep(50);
    }
    expect(task.status).toBe("failed");
    expect(task.error).toBe("target backup failed (exit 1): died mid-stream");
    const shown = await api("GET", `/v1/job/${job}`);
    expect(shown.last_run).toMatchObject({ task_uuid, status: "failed", error: task.error, size: null });
    expect(shown.window).toMatchObject({ runs: 1, failures: 1, success_rate: 0 });
    expect(shown.next_run).toMatch(/ 04:00:00$/);
    expect((await api("GET", "/v1/statistics")).failing_jobs.map((j: any) => j.task_uuid)).toEqual([task_uuid]);

    expect((await fetch(`${d.url}/metrics`)).status).toBe(401);
    // The event reaches the histogram just after the outcome is recorded.
    let m = parsePrometheus(await (await fetch(`${d.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text());
    for (let i = 0; i < 40 && !m.get("shield_task_duration_seconds")?.samples.length; i++) {
      await Bun.sleep(50);
      m = parsePrometheus(await (await fetch(`${d.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text());
    }
    const labels = { job_name: "dies nightly", target: "dies", store: "disk" };
    expect(m.get("shield_job_last_run_status")!.samples).toEqual([{ name: "shield_job_last_run_status", labels, value: 0 }]);
    expect(m.get("shield_job_schedule_interval_seconds")!.samples).toEqual([{ name: "shield_job_schedule_interval_seconds", labels, value: 86400 }]);
    expect(m.get("shield_task_duration_seconds")!.samples.find((s) => s.name.endsWith("_count"))).toMatchObject({ labels: { op: "backup", outcome: "failed" }, value: 1 });
    expect(m.get("shield_tasks")!.samples.find((s) => s.labels.status === "failed")!.value).toBe(1);
  });

  test("--metrics-public serves /metrics without a token", async () => {
    const open = await startShieldDaemon({ args: ["--metrics-public"], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    try {
      const res = await fetch(`${open.url}/metrics`);
      expect(res.status).toBe(200);
      expect(parsePrometheus(await res.text()).get("shield_tasks")?.type).toBe("gauge");
    } finally {
      await open.stop();
    }
  });
});
