// Daemons sharing one PostgreSQL catalog: a daemon that starts (or looks again
// later) must not fail the tasks another live daemon runs, and must fail those of
// a daemon that died. Daemon A is a real process (test/fixtures/supervisor-child.ts)
// running the sleepy fixture plugin; daemon B is a Supervisor in this process.
// - A stopped with SIGSTOP is alive but silent: B fails its task once the
//   heartbeat is older than the grace, not before; A, woken, stops that task too.
// - A killed with SIGKILL on this machine: B sees its pid is gone and fails its
//   task at once, without waiting out the grace.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { createCore, TaskEventBus, type Core, type TaskEvent } from "../../src/core/index.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { Supervisor } from "../../src/supervisor/index.ts";
import { connectCatalog, type Catalog, type TaskRow } from "../../src/catalog/index.ts";
import { log } from "../../src/log.ts";
import { freshDatabase, pgAvailable } from "../helpers/postgres.ts";

const FIXTURES = resolve(import.meta.dir, "../fixtures/plugins");
const CHILD = resolve(import.meta.dir, "../fixtures/supervisor-child.ts");
const BUN = process.execPath;

describe.skipIf(!pgAvailable)("daemons sharing a PostgreSQL catalog", () => {
  let url: string;
  let catalog: Catalog;
  let core: Core;
  let dir: string;
  let storeDir: string;
  let ids: { store: string; schedule: string; retention: string };
  let b: Supervisor | undefined;
  let a: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  let n = 0;

  beforeAll(async () => {
    log.setSink(() => {});
    url = await freshDatabase();
    catalog = await connectCatalog(url);
    dir = mkdtempSync(join(tmpdir(), "shield-test-heartbeat-"));
    storeDir = join(dir, "store");
    Bun.spawnSync(["mkdir", "-p", storeDir]);
    core = createCore(catalog, { plugins: new PluginRegistry({ dirs: [FIXTURES], self: [], builtins: [] }) });
    ids = {
      store: await core.stores.create({ name: "dir", summary: "", plugin: "dir-store", endpoint: JSON.stringify({ dir: storeDir }) }),
      schedule: await core.schedules.create({ name: "daily", summary: "", timespec: "daily at 4am" }),
      retention: await core.retention.create({ name: "day", summary: "", expiry: 86400 }),
    };
  });
  afterEach(async () => {
    a?.kill("SIGKILL");
    await a?.exited;
    a = undefined;
    await b?.stop();
    b = undefined;
  });
  afterAll(async () => {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts daemon A in its own process; resolves to its runner id. */
  async function startA(): Promise<string> {
    a = Bun.spawn([BUN, CHILD, url, FIXTURES], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const reader = a.stdout.getReader();
    let out = "";
    while (!/runner (\S+)\n/.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`daemon A exited: ${await new Response(a.stderr).text()}`);
      out += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    return /runner (\S+)\n/.exec(out)![1]!;
  }

  function startB(o: { staleAfterMs: number; outcomes?: TaskEventBus }): Promise<void> {
    b = new Supervisor({
      catalog, plugins: new PluginRegistry({ dirs: [FIXTURES], self: [], builtins: [] }), masterKey: new Uint8Array(32),
      workers: 1, pollMs: 100, heartbeatMs: 200, recoverEveryMs: 200, ...o,
    });
    return b.start();
  }

  /** A backup of a sleepy target (60 s) filed now; resolves once a daemon runs it, with the sleeping pid's file. */
  async function runSleepy(): Promise<{ uuid: string; pidFile: string }> {
    const record = join(dir, `record-${++n}`);
    const target = await core.targets.create({ name: `sleepy-${n}`, summary: "", plugin: "sleepy-target", endpoint: JSON.stringify({ name: "s", sleep: 60, record }), agent: "" });
    const job = await core.jobs.create({ name: `job-${n}`, summary: "", target, ...ids, paused: true, priority: 50, compression: "none" });
    const uuid = await core.jobs.run(job, "tester");
    const pidFile = `${record}.s.pid`;
    const deadline = Date.now() + 20_000;
    while ((await catalog.tasks.get(uuid))!.status !== "running" || !existsSync(pidFile)) {
      if (Date.now() > deadline) throw new Error(`task ${uuid} did not start: ${(await catalog.tasks.get(uuid))!.log}`);
      await Bun.sleep(50);
    }
    return { uuid, pidFile };
  }

  async function waitFinished(uuid: string, timeoutMs: number): Promise<TaskRow> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = (await catalog.tasks.get(uuid))!;
      // The log is written in batches: wait for its last line too.
      if (t.status !== "running" && t.log.includes("FAILED")) return t;
      if (Date.now() > deadline) throw new Error(`task ${uuid} still ${t.status}: ${t.log}`);
      await Bun.sleep(50);
    }
  }

  const gone = (pid: number) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return /^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
    } catch {
      return true;
    }
  };

  test("a daemon starting beside a live one leaves its task running; a silent one's task is failed after the grace, its blob purged", async () => {
    const runnerA = await startA();
    const { uuid, pidFile } = await runSleepy();
    expect((await catalog.tasks.get(uuid))!.runnerId).toBe(runnerA);
    // As if A's store had named a blob already: recovery must purge it.
    writeFileSync(join(storeDir, "partial-blob"), "partial");
    await catalog.tasks.setStoreKey(uuid, "partial-blob");

    await startB({ staleAfterMs: 2000 });
    // B recovers at start and then every 200 ms, over twice the grace: A beats, so its task stays A's and running.
    await Bun.sleep(5000);
    let t = (await catalog.tasks.get(uuid))!;
    expect(t).toMatchObject({ status: "running", runnerId: runnerA, stoppedAt: null });
    expect(t.log).not.toContain("FAILED");
    expect(existsSync(join(storeDir, "partial-blob"))).toBe(true);
    expect(existsSync(join(storeDir, `.partial-${uuid}`))).toBe(true);

    // A stalls: alive (its pid is there) but silent. Only the grace tells.
    a!.kill("SIGSTOP");
    const stoppedAt = Date.now();
    t = await waitFinished(uuid, 15_000);
    const waited = Date.now() - stoppedAt;
    expect(t.status).toBe("failed");
    // The grace is 2 s in whole seconds of the catalog's clock: at least about 2 s, well before 10.
    expect(waited).toBeGreaterThan(1500);
    expect(waited).toBeLessThan(10_000);
    expect(t.runnerId).toBe(b!.runner.id);
    expect(t.log).toContain("sent no heartbeat for longer than 2 s");
    expect(t.log).toContain("FAILED: the daemon stopped while this task ran (crash or kill); it was not finished");
    expect(t.log).toContain('purged the partial blob partial-blob from store "dir"');
    expect(existsSync(join(storeDir, "partial-blob"))).toBe(false);
    // What A's store was writing (named after the task: SHIELD_PARTIAL_ID) is purged too.
    expect(t.log).toContain(`removed from store "dir" whatever it kept of the unfinished blob (partial:${uuid})`);
    expect(existsSync(join(storeDir, `.partial-${uuid}`))).toBe(false);

    // A wakes up: it sees the task is no longer its own, kills its pipeline, and leaves B's outcome be.
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    a!.kill("SIGCONT");
    for (let i = 0; i < 100 && !gone(pid); i++) await Bun.sleep(30);
    expect(gone(pid)).toBe(true);
    const deadline = Date.now() + 10_000;
    while (!(t = (await catalog.tasks.get(uuid))!).log.includes("task failed\n") && Date.now() < deadline) await Bun.sleep(50);
    expect(t.log).toContain("FAILED: another daemon found this task's runner dead (no heartbeat for longer than the grace) and failed it; every process of it here was killed");
    expect(t).toMatchObject({ status: "failed", runnerId: b!.runner.id, archiveUuid: null });
  }, 60_000);

  test("a daemon killed on this machine: its task is failed at once, without waiting out the grace, and B tells its failure", async () => {
    const runnerA = await startA();
    const outcomes = new TaskEventBus();
    const heard: TaskEvent[] = [];
    outcomes.on((e) => { heard.push(e); });
    // B would wait a minute for a silent runner: only the dead pid can make it act sooner.
    await startB({ staleAfterMs: 60_000, outcomes });
    const { uuid } = await runSleepy();
    expect((await catalog.tasks.get(uuid))!.runnerId).toBe(runnerA);
    await Bun.sleep(1000);
    expect((await catalog.tasks.get(uuid))!.status).toBe("running");

    a!.kill("SIGKILL");
    await a!.exited;
    const killedAt = Date.now();
    const t = await waitFinished(uuid, 10_000);
    expect(Date.now() - killedAt).toBeLessThan(5000);
    expect(t.status).toBe("failed");
    expect(t.log).toMatch(/its daemon \(\S+ pid \d+\) is no longer running/);
    expect(t.log).toContain("FAILED: the daemon stopped while this task ran (crash or kill); it was not finished");
    // The daemon that failed the task tells its end, once (so a channel hears of a crashed backup).
    await b!.stop();
    expect(heard.filter((e) => e.task === uuid)).toEqual([expect.objectContaining({
      name: "backup_failed", outcome: "failed", job: expect.objectContaining({ name: `job-${n}` }), stoppedAt: t.stoppedAt,
      error: "the daemon stopped while this task ran (crash or kill); it was not finished",
    })]);
  }, 60_000);
});
