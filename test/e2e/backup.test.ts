// The data path end to end, through the API alone: the compiled daemon backs up a
// real PostgreSQL database into the fs store, restores it in place and into
// another database, and cancels a running backup cleanly.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { daemonApi } from "../helpers/api-client.ts";
import { freshDatabase, pgAvailable, startPostgres } from "../helpers/postgres.ts";

const PASSWORD = "e2e-backup-password";
const PG_SECRET = "pg-secret-never-logged";

const { call, waitTask } = daemonApi("admin", PASSWORD);

/** Every file under a directory, recursively (the fs store shards by date). */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(join(dir, f)).isFile());
}

async function fill(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql`CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE)`;
  await sql`CREATE TABLE orders (id serial PRIMARY KEY, customer int REFERENCES customers(id), total numeric(10,2), placed timestamptz DEFAULT now())`;
  await sql`CREATE INDEX orders_by_customer ON orders (customer)`;
  await sql`CREATE TABLE blobs (id int PRIMARY KEY, data bytea)`;
  await sql`INSERT INTO customers (name, email) SELECT 'customer ' || i, 'c' || i || '@example.com' FROM generate_series(1, 5000) i`;
  await sql`INSERT INTO orders (customer, total) SELECT 1 + (i % 5000), i * 1.25 FROM generate_series(1, 20000) i`;
  // A few MB of incompressible bytes.
  await sql`INSERT INTO blobs SELECT i, decode(string_agg(lpad(to_hex((random() * 255)::int), 2, '0'), ''), 'hex') FROM generate_series(1, 40) i, generate_series(1, 65536) j GROUP BY i`;
  await sql.end();
}

async function fingerprint(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [c] = await sql`SELECT count(*)::int AS n, md5(string_agg(name || email, ',' ORDER BY id)) AS h FROM customers`;
    const [o] = await sql`SELECT count(*)::int AS n, sum(total)::text AS s FROM orders`;
    const [b] = await sql`SELECT count(*)::int AS n, md5(string_agg(md5(data), ',' ORDER BY id)) AS h, sum(length(data))::int AS bytes FROM blobs`;
    const [i] = await sql`SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'orders_by_customer'`;
    return { customers: c, orders: o, blobs: b, index: i!.n };
  } finally {
    await sql.end();
  }
}

