// The task queue with real plugin processes (test/fixtures/plugins/sleepy-target
// records when each backup starts and ends): priority then age, one backup or
// restore per target at a time, several idle workers woken at once, the task
// timeout, cancel, and the scheduler's skip of a job whose last run still runs.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Core } from "../../src/core/index.ts";
import type { PluginRegistry } from "../../src/plugin-host/index.ts";
import { Supervisor, type SupervisorOptions } from "../../src/supervisor/index.ts";
import { Scheduler } from "../../src/scheduler/scheduler.ts";
import { nowSeconds, type Catalog, type TaskRow } from "../../src/catalog/index.ts";
import { log } from "../../src/log.ts";
import { supervisorWorld, waitTask as waitTaskOf } from "../helpers/supervisor.ts";
import { ManualClock } from "../helpers/clock.ts";

let catalog: Catalog;
let cleanup: () => Promise<void>;
let plugins: PluginRegistry;
let core: Core;
let dir: string;
let storeDir: string;
let ids: { store: string; schedule: string; retention: string };
let supervisor: Supervisor | undefined;
/** Tasks filed meanwhile nudge no worker (as one of a scheduler's batch but the last). */
let unnudged = false;

beforeAll(async () => {
  log.setSink(() => {});
  ({ catalog, cleanup, dir, storeDir, plugins, core, ids } = await supervisorWorld({
    name: "queue", schedule: { name: "every-10", timespec: "*/10 * * * *" }, retention: "day", onTaskFiled: () => { if (!unnudged) supervisor?.nudge(); },
  }));
});

afterEach(async () => {
  await supervisor?.stop();
  supervisor = undefined;
});

afterAll(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function startSupervisor(o: Partial<SupervisorOptions> = {}): Promise<Supervisor> {
  supervisor = new Supervisor({ catalog, plugins, masterKey: crypto.getRandomValues(new Uint8Array(32)), workers: 4, pollMs: 100, ...o });
  await supervisor.start();
  return supervisor;
}

let n = 0;
/** A target whose backups sleep; its runs are recorded in `record`. */
async function target(name: string, sleep: number, record: string): Promise<string> {
  return core.targets.create({ name: `${name}-${++n}`, summary: "", plugin: "sleepy-target", endpoint: JSON.stringify({ name, sleep, record }), agent: "" });
}
async function job(targetUuid: string, priority = 50): Promise<string> {
  return core.jobs.create({ name: `job-${++n}`, summary: "", target: targetUuid, ...ids, paused: false, priority, compression: "none" });
}

const waitTask = (uuid: string, timeoutMs = 30_000): Promise<TaskRow> => waitTaskOf(catalog, uuid, timeoutMs);
async function waitStatus(uuid: string, status: TaskRow["status"], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await catalog.tasks.get(uuid))!.status !== status) {
    if (Date.now() > deadline) throw new Error(`task ${uuid} never became ${status}`);
    await Bun.sleep(20);
  }
}

interface Run { name: string; start: number; end?: number }
/** The runs in a record file: start and end in milliseconds, in start order. */
function runs(record: string): Run[] {
  const out: Run[] = [];
  for (const line of readFileSync(record, "utf8").trim().split("\n")) {
    const [what, name, ns] = line.split(" ");
    const ms = Number(BigInt(ns!) / 1_000_000n);
    if (what === "start") out.push({ name: name!, start: ms });
    else out.find((r) => r.name === name && r.end === undefined)!.end = ms;
  }
  return out;
}
const overlap = (a: Run, b: Run) => a.start < b.end! && b.start < a.end!;
/** Running (a killed process whose parent died may linger as a zombie until init reaps it: that is not running). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}
const pidOf = (record: string, name: string) => Number(readFileSync(`${record}.${name}.pid`, "utf8").trim());

/** A backup task filed as the API files one, at a given age. */
async function file(jobUuid: string, requestedAt: number): Promise<string> {
  const j = (await catalog.jobs.get(jobUuid))!;
  const uuid = crypto.randomUUID();
  await catalog.tasks.create({ uuid, owner: "tester", op: "backup", jobUuid, archiveUuid: null, targetUuid: j.targetUuid, storeUuid: j.storeUuid, requestedAt });
  return uuid;
}

