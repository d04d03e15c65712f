// Interruptions, with the compiled daemon and through the API.
// - kill -9 of the daemon in the middle of a backup: no blob may appear in the
//   store (a store whose input closes when the daemon dies must not take that for
//   the end of a complete archive), no process of the pipeline may live on, and
//   the next daemon on the same data dir fails the task with a clear log, records
//   no archive, and has the store purge the partial blob (repeated crashes must
//   not fill the store).
// - kill -9 of the daemon at many moments of a backup and of a restore: every
//   process of the pipeline gone within 5 s, whatever the moment.
// - cancel of a running restore: every process killed within a second, the task
//   canceled with a clear log, and the target left as its plugin left it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { freshDatabase, pgAvailable, startPostgres, whileLocked } from "../helpers/postgres.ts";
import { alive, cmdline, descendants } from "../helpers/processes.ts";

const PASSWORD = "e2e-crash-password";
const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}` };
const FIXTURES = resolve(import.meta.dir, "../fixtures/plugins");

async function call(d: DaemonProcess, method: string, path: string, body?: unknown) {
  const r = await fetch(d.url + path, { method, headers: { ...auth, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as any };
}

async function created(d: DaemonProcess, path: string, body: unknown): Promise<string> {
  const r = await call(d, "POST", path, body);
  expect(r.json).toMatchObject({ ok: "created" });
  return r.json.uuid;
}

/** Every file under a directory, recursively, as paths relative to it. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(join(dir, f)).isFile());
}


describe("kill -9 of the daemon in the middle of a backup", () => {
  let dataDir: string;
  let storeDir: string;
  let d: DaemonProcess | undefined;
  let jobForRounds: string;
  const start = () => startShieldDaemon({ cwd: dataDir, args: ["--plugin-dir", FIXTURES], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "shield-e2e-crash-"));
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-crash-store-"));
  });
  afterAll(async () => {
    await d?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(storeDir, { recursive: true, force: true });
  });

  test("leaves no blob and no process; the next daemon fails the task and records no archive", async () => {
    d = await start();
    const store = await created(d, "/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    // 64 MiB at 64 KiB per 20 ms: about 20 s, far longer than the test waits.
    const target = await created(d, "/v1/targets", { name: "slow", plugin: "bytes-target", endpoint: { size: 64 * 1024 * 1024, trickle: 0.02 }, agent: "" });
    const schedule = await created(d, "/v1/schedules", { name: "daily", when: "daily at 4am" });
    const retention = await created(d, "/v1/retention", { name: "week", expires: 604800 });
    // No compression: the bytes reach the store as they come, so it is truly mid-stream.
    const job = await created(d, "/v1/jobs", { name: "slow", target, store, schedule, retention, paused: true, compression: "none" });
    const task = (await call(d, "POST", `/v1/job/${job}/run`)).json.task_uuid as string;

    // Wait until the store has written part of the blob into its temporary file.
    const incoming = join(storeDir, ".incoming");
    const deadline = Date.now() + 30_000;
    while (!(existsSync(incoming) && files(incoming).some((f) => statSync(join(incoming, f)).size > 256 * 1024))) {
      if (Date.now() > deadline) throw new Error(`the store received nothing: ${(await call(d, "GET", `/v1/task/${task}`)).json.log}`);
      await Bun.sleep(50);
    }
    const pipeline = descendants(d.proc.pid!);
    // The guards, the target (sh and its sleep or head), the fs store (in its guard: `guard ... --in-process fs ... -- store`).
    expect(pipeline.some((p) => p.cmd.includes("bytes-target"))).toBe(true);
    expect(pipeline.some((p) => /plugin fs store|--in-process fs .*-- store/.test(p.cmd))).toBe(true);

    d.proc.kill("SIGKILL");
    await d.stop();
    d = undefined;

    // Every process of the pipeline dies with the daemon, promptly.
    const killedAt = Date.now();
    while (pipeline.some((p) => alive(p.pid))) {
      if (Date.now() - killedAt > 3000) {
        throw new Error(`outlived the daemon: ${pipeline.filter((p) => alive(p.pid)).map((p) => `${p.pid} ${p.cmd}`).join("; ")}`);
      }
      await Bun.sleep(50);
    }
    // No blob: at most the store's temporary file (recovery purges it, below).
    await Bun.sleep(500);
    expect(files(storeDir).filter((f) => !f.startsWith(".incoming/"))).toEqual([]);

    d = await start();
    let t: any;
    for (let i = 0; i < 50; i++) {
      t = (await call(d, "GET", `/v1/task/${task}`)).json;
      if (t.status !== "running" && t.log.includes("task")) break;
      await Bun.sleep(100);
    }
    expect(t.status).toBe("failed");
    expect(t.log).toContain("FAILED: the daemon stopped while this task ran (crash or kill); it was not finished");
    expect(t.archive_uuid ?? null).toBeNull();
    expect((await call(d, "GET", `/v1/archives?target=${target}`)).json).toEqual([]);
    expect(files(storeDir).filter((f) => !f.startsWith(".incoming/"))).toEqual([]);
    // Nor is the partial blob left: recovery had the store purge it (by the task's partial id).
    expect(t.log).toContain(`whatever it kept of the unfinished blob (partial:${task})`);
    expect(files(incoming)).toEqual([]);
    jobForRounds = job;
  });

  test("repeated kill -9s mid-backup do not fill the store: each restart's recovery purges the partial blob", async () => {
    const incoming = join(storeDir, ".incoming");
    const partials = () => (existsSync(incoming) ? files(incoming) : []);
    for (let round = 0; round < 3; round++) {
      const task = (await call(d!, "POST", `/v1/job/${jobForRounds}/run`)).json.task_uuid as string;
      const deadline = Date.now() + 30_000;
      while (!partials().some((f) => statSync(join(incoming, f)).size > 256 * 1024)) {
        if (Date.now() > deadline) throw new Error(`the store received nothing: ${(await call(d!, "GET", `/v1/task/${task}`)).json.log}`);
        await Bun.sleep(20);
      }
      // Named after the task (SHIELD_PARTIAL_ID), so recovery can name it to the store.
      expect(partials()).toEqual([`${task}.partial`]);
      d!.proc.kill("SIGKILL");
      await d!.stop();
      d = await start();
      let t: any;
      for (let i = 0; i < 100 && t?.status !== "failed"; i++) {
        if (i) await Bun.sleep(50);
        t = (await call(d, "GET", `/v1/task/${task}`)).json;
      }
      expect(t.status).toBe("failed");
      expect(partials()).toEqual([]);
    }
  });
});

describe("cancel of a running restore", () => {
  let d: DaemonProcess;
  let storeDir: string;
  let outDir: string;
  beforeAll(async () => {
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-cancel-store-"));
    outDir = mkdtempSync(join(tmpdir(), "shield-e2e-cancel-out-"));
    d = await startShieldDaemon({ args: ["--plugin-dir", FIXTURES], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
  });
  afterAll(async () => {
    await d?.stop();
    rmSync(storeDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });

  test("kills every process within a second; the task is canceled; the target keeps what its plugin wrote, never a complete restore", async () => {
    const store = await created(d, "/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    const source = await created(d, "/v1/targets", { name: "source", plugin: "bytes-target", endpoint: { size: 32 * 1024 * 1024 }, agent: "" });
    const schedule = await created(d, "/v1/schedules", { name: "daily", when: "daily at 4am" });
    const retention = await created(d, "/v1/retention", { name: "week", expires: 604800 });
    const job = await created(d, "/v1/jobs", { name: "source", target: source, store, schedule, retention, paused: true });
    const backupTask = (await call(d, "POST", `/v1/job/${job}/run`)).json.task_uuid;
    let b: any;
    do { b = (await call(d, "GET", `/v1/task/${backupTask}`)).json; await Bun.sleep(50); } while (["pending", "running"].includes(b.status));
    expect(b.status).toBe("done");

    // A restore target that takes 64 KiB, then stalls.
    const out = join(outDir, "restored");
    const slow = await created(d, "/v1/targets", { name: "slow-restore", plugin: "bytes-target", endpoint: { size: 1, out, restore_stall: 31 }, agent: "" });
    const { json } = await call(d, "POST", `/v1/archive/${b.archive_uuid}/restore`, { target: slow });
    expect(json.ok).toBe("scheduled");
    const stalled = () => descendants(d.proc.pid!).filter((p) => p.cmd === "sleep 31");
    const deadline = Date.now() + 20_000;
    while (!(stalled().length && existsSync(`${out}.partial`))) {
      if (Date.now() > deadline) throw new Error(`the restore did not start: ${(await call(d, "GET", `/v1/task/${json.task_uuid}`)).json.log}`);
      await Bun.sleep(50);
    }
    const pipeline = descendants(d.proc.pid!);
    // 32 MiB is more than the pipes between the stages hold: the store is still sending.
    // (The fs store's retrieve runs in its guard: `guard --in-process fs -- retrieve --key KEY`.)
    expect(pipeline.some((p) => /plugin fs retrieve|--in-process fs .*-- retrieve/.test(p.cmd))).toBe(true);

    const canceledAt = Date.now();
    expect((await call(d, "DELETE", `/v1/task/${json.task_uuid}`)).json).toEqual({ ok: "canceled" });
    while (pipeline.some((p) => alive(p.pid))) {
      if (Date.now() - canceledAt > 1000) {
        throw new Error(`still running a second after the cancel: ${pipeline.filter((p) => alive(p.pid)).map((p) => `${p.pid} ${p.cmd}`).join("; ")}`);
      }
      await Bun.sleep(20);
    }
    let t: any;
    for (let i = 0; i < 50; i++) {
      t = (await call(d, "GET", `/v1/task/${json.task_uuid}`)).json;
      if (t.log.includes("task canceled")) break;
      await Bun.sleep(100);
    }
    expect(t.status).toBe("canceled");
    expect(t.log).toContain("canceled: every process of the task was killed");
    // Shield does not undo what a target did before the cancel: here the plugin's
    // partial file stays, and the restore it would have completed never happened.
    expect(existsSync(out)).toBe(false);
    expect(statSync(`${out}.partial`).size).toBeGreaterThan(0);
    // The archive is untouched and can be restored again.
    expect((await call(d, "GET", `/v1/archive/${b.archive_uuid}`)).json.status).toBe("valid");
  });
});

/** The session a process belongs to (each guard leads one: the daemon starts it detached). */
function sessionOf(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[3]);
  } catch {
    return undefined;
  }
}

/**
 * What a pipeline is made of, as seen just before the daemon is killed: its processes,
 * and the sessions of its guards, so that a process started in one of them after the
 * look (a guard's stage, a purge) is counted too.
 */
function pipelineOf(daemon: number) {
  const seen = descendants(daemon);
  const sessions = new Set(seen.filter((p) => p.cmd.includes(" guard")).map((p) => p.pid));
  return {
    seen,
    /** Every live process of the pipeline. */
    left(): { pid: number; cmd: string }[] {
      const found = new Map(seen.filter((p) => alive(p.pid)).map((p) => [p.pid, p.cmd]));
      for (const name of readdirSync("/proc")) {
        if (!/^\d+$/.test(name)) continue;
        const pid = Number(name);
        const sid = sessionOf(pid);
        if (sid !== undefined && sessions.has(sid) && alive(pid)) found.set(pid, cmdline(pid));
      }
      return [...found].map(([pid, cmd]) => ({ pid, cmd }));
    },
  };
}

// kill -9 of the daemon at many moments of a backup and of a restore: every process
// of every pipeline (guards, zstd, target and store plugins and what they started)
// must be gone within 5 s, whatever each was doing; the next daemon fails the task;
// and nothing is left in the store (no blob, no partial blob in .incoming).
describe("kill -9 of the daemon at any moment of a pipeline", () => {
  let dataDir: string;
  let storeDir: string;
  let dirStoreDir: string;
  let outDir: string;
  let d: DaemonProcess | undefined;
  let ids: { fs: string; schedule: string; retention: string; archive: string; archiveKey: string; pgJob?: string };
  /** The blobs of archives made along the way. */
  const keep: string[] = [];
  let n = 0;
  const start = () => startShieldDaemon({ cwd: dataDir, args: ["--plugin-dir", FIXTURES], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
  const incoming = () => existsSync(join(storeDir, ".incoming")) ? files(join(storeDir, ".incoming")) : [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "shield-e2e-moments-"));
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-moments-fs-"));
    dirStoreDir = mkdtempSync(join(tmpdir(), "shield-e2e-moments-dir-"));
    outDir = mkdtempSync(join(tmpdir(), "shield-e2e-moments-out-"));
    d = await start();
    const fs = await created(d, "/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    const schedule = await created(d, "/v1/schedules", { name: "daily", when: "daily at 4am" });
    const retention = await created(d, "/v1/retention", { name: "week", expires: 604800 });
    // An archive to restore (zstd, encrypted), 4 MiB of incompressible bytes.
    const source = await created(d, "/v1/targets", { name: "source", plugin: "bytes-target", endpoint: { size: 4 * 1024 * 1024 }, agent: "" });
    const job = await created(d, "/v1/jobs", { name: "source", target: source, store: fs, schedule, retention, paused: true });
    const task = (await call(d, "POST", `/v1/job/${job}/run`)).json.task_uuid;
    let b: any;
    do { await Bun.sleep(50); b = (await call(d, "GET", `/v1/task/${task}`)).json; } while (["pending", "running"].includes(b.status));
    expect(b.status).toBe("done");
    const archive = (await call(d, "GET", `/v1/archive/${b.archive_uuid}`)).json;
    ids = { fs, schedule, retention, archive: b.archive_uuid, archiveKey: archive.store_key };
  });
  afterAll(async () => {
    await d?.stop();
    for (const dir of [dataDir, storeDir, dirStoreDir, outDir]) rmSync(dir, { recursive: true, force: true });
  });

  /** A backup job of a bytes-target with these options into a store (the fs store, or a dir-store with its own options). */
  async function backupJob(target: Record<string, unknown>, compression: string, dirStore?: Record<string, unknown>): Promise<string> {
    n++;
    const t = await created(d!, "/v1/targets", { name: `t${n}`, plugin: "bytes-target", endpoint: target, agent: "" });
    const store = dirStore ? await created(d!, "/v1/stores", { name: `s${n}`, plugin: "dir-store", endpoint: { dir: dirStoreDir, ...dirStore } }) : ids.fs;
    const job = await created(d!, "/v1/jobs", { name: `j${n}`, target: t, store, schedule: ids.schedule, retention: ids.retention, paused: true, compression });
    return (await call(d!, "POST", `/v1/job/${job}/run`)).json.task_uuid;
  }

  async function restoreInto(target: Record<string, unknown>): Promise<string> {
    n++;
    const t = await created(d!, "/v1/targets", { name: `r${n}`, plugin: "bytes-target", endpoint: { size: 1, out: join(outDir, `r${n}`), ...target }, agent: "" });
    const { json } = await call(d!, "POST", `/v1/archive/${ids.archive}/restore`, { target: t });
    expect(json.ok).toBe("scheduled");
    return json.task_uuid;
  }

  /** Waits for `moment`, kills the daemon, and expects every process of the pipeline gone within 5 s; then restarts it and expects the task failed. */
  async function killAt(task: string, moment: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const daemon = d!;
    const deadline = Date.now() + 20_000;
    while (!(await moment())) {
      if (Date.now() > deadline) throw new Error(`never reached ${what}: ${(await call(daemon, "GET", `/v1/task/${task}`)).json.log}`);
      await Bun.sleep(5);
    }
    const pipeline = pipelineOf(daemon.proc.pid!);
    daemon.proc.kill("SIGKILL");
    const killedAt = Date.now();
    await daemon.stop();
    d = undefined;
    let outlived: string | undefined;
    for (;;) {
      const left = pipeline.left();
      if (!left.length) {
        console.log(`${what}: ${pipeline.seen.length} processes, all gone ${Date.now() - killedAt} ms after the daemon`);
        break;
      }
      if (Date.now() - killedAt > 5000) {
        // Not left running for the next test.
        for (const p of left) { try { process.kill(p.pid, "SIGKILL"); } catch { /* gone */ } }
        outlived = `${what}: outlived the daemon by 5 s: ${left.map((p) => `${p.pid} ${p.cmd}`).join("; ")}`;
        break;
      }
      await Bun.sleep(50);
    }
    d = await start();
    if (outlived) throw new Error(outlived);
    let t: any;
    for (let i = 0; i < 100; i++) {
      t = (await call(d, "GET", `/v1/task/${task}`)).json;
      if (t.status === "failed") break;
      await Bun.sleep(50);
    }
    expect(t.status).toBe("failed");
    expect(t.log).toContain("FAILED: the daemon stopped while this task ran");
  }

  const running = (match: (cmd: string) => boolean) => () => descendants(d!.proc.pid!).some((p) => match(p.cmd));
  const guardUp = running((cmd) => cmd.includes(" guard"));

  test("backup, as its pipeline starts", async () => {
    const task = await backupJob({ size: 64 * 1024 * 1024, trickle: 0.02 }, "zstd");
    await killAt(task, guardUp, "the first guard");
  });

  test("backup, before the target wrote anything (the target waits)", async () => {
    const task = await backupJob({ size: 1024, sleep: 41 }, "zstd");
    await killAt(task, running((cmd) => cmd === "sleep 41"), "the target waiting");
  });

  test("backup, mid-stream", async () => {
    const task = await backupJob({ size: 64 * 1024 * 1024, trickle: 0.02 }, "none");
    const stored = () => incoming().some((f) => statSync(join(storeDir, ".incoming", f)).size > 256 * 1024);
    await killAt(task, stored, "the store mid-blob");
  });

  test("backup, after the target exited, zstd still writing into a store that does not keep up", async () => {
    // 6 MB fit in zstd (it has not written them out yet): the target exits, zstd's input is
    // committed, and zstd blocks on the store's input, full since the store reads nothing.
    // More than the way to the store holds: two FIFOs of 1 MiB (fifo.ts) and the sealing
    // guard's read buffer of 1 MiB; 2 MB did when the FIFOs held 64 KiB.
    const task = await backupJob({ size: 6_000_000 }, "zstd", { stall: 42 });
    let targetSeen = false;
    await killAt(task, () => {
      const procs = descendants(d!.proc.pid!);
      const target = procs.some((p) => p.cmd.includes("bytes-target backup"));
      targetSeen ||= target;
      return targetSeen && !target && procs.some((p) => p.cmd.startsWith("zstd ")) && procs.some((p) => p.cmd === "sleep 42");
    }, "the target exited");
  });

  test("backup, while the store commits (it has its whole input)", async () => {
    const task = await backupJob({ size: 1024 * 1024 }, "zstd", { commit_sleep: 43 });
    await killAt(task, running((cmd) => cmd === "sleep 43"), "the store committing");
  });

  test("restore, as its pipeline starts", async () => {
    const task = await restoreInto({});
    await killAt(task, guardUp, "the first guard");
  });

  test("restore, mid-stream (the target stalls)", async () => {
    const task = await restoreInto({ restore_stall: 44 });
    await killAt(task, running((cmd) => cmd === "sleep 44"), "the target mid-stream");
  });

  test("restore, after the whole verified stream reached the target (it still applies it)", async () => {
    const task = await restoreInto({ restore_linger: 45 });
    await killAt(task, running((cmd) => cmd === "sleep 45"), "the target applying");
  });

  describe.skipIf(!pgAvailable)("PostgreSQL: pg_dump and pg_restore waiting on a lock", () => {
    let url: string;
    let sql: postgres.Sql;
    let target: string;
    let archive: string;
    beforeAll(async () => {
      url = await freshDatabase("crash");
      const port = (await startPostgres()).port;
      sql = postgres(url, { max: 2, onnotice: () => {} });
      await sql`CREATE TABLE t (id int PRIMARY KEY, v text)`;
      await sql`INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 10000) i`;
      target = await created(d!, "/v1/targets", { name: "pg", plugin: "postgres", endpoint: { pg_host: "127.0.0.1", pg_port: port, pg_user: "postgres", pg_database: new URL(url).pathname.slice(1) }, agent: "" });
      const job = await created(d!, "/v1/jobs", { name: "pg", target, store: ids.fs, schedule: ids.schedule, retention: ids.retention, paused: true });
      const task = (await call(d!, "POST", `/v1/job/${job}/run`)).json.task_uuid;
      let b: any;
      do { await Bun.sleep(50); b = (await call(d!, "GET", `/v1/task/${task}`)).json; } while (["pending", "running"].includes(b.status));
      expect(b.status).toBe("done");
      archive = b.archive_uuid;
      keep.push((await call(d!, "GET", `/v1/archive/${archive}`)).json.store_key);
      ids.pgJob = job;
    });
    afterAll(async () => { await sql?.end(); });

    const locked = (during: () => Promise<void>) => whileLocked(sql, "t", during);
    // The postgres plugin names its connections "shield".
    const waitingOnLock = async () =>
      (await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'shield'`)[0]!.n > 0;

    test("backup: pg_dump waits on a lock (run by the store's guard: one guard for the whole backup)", async () => {
      await locked(async () => {
        const task = (await call(d!, "POST", `/v1/job/${ids.pgJob}/run`)).json.task_uuid;
        let seen: { pid: number; cmd: string }[] = [];
        await killAt(task, async () => {
          if (!(await waitingOnLock())) return false;
          seen = descendants(d!.proc.pid!);
          return true;
        }, "pg_dump waiting on a lock");
        // The built-in target's backup runs in the built-in store's guard (guard.ts, --with-source).
        const guards = seen.filter((p) => p.cmd.includes(" guard"));
        expect(guards.map((p) => p.cmd.includes("--with-source"))).toEqual([true]);
        expect(seen.filter((p) => /(^|\/)pg_dump /.test(p.cmd)).length).toBe(1);
      });
    });

    test("restore: pg_restore waits on a lock", async () => {
      await locked(async () => {
        const { json } = await call(d!, "POST", `/v1/archive/${archive}/restore`, { target });
        expect(json.ok).toBe("scheduled");
        await killAt(json.task_uuid, waitingOnLock, "pg_restore waiting on a lock");
      });
      expect((await sql`SELECT count(*)::int AS n FROM t`)[0]!.n).toBe(10000);
    });
  });

  test("after all that: no blob but the archives', nothing in .incoming, and the archive still restores", async () => {
    expect(files(storeDir).filter((f) => !f.startsWith(".incoming/")).sort()).toEqual([ids.archiveKey, ...keep].sort());
    expect(incoming()).toEqual([]);
    // The dir-store's blobs are plain files; its temporaries start with a dot.
    expect(files(dirStoreDir).filter((f) => !f.startsWith("."))).toEqual([]);
    const task = await restoreInto({});
    let t: any;
    do { await Bun.sleep(50); t = (await call(d!, "GET", `/v1/task/${task}`)).json; } while (["pending", "running"].includes(t.status));
    expect(t.status).toBe("done");
  });
});
