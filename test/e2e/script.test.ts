// The script target through the compiled daemon: a job backs up what a directory
// of phase scripts produces into the fs store (zstd, encrypted), the archive is
// restored through the restore phase, every phase's output lands in the task log
// (the password in none of it), and a canceled task still runs its unlock.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { daemonApi } from "../helpers/api-client.ts";

const PASSWORD = "e2e-script-admin";
const SECRET = "e2e-script-db-password";

const { call, waitTask } = daemonApi("admin", PASSWORD);

describe("the script target through the daemon", () => {
  let d: DaemonProcess;
  let base: string;
  let scripts: string;
  let trace: string;
  const ids: Record<string, string> = {};

  const phase = (name: string, body = "") => {
    writeFileSync(join(scripts, name), `#!/bin/sh\necho "${name}" >> "$trace_file"\necho "${name} ran for $database" >&2\n${body}\n`);
    chmodSync(join(scripts, name), 0o755);
  };
  const traced = () => (existsSync(trace) ? readFileSync(trace, "utf8").trim().split("\n") : []);
  const created = async (path: string, body: unknown) => {
    const r = await call(d, "POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), "shield-e2e-script-"));
    scripts = join(base, "scripts");
    mkdirSync(scripts, { mode: 0o755 });
    mkdirSync(join(base, "store"));
    trace = join(base, "trace");
    for (const p of ["pre-backup-lock", "pre-backup-check", "backup-cleanup", "post-backup-unlock", "pre-restore-lock", "restore-cleanup", "post-restore-unlock"]) phase(p);
    phase("backup", `if [ -n "$sleep" ]; then exec sleep "$sleep"; fi\nprintf 'rows of %s (%s)' "$database" "$password"`);
    phase("restore", `cat > "$trace_file.restored"`);
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    ids.store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: join(base, "store") } });
    ids.schedule = await created("/v1/schedules", { name: "hourly", when: "hourly at :15" });
    ids.retention = await created("/v1/retention", { name: "week", expires: 604800 });
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  test("backup and restore: phases in order, their output in the task log, no password anywhere", async () => {
    const target = await created("/v1/targets", {
      name: "app", plugin: "script", agent: "",
      endpoint: { script_dir: scripts, database: "appdb", password: SECRET, trace_file: trace },
    });
    const job = await created("/v1/jobs", { name: "app", target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const task = await waitTask(d, (await call(d, "POST", `/v1/job/${job}/run`)).json.task_uuid);
    expect(task.status).toBe("done");
    expect(task.log).toContain("pre-backup-lock ran for appdb");
    expect(task.log).toContain("script: post-backup-unlock done");
    expect(task.log).not.toContain(SECRET);
    expect(traced()).toEqual(["pre-backup-lock", "pre-backup-check", "backup", "backup-cleanup", "post-backup-unlock"]);
    const { json: archives } = await call(d, "GET", `/v1/archives?target=${target}`);
    expect(archives).toHaveLength(1);

    rmSync(trace);
    const r = await call(d, "POST", `/v1/archive/${archives[0].uuid}/restore`, {});
    const restore = await waitTask(d, r.json.task_uuid);
    expect(restore.status).toBe("done");
    expect(readFileSync(trace + ".restored", "utf8")).toBe(`rows of appdb (${SECRET})`);
    expect(traced()).toEqual(["pre-restore-lock", "restore", "restore-cleanup", "post-restore-unlock"]);
    expect(restore.log).toContain("script: post-restore-unlock done");
    expect(restore.log).not.toContain(SECRET);
    expect(d.stderr()).not.toContain(SECRET);
  }, 60_000);

  test("a canceled backup still runs its cleanup and unlock; no archive", async () => {
    rmSync(trace, { force: true });
    const target = await created("/v1/targets", {
      name: "slow", plugin: "script", agent: "",
      endpoint: { script_dir: scripts, database: "slowdb", sleep: "30", trace_file: trace },
    });
    const job = await created("/v1/jobs", { name: "slow", target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const { json } = await call(d, "POST", `/v1/job/${job}/run`);
    for (let i = 0; i < 200 && !traced().includes("backup"); i++) await Bun.sleep(50);
    await Bun.sleep(200);
    expect((await call(d, "DELETE", `/v1/task/${json.task_uuid}`)).json).toEqual({ ok: "canceled" });
    const task = await waitTask(d, json.task_uuid);
    expect(task.status).toBe("canceled");
    // The task is canceled at once; the stage's group gets SIGTERM, and SIGKILL 500 ms later.
    for (let i = 0; i < 40 && traced().length < 5; i++) await Bun.sleep(50);
    const log = async () => (await call(d, "GET", `/v1/task/${json.task_uuid}`)).json.log as string;
    for (let i = 0; i < 40 && !(await log()).includes("task canceled"); i++) await Bun.sleep(50);
    expect(await log()).toContain("target backup: script: backup killed by SIGTERM");
    expect(await log()).toContain("target backup: script: post-backup-unlock done");
    expect(traced()).toEqual(["pre-backup-lock", "pre-backup-check", "backup", "backup-cleanup", "post-backup-unlock"]);
    expect((await call(d, "GET", `/v1/archives?target=${target}`)).json).toEqual([]);
  }, 60_000);
});
