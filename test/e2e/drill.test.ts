// Restore drills end to end (issue 16): the compiled daemon backs up a real
// PostgreSQL database into the fs store, drills it into a scratch database (row
// counts equal to the source's, a measured RTO, the scratch database emptied
// afterwards), and a drill of a deliberately corrupted archive fails and notifies.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, openSync, readSync, readdirSync, rmSync, statSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { daemonApi } from "../helpers/api-client.ts";
import { freshDatabase, pgAvailable, startPostgres } from "../helpers/postgres.ts";
import { eventually, startHttpReceiver, type HttpReceiver } from "../helpers/receivers.ts";

const PASSWORD = "e2e-drill-password";

const { call, waitTask } = daemonApi("admin", PASSWORD, { waitMs: 90_000 });

const dbName = (url: string) => new URL(url).pathname.slice(1);

async function tableCount(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [r] = await sql`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`;
    return r!.n;
  } finally {
    await sql.end();
  }
}

describe.skipIf(!pgAvailable)("restore drills", () => {
  let d: DaemonProcess;
  let hook: HttpReceiver;
  let dir: string;
  let srcUrl: string;
  let scratchUrl: string;
  let pgPort: number;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    pgPort = (await startPostgres()).port;
    srcUrl = await freshDatabase("drillsrc");
    scratchUrl = await freshDatabase("drillscratch");
    const sql = postgres(srcUrl, { max: 1, onnotice: () => {} });
    await sql`CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL)`;
    await sql`CREATE SCHEMA billing`;
    await sql`CREATE TABLE billing.invoices (id serial PRIMARY KEY, customer int REFERENCES customers(id), total numeric(10,2))`;
    await sql`CREATE TABLE empty_one (id int)`;
    await sql`INSERT INTO customers (name) SELECT 'customer ' || i FROM generate_series(1, 3210) i`;
    await sql`INSERT INTO billing.invoices (customer, total) SELECT 1 + (i % 3210), i * 0.5 FROM generate_series(1, 12345) i`;
    await sql.end();
    dir = mkdtempSync(join(tmpdir(), "shield-e2e-drill-"));
    mkdirSync(join(dir, "store"));
    hook = await startHttpReceiver();
    d = await startShieldDaemon({ args: ["--notify-retry-base", "1s"], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
  });
  afterAll(async () => {
    await d?.stop();
    hook?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const created = async (path: string, body: unknown) => {
    const r = await call(d, "POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };
  const pg = (db: string) => ({ pg_host: "127.0.0.1", pg_port: pgPort, pg_user: "postgres", pg_database: db });

  test("a job with a drill into a scratch database; the job's own target is refused as scratch", async () => {
    ids.store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: join(dir, "store") } });
    ids.target = await created("/v1/targets", { name: "src", plugin: "postgres", endpoint: pg(dbName(srcUrl)), agent: "" });
    ids.scratch = await created("/v1/targets", { name: "scratch", plugin: "postgres", endpoint: pg(dbName(scratchUrl)), agent: "" });
    ids.files = await created("/v1/targets", { name: "some-dir", plugin: "files", endpoint: { base_dir: dir }, agent: "" });
    ids.schedule = await created("/v1/schedules", { name: "weekly", when: "weekly at 3am on sunday" });
    ids.retention = await created("/v1/retention", { name: "week", expires: 604800 });
    ids.job = await created("/v1/jobs", { name: "src-nightly", target: ids.target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    ids.hook = await created("/v1/notifications", { name: "hook", kind: "webhook", settings: { url: `${hook.url}/hook` }, events: ["drill.failed", "drill.succeeded"] });

    const own = await call(d, "PUT", `/v1/job/${ids.job}/drill`, { target: ids.target, schedule: ids.schedule });
    expect(own.status).toBe(400);
    expect(own.json.error).toContain("never the job's own target");
    const other = await call(d, "PUT", `/v1/job/${ids.job}/drill`, { target: ids.files, schedule: ids.schedule });
    expect(other.status).toBe(400);
    expect(other.json.error).toContain('plugin "postgres"');
    const noArchive = await call(d, "PUT", `/v1/job/${ids.job}/drill`, { target: ids.scratch, schedule: ids.schedule });
    expect(noArchive.json).toEqual({ ok: "updated" });
    const { json } = await call(d, "GET", `/v1/job/${ids.job}/drill`);
    expect(json.drill).toMatchObject({ target_uuid: ids.scratch, schedule_uuid: ids.schedule });
    expect(json.last).toBeNull();
    // A job may not then take the scratch target as its own... the drill checks again when it runs.
  });

  test("a drill restores the newest archive, counts the rows (equal to the source's), records the RTO and empties the scratch", async () => {
    const backup = await waitTask(d, (await call(d, "POST", `/v1/job/${ids.job}/run`)).json.task_uuid);
    expect(backup.status).toBe("done");
    const run = await call(d, "POST", `/v1/job/${ids.job}/drill/run`);
    expect(run.json.ok).toBe("scheduled");
    const task = await waitTask(d, run.json.task_uuid);
    expect(task.log).toContain("the measured RTO");
    expect(task.status).toBe("done");
    expect(task.type).toBe("drill");
    expect(task.archive_uuid).toBe(backup.archive_uuid);

    const job = (await call(d, "GET", `/v1/job/${ids.job}`)).json;
    expect(job.last_drill).toMatchObject({ ok: true, task_uuid: task.uuid, archive_uuid: backup.archive_uuid, error: null });
    expect(job.last_drill.rto_ms).toBeGreaterThan(0);
    expect(job.last_drill.figures.tables).toEqual({ "billing.invoices": 12345, "public.customers": 3210, "public.empty_one": 0 });
    expect(job.last_drill.figures.rows).toBe(12345 + 3210);
    expect(job.last_drill.verify).toContain("3 tables");
    // Cleaned: the scratch database holds no table any more; the source is untouched.
    expect(await tableCount(scratchUrl)).toBe(0);
    expect(await tableCount(srcUrl)).toBe(3);
    await eventually(() => hook.received.length >= 1, 15_000, "the drill's notification");
    expect(JSON.parse(hook.received[0]!.body)).toMatchObject({ event: "drill.succeeded", job: "src-nightly" });
    expect(JSON.parse(hook.received[0]!.body).details["Restore time (RTO)"]).toMatch(/ s$/);
  });

  test("a scratch target that became a job's target is neither restored into nor emptied", async () => {
    const sql = postgres(scratchUrl, { max: 1, onnotice: () => {} });
    await sql`CREATE TABLE precious (id int)`;
    await sql`INSERT INTO precious VALUES (1), (2)`;
    await sql.end();
    const other = await created("/v1/jobs", { name: "scratch-is-real-now", target: ids.scratch, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const task = await waitTask(d, (await call(d, "POST", `/v1/job/${ids.job}/drill/run`)).json.task_uuid);
    expect(task.status).toBe("failed");
    expect(task.log).toContain('is now the target of job "scratch-is-real-now"');
    expect(await tableCount(scratchUrl)).toBe(1);
    expect((await call(d, "DELETE", `/v1/job/${other}`)).json).toEqual({ ok: "deleted" });
    const s2 = postgres(scratchUrl, { max: 1, onnotice: () => {} });
    await s2`DROP TABLE precious`;
    await s2.end();
    // It notifies as a failed drill; wait for that message so that the next test starts clean.
    await eventually(() => hook.received.some((r) => JSON.parse(r.body).task === task.uuid), 15_000, "the refused drill's notification");
    hook.received.length = 0;
  });

  test("a drill of a corrupted archive fails, records the failure, notifies, and leaves the scratch empty", async () => {
    hook.received.length = 0;
    const blobs = readdirSync(join(dir, "store"), { recursive: true }).map(String)
      .filter((f) => statSync(join(dir, "store", f)).isFile() && !f.includes(".incoming"));
    expect(blobs.length).toBe(1);
    const path = join(dir, "store", blobs[0]!);
    const fd = openSync(path, "r+");
    const at = Math.floor(statSync(path).size / 2);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);

    const task = await waitTask(d, (await call(d, "POST", `/v1/job/${ids.job}/drill/run`)).json.task_uuid);
    expect(task.status).toBe("failed");
    const job = (await call(d, "GET", `/v1/job/${ids.job}`)).json;
    expect(job.last_drill).toMatchObject({ ok: false, task_uuid: task.uuid, rto_ms: null, figures: null });
    expect(job.last_drill.error.length).toBeGreaterThan(0);
    expect(task.log).toContain("emptied scratch database");
    const history = (await call(d, "GET", `/v1/job/${ids.job}/drills`)).json;
    // The refused drill above never restored: no result; this one and the first are the history.
    expect(history.map((h: any) => h.ok)).toEqual([false, true]);
    await eventually(() => hook.received.length >= 1, 15_000, "the failed drill's notification");
    await Bun.sleep(1000);
    expect(hook.received.length).toBe(1);
    expect(JSON.parse(hook.received[0]!.body)).toMatchObject({ event: "drill.failed", job: "src-nightly", task: task.uuid });
    expect(await tableCount(scratchUrl)).toBe(0);
  });
});