describe("claiming", () => {
  test("priority first (0 highest), then age: one worker starts them in that order", async () => {
    const record = join(dir, "order");
    const now = nowSeconds();
    const low = await job(await target("low", 0, record), 90);
    const high = await job(await target("high", 0, record), 10);
    const midOld = await job(await target("mid-old", 0, record), 50);
    const midNew = await job(await target("mid-new", 0, record), 50);
    const tasks = [await file(low, now - 100), await file(midNew, now - 10), await file(high, now - 5), await file(midOld, now - 50)];
    await startSupervisor({ workers: 1 });
    for (const t of tasks) expect((await waitTask(t)).status).toBe("done");
    expect(runs(record).map((r) => r.name)).toEqual(["high", "mid-old", "mid-new", "low"]);
  });

  test("one backup per target at a time, while other targets run alongside", async () => {
    const record = join(dir, "exclusive");
    const a = await target("a", 1, record);
    const b = await target("b", 1, record);
    const [a1, a2, b1] = [await job(a), await job(a), await job(b)];
    const now = nowSeconds();
    const tasks = [await file(a1, now - 3), await file(a2, now - 2), await file(b1, now - 1)];
    await startSupervisor({ workers: 3 });
    for (const t of tasks) expect((await waitTask(t)).status).toBe("done");
    const r = runs(record);
    const [ra1, ra2] = r.filter((x) => x.name === "a");
    const rb = r.find((x) => x.name === "b")!;
    expect(overlap(ra1!, ra2!)).toBe(false);
    expect(overlap(ra1!, rb)).toBe(true);
    // The second of target a waited for the first, not for a poll long after it.
    expect(ra2!.start - ra1!.end!).toBeLessThan(1500);
  });

  /** Four 2 s backups filed by `file` on 4 idle workers (which would otherwise look again only after a minute): all four run at once. */
  async function fourRunAtOnce(name: string, file: (jobs: string[]) => Promise<string[]>): Promise<void> {
    const record = join(dir, name);
    const jobs = [];
    for (let i = 0; i < 4; i++) jobs.push(await job(await target(`${name}${i}`, 2, record)));
    await startSupervisor({ workers: 4, idlePollMs: 60_000 });
    await Bun.sleep(200);
    const tasks = await file(jobs);
    for (const t of tasks) expect((await waitTask(t)).status).toBe("done");
    const r = runs(record);
    expect(r).toHaveLength(4);
    // All four ran at once: each started before any ended.
    const firstEnd = Math.min(...r.map((x) => x.end!));
    for (const x of r) expect(x.start).toBeLessThan(firstEnd);
  }

  test("tasks filed together wake every idle worker, not just one", async () => {
    await fourRunAtOnce("wake", async (jobs) => {
      const tasks = [];
      for (const j of jobs) tasks.push(await core.jobs.run(j, "tester"));
      return tasks;
    });
  });

  test("tasks filed with one nudge between them (a scheduler's batch) all start at once", async () => {
    await fourRunAtOnce("burst", async (jobs) => {
      const tasks = [];
      unnudged = true;
      try {
        for (const j of jobs) tasks.push(await core.jobs.run(j, "tester"));
      } finally {
        unnudged = false;
      }
      supervisor!.nudge();
      return tasks;
    });
  });

  test("one task filed costs 4 claims on a daemon of 4 workers, not one per worker at each nudge", async () => {
    const j = await job(await target("one", 0, join(dir, "one")));
    await startSupervisor({ workers: 4, idlePollMs: 60_000 });
    await Bun.sleep(200);
    const tasks = catalog.tasks;
    const claim = tasks.claim;
    let claims = 0;
    tasks.claim = (...a) => { claims++; return claim.apply(tasks, a); };
    try {
      expect((await waitTask(await core.jobs.run(j, "tester"))).status).toBe("done");
      await Bun.sleep(500);
    } finally {
      tasks.claim = claim;
    }
    // Filed: one worker claims it and wakes the next, which finds nothing (there might have
    // been more). Done: that worker looks again, and wakes one more (the task may have freed
    // its target or store for two others). All four woken, as before, made ~9.
    expect(claims).toBe(4);
  });
});

