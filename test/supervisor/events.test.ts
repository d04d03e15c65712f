// The supervisor records a failed task's reason as one line (`error`) and tells
// a backup's start, then each outcome once it is recorded, on the task event bus:
// real plugin processes, a real SQLite catalog.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import type { Core } from "../../src/core/index.ts";
import { TaskEventBus, type TaskEvent } from "../../src/core/task-events.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { errorLine, Supervisor, withStderr } from "../../src/supervisor/index.ts";
import type { Catalog } from "../../src/catalog/index.ts";
import { log } from "../../src/log.ts";
import { supervisorWorld, waitTask } from "../helpers/supervisor.ts";

let catalog: Catalog;
let cleanup: () => Promise<void>;
let core: Core;
let plugins: PluginRegistry;
let dir: string;
let ids: { store: string; schedule: string; retention: string };
let supervisor: Supervisor;
const bus = new TaskEventBus();
const events: TaskEvent[] = [];
const PASSWORD = "hunter2-never-in-the-error";

beforeAll(async () => {
  log.setSink(() => {});
  ({ catalog, cleanup, core, plugins, dir, ids } = await supervisorWorld({
    name: "events", schedule: { name: "daily", timespec: "daily at 4am" }, retention: "day", onTaskFiled: () => supervisor?.nudge(),
  }));
  bus.on((e) => { events.push(e); });
  // A subscriber that throws must not keep the others from hearing, nor fail the task.
  bus.on(() => { throw new Error("a broken subscriber"); });
  supervisor = new Supervisor({ catalog, plugins, masterKey: crypto.getRandomValues(new Uint8Array(32)), workers: 1, pollMs: 50, outcomes: bus });
  await supervisor.start();
});

afterAll(async () => {
  await supervisor.stop();
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function job(name: string, endpoint: object): Promise<string> {
  const target = await core.targets.create({ name: `${name} target`, summary: "", plugin: "bytes-target", agent: "", endpoint: JSON.stringify(endpoint) });
  return core.jobs.create({ name, summary: "", target, ...ids, paused: false, compression: "none" });
}

/** The task's end event, once the task has ended; its start (a backup's) came first. */
async function eventOf(task: string): Promise<TaskEvent> {
  const ends = () => events.filter((x) => x.task === task && x.outcome !== "running");
  for (let i = 0; i < 200; i++) {
    const e = ends();
    if (e.length) {
      await Bun.sleep(100);
      // Exactly once, after the start (once too).
      expect(ends()).toHaveLength(1);
      expect(events.filter((x) => x.task === task).map((x) => x.name)).toEqual(["backup_started", e[0]!.name]);
      return e[0]!;
    }
    await Bun.sleep(25);
  }
  throw new Error(`no event for task ${task}`);
}

test("a failed backup: `error` is the failure's one line, secrets masked; backup_failed is told with the names", async () => {
  const uuid = await job("failing", { size: 100000, fail_after: 1000, password: PASSWORD });
  const task = await core.jobs.run(uuid, "tester");
  const t = await waitTask(catalog, task);
  expect(t.status).toBe("failed");
  expect(t.error).toBeTruthy();
  expect(t.error).not.toContain("\n");
  expect(t.error).not.toContain(PASSWORD);
  // Which stage failed, and its own last words on stderr.
  expect(t.error).toBe("target backup failed (exit 1): died mid-stream");
  expect(t.log).toContain("FAILED: target backup failed (exit 1)");
  const e = await eventOf(task);
  expect(e).toMatchObject({
    name: "backup_failed", op: "backup", outcome: "failed", task,
    job: { uuid, name: "failing" }, target: { name: "failing target" }, store: { uuid: ids.store, name: "dir" },
    archive: null, size: null, error: t.error,
  });
  expect(e.durationS).toBeGreaterThanOrEqual(0);
  expect(e.stoppedAt).toBe(t.stoppedAt!);
  expect(events.find((x) => x.task === task && x.name === "backup_started")).toMatchObject({
    outcome: "running", job: { uuid, name: "failing" }, startedAt: t.startedAt, stoppedAt: null, durationS: null, error: null,
  });
});

test("a backup done: no error; backup_succeeded with the archive and its size", async () => {
  const uuid = await job("working", { size: 4096 });
  const task = await core.jobs.run(uuid, "tester");
  const t = await waitTask(catalog, task);
  expect(t.status).toBe("done");
  expect(t.error).toBeNull();
  const e = await eventOf(task);
  const archive = (await catalog.archives.get(t.archiveUuid!))!;
  expect(e).toMatchObject({ name: "backup_succeeded", outcome: "done", archive: archive.uuid, size: archive.size, error: null, job: { name: "working" } });
});

test("errorLine: the first non-empty line, masked, at most 500 characters", () => {
  expect(errorLine("\n  stage exited 1: boom\nmore", (s) => s)).toBe("stage exited 1: boom");
  expect(errorLine("password s3cret refused", (s) => s.replaceAll("s3cret", "****"))).toBe("password **** refused");
  expect(errorLine("x".repeat(2000), (s) => s)).toHaveLength(500);
  expect(errorLine("", (s) => s)).toBe("failed");
});

test("withStderr: a stage's exit with its last stderr line; other failures as they are", () => {
  const said = new Map([["store", "disk full"], ["target backup", "pg_dump: connection refused"]]);
  expect(withStderr("store failed (exit 4)", said)).toBe("store failed (exit 4): disk full");
  expect(withStderr("compress failed (exit 1)", said)).toBe("compress failed (exit 1)");
  expect(withStderr("timed out after 12 h", said)).toBe("timed out after 12 h");
});