describe.skipIf(!pgAvailable)("backup and restore of PostgreSQL through the API", () => {
  let d: DaemonProcess;
  let storeDir: string;
  let srcUrl: string;
  let pgPort: number;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    srcUrl = await freshDatabase("e2esrc");
    pgPort = (await startPostgres()).port;
    await fill(srcUrl);
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-store-"));
    d = await startShieldDaemon({
      args: ["--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins")],
      env: { SHIELD_ADMIN_PASSWORD: PASSWORD },
    });
  });
  afterAll(async () => {
    await d?.stop();
    rmSync(storeDir, { recursive: true, force: true });
  });

  const created = async (path: string, body: unknown) => {
    const r = await call(d, "POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };
  const pgTarget = (db: string) => ({ pg_host: "127.0.0.1", pg_port: pgPort, pg_user: "postgres", pg_password: PG_SECRET, pg_database: db });

  test("lists the built-in plugins and the external ones, with their fields", async () => {
    const { json } = await call(d, "GET", "/v1/plugins");
    const names = json.map((p: any) => p.name);
    for (const n of ["fs", "postgres", "files", "bytes-target", "dir-store"]) expect(names).toContain(n);
    const { json: fs } = await call(d, "GET", "/v1/plugin/fs");
    expect(fs.info.features).toEqual({ target: "no", store: "yes" });
    expect(fs.info.fields.map((f: any) => f.name)).toContain("base_dir");
    expect((await call(d, "GET", "/v1/plugin/nope")).status).toBe(404);
  });

  test("an invalid endpoint or a missing plugin is a 400 with the plugin's words", async () => {
    const bad = await call(d, "POST", "/v1/stores", { name: "bad", plugin: "fs", endpoint: { base_dir: "relative/dir" } });
    expect(bad.status).toBe(400);
    expect(bad.json.fields.endpoint).toContain("base_dir");
    const missing = await call(d, "POST", "/v1/targets", { name: "m", plugin: "no-such-plugin", endpoint: {}, agent: "" });
    expect(missing.status).toBe(400);
    expect(missing.json.fields.plugin).toContain('no plugin named "no-such-plugin"');
    const wrongRole = await call(d, "POST", "/v1/targets", { name: "w", plugin: "fs", endpoint: { base_dir: storeDir }, agent: "" });
    expect(wrongRole.status).toBe(400);
    expect(wrongRole.json.fields.plugin).toContain("cannot be used as a target");
  });

  test("backs up the database into the fs store: an archive with size, checksum, compression and cipher", async () => {
    ids.store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    ids.target = await created("/v1/targets", { name: "src", plugin: "postgres", endpoint: pgTarget(new URL(srcUrl).pathname.slice(1)), agent: "" });
    ids.schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
    ids.retention = await created("/v1/retention", { name: "week", expires: 604800 });
    ids.job = await created("/v1/jobs", { name: "src-nightly", target: ids.target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const run = await call(d, "POST", `/v1/job/${ids.job}/run`, { owner: "alice" });
    const task = await waitTask(d, run.json.task_uuid);
    expect(task).toMatchObject({ status: "done", owner: "alice", type: "backup" });
    expect(task.log).toContain("backed up");
    expect(task.log).not.toContain(PG_SECRET);
    const { json: archives } = await call(d, "GET", `/v1/archives?target=${ids.target}`);
    expect(archives).toHaveLength(1);
    const a = archives[0];
    expect(a).toMatchObject({ uuid: task.archive_uuid, status: "valid", compression: "zstd", cipher: "aes-256-gcm-chunked-v1" });
    expect(a.size).toBeGreaterThan(2_000_000);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    const stored = files(storeDir);
    expect(stored).toHaveLength(1);
    expect(statSync(join(storeDir, stored[0]!)).size).toBe(a.size);
    ids.archive = a.uuid;
  });

  test("restores in place after a table is dropped", async () => {
    const before = await fingerprint(srcUrl);
    const sql = postgres(srcUrl, { max: 1, onnotice: () => {} });
    await sql`DROP TABLE blobs`;
    await sql`DELETE FROM orders WHERE id % 2 = 0`;
    await sql.end();
    const r = await call(d, "POST", `/v1/archive/${ids.archive}/restore`, {});
    expect(r.json.ok).toBe("scheduled");
    const task = await waitTask(d, r.json.task_uuid);
    expect(task.status).toBe("done");
    expect(task.owner).toBe("admin"); // the requesting user
    expect(await fingerprint(srcUrl)).toEqual(before);
  });

  test("restores into another database, created when absent", async () => {
    const otherUrl = srcUrl.replace(/\/[^/]+$/, `/restored_${process.pid}`);
    const other = await created("/v1/targets", { name: "other", plugin: "postgres", endpoint: pgTarget(`restored_${process.pid}`), agent: "" });
    const r = await call(d, "POST", `/v1/archive/${ids.archive}/restore`, { target: other, owner: "bob" });
    const task = await waitTask(d, r.json.task_uuid);
    expect(task.status).toBe("done");
    expect(task.target_uuid).toBe(other);
    expect(await fingerprint(otherUrl)).toEqual(await fingerprint(srcUrl));
  });

  test("a wrong password or an unreachable host fails the task with a clear log", async () => {
    const t = await created("/v1/targets", { name: "unreachable", plugin: "postgres", endpoint: { ...pgTarget("x"), pg_port: 1 }, agent: "" });
    const j = await created("/v1/jobs", { name: "unreachable", target: t, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const before = files(storeDir);
    const task = await waitTask(d, (await call(d, "POST", `/v1/job/${j}/run`)).json.task_uuid);
    expect(task.status).toBe("failed");
    expect(task.log).toMatch(/target backup: .*(connect|refused|server)/i);
    expect(task.log).toContain("FAILED");
    expect(files(storeDir)).toEqual(before);
  });

  test("canceling a running backup stops it within a second and leaves nothing behind", async () => {
    const t = await created("/v1/targets", { name: "slow", plugin: "bytes-target", endpoint: { size: 100000, sleep: 30 }, agent: "" });
    const j = await created("/v1/jobs", { name: "slow", target: t, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const before = files(storeDir);
    const { json } = await call(d, "POST", `/v1/job/${j}/run`);
    for (let i = 0; i < 100 && (await call(d, "GET", `/v1/task/${json.task_uuid}`)).json.status !== "running"; i++) await Bun.sleep(50);
    await Bun.sleep(300);
    const started = Date.now();
    expect((await call(d, "DELETE", `/v1/task/${json.task_uuid}`)).json).toEqual({ ok: "canceled" });
    for (;;) {
      if (!Bun.spawnSync(["pgrep", "-fx", "sleep 30"]).stdout.toString().trim()) break;
      expect(Date.now() - started).toBeLessThan(1500);
      await Bun.sleep(50);
    }
    const task = await waitTask(d, json.task_uuid);
    expect(task.status).toBe("canceled");
    expect(files(storeDir)).toEqual(before);
    expect((await call(d, "GET", `/v1/archives?target=${t}`)).json).toEqual([]);
  });

  test("GET /v1/task/:uuid?wait= answers once the backup ended, through the daemon's own server", async () => {
    const t = await created("/v1/targets", { name: "pausing", plugin: "bytes-target", endpoint: { size: 100000, sleep: 2 }, agent: "" });
    const j = await created("/v1/jobs", { name: "pausing", target: t, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const started = performance.now();
    const { json } = await call(d, "POST", `/v1/job/${j}/run`);
    const task = (await call(d, "GET", `/v1/task/${json.task_uuid}?wait=8`)).json;
    expect(task.status).toBe("done");
    // One answer, after the target's 2 s pause and well before the 8 s were up.
    expect(performance.now() - started).toBeGreaterThan(1900);
    expect(performance.now() - started).toBeLessThan(7000);
  });

  test("no secret in the daemon's log", () => {
    expect(d.stderr()).not.toContain(PG_SECRET);
  });
});