describe("timeout and cancel", () => {
  test("a task past the task timeout fails with a clear line, and every process of it is killed", async () => {
    const record = join(dir, "timeout");
    const before = readdirSync(storeDir);
    const j = await job(await target("hung", 60, record));
    await startSupervisor({ taskTimeoutMs: 1000 });
    const started = Date.now();
    const task = await waitTask(await core.jobs.run(j, "tester"));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(task.status).toBe("failed");
    expect(task.log).toContain("FAILED: timed out after 1 s (the task timeout, --task-timeout); every process of the task was killed");
    expect(task.archiveUuid).toBeNull();
    const pid = pidOf(record, "hung");
    for (let i = 0; i < 50 && alive(pid); i++) await Bun.sleep(20);
    expect(alive(pid)).toBe(false);
    expect(readdirSync(storeDir)).toEqual(before);
  });

  test("canceling a running task kills its processes and frees its target for the next task", async () => {
    const record = join(dir, "cancel");
    const t = await target("busy", 60, record);
    const [first, second] = [await job(t), await job(t)];
    await startSupervisor({ workers: 2 });
    const running = await core.jobs.run(first, "tester");
    await waitStatus(running, "running");
    const queued = await core.jobs.run(second, "tester");
    // Both workers are free, but the target is busy: the second stays pending.
    await Bun.sleep(500);
    expect((await catalog.tasks.get(queued))!.status).toBe("pending");
    while (!existsSync(`${record}.busy.pid`)) await Bun.sleep(20);
    const pid = pidOf(record, "busy");
    await core.tasks.cancel(running);
    expect((await waitTask(running)).status).toBe("canceled");
    for (let i = 0; i < 50 && alive(pid); i++) await Bun.sleep(20);
    expect(alive(pid)).toBe(false);
    await waitStatus(queued, "running");
    await core.tasks.cancel(queued);
    expect((await waitTask(queued)).status).toBe("canceled");
  });
});

describe("skip", () => {
  test("a job due while its last run still runs is skipped, and the skip is in that run's log", async () => {
    const record = join(dir, "skip");
    const j = await job(await target("slow", 3, record));
    const jobRow = (await catalog.jobs.get(j))!;
    // The jobs of the other tests share the schedule: only this one may come due here.
    for (const other of await catalog.jobs.list()) if (other.uuid !== j) await catalog.jobs.setPaused(other.uuid, true);
    await startSupervisor();
    const clock = ManualClock.at("2026-01-01 00:05:00");
    const scheduler = new Scheduler({ catalog, clock, zone: "UTC", onFiled: () => supervisor!.nudge() });
    await scheduler.tick();
    clock.set(Date.parse("2026-01-01T00:10:00Z"));
    await scheduler.tick();
    const [first] = await catalog.tasks.list({ job: j }, { limit: 10, offset: 0 });
    await waitStatus(first!.uuid, "running");
    clock.set(Date.parse("2026-01-01T00:20:00Z"));
    expect(await scheduler.tick()).toEqual({ filed: 0, skipped: 1 });
    const done = await waitTask(first!.uuid);
    expect(done.status).toBe("done");
    expect(done.log).toContain(`job "${jobRow.name}" came due at 2026-01-01 00:20:00 UTC while this task was still running; that run was skipped`);
    // The run's own lines are all there too: the two writers did not overwrite each other.
    expect(done.log).toContain("filed by the scheduler for 2026-01-01 00:10:00 UTC");
    expect(done.log).toContain("task done");
    expect(await catalog.tasks.list({ job: j }, { limit: 10, offset: 0 })).toHaveLength(1);
    for (const t of await catalog.tasks.list({ status: "pending" }, { limit: 100, offset: 0 })) await catalog.tasks.cancel(t.uuid, 0);
  });
});
