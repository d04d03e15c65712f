// A script's whole backup and restore of a real PostgreSQL database with the CLI
// alone: create everything, `run job --follow`, `restore archive --follow` in
// place and into another database, with --json and exit codes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { adminToken, cliFor } from "../helpers/cli.ts";
import { freshDatabase, pgAvailable, startPostgres } from "../helpers/postgres.ts";

const PASSWORD = "cli-follow-password";
const PG_SECRET = "pg-secret-never-printed";

async function fingerprint(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [o] = await sql`SELECT count(*)::int AS n, sum(total)::text AS s, md5(string_agg(note, ',' ORDER BY id)) AS h FROM orders`;
    return o;
  } finally {
    await sql.end();
  }
}

describe.skipIf(!pgAvailable)("shield run job --follow and restore archive --follow, PostgreSQL", () => {
  let d: DaemonProcess;
  let cli: ReturnType<typeof cliFor>;
  let storeDir: string;
  let srcUrl: string;
  let pgPort: number;
  let archive: string;
  const run = (...args: string[]) => cli.run(args, { timeoutMs: 90_000 });
  const endpoint = (db: string, port = pgPort) => JSON.stringify({ pg_host: "127.0.0.1", pg_port: port, pg_user: "postgres", pg_password: PG_SECRET, pg_database: db });

  beforeAll(async () => {
    srcUrl = await freshDatabase("clisrc");
    pgPort = (await startPostgres()).port;
    const sql = postgres(srcUrl, { max: 1, onnotice: () => {} });
    await sql`CREATE TABLE orders (id serial PRIMARY KEY, total numeric(10,2), note text)`;
    await sql`INSERT INTO orders (total, note) SELECT i * 1.5, md5(i::text) FROM generate_series(1, 50000) i`;
    await sql.end();
    storeDir = mkdtempSync(join(tmpdir(), "shield-test-cli-store-"));
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    cli = cliFor(d, await adminToken(d, PASSWORD));
  });
  afterAll(async () => {
    await d?.stop();
    cli?.cleanup();
    rmSync(storeDir, { recursive: true, force: true });
  });

  test("set up with the CLI: store, target, schedule, policy, job", async () => {
    const db = new URL(srcUrl).pathname.slice(1);
    for (const args of [
      ["create", "store", "--name", "disk", "--plugin", "fs", "--endpoint", JSON.stringify({ base_dir: storeDir })],
      ["create", "target", "--name", "orders-db", "--plugin", "postgres", "--endpoint", endpoint(db)],
      ["create", "schedule", "--name", "nightly", "--when", "daily at 4am"],
      ["create", "retention", "policy", "--name", "month", "--expires", "30d"],
      ["create", "job", "--name", "orders-nightly", "--target", "orders-db", "--store", "disk", "--schedule", "nightly", "--retention", "month", "--paused"],
    ]) {
      const r = await run(...args, "--json");
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: "" });
      expect(r.json().ok).toBe("created");
    }
  });

  test("run job --follow: the task log on stdout, the outcome on stderr and in the exit code", async () => {
    const r = await run("run", "job", "orders-nightly", "--follow");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /m);
    expect(r.stdout).toContain("backed up");
    expect(r.stderr).toMatch(/^backup of job orders-nightly: task [0-9a-f-]{36}\n/);
    expect(r.stderr).toMatch(/task [0-9a-f]{8} (pending|running)/);
    expect(r.stderr).toMatch(/task [0-9a-f]{8} done: archive [0-9a-f-]{36}\n$/);
    for (const out of [r.stdout, r.stderr]) expect(out).not.toContain(PG_SECRET);
    archive = r.stderr.match(/archive ([0-9a-f-]{36})/)![1]!;
    const archives = (await run("list", "archives", "--target", "orders-db", "--json")).json();
    expect(archives).toHaveLength(1);
    expect(archives[0]).toMatchObject({ uuid: archive, status: "valid", compression: "zstd" });
    expect(archives[0].size).toBeGreaterThan(100_000);
  });

  test("restore archive --follow in place, after rows are lost", async () => {
    const before = await fingerprint(srcUrl);
    const sql = postgres(srcUrl, { max: 1, onnotice: () => {} });
    await sql`DELETE FROM orders WHERE id % 3 = 0`;
    await sql.end();
    expect(await fingerprint(srcUrl)).not.toEqual(before);
    // No terminal: no question; -y is not needed in a script.
    const r = await run("restore", "archive", archive.slice(0, 8), "--follow");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("restored");
    expect(r.stderr).toMatch(/task [0-9a-f]{8} done\n$/);
    expect(await fingerprint(srcUrl)).toEqual(before);
  });

  test("restore archive --to another target --follow --json: the log on stderr, the task JSON on stdout", async () => {
    const otherDb = `cli_restored_${process.pid}`;
    expect((await run("create", "target", "--name", "orders-copy", "--plugin", "postgres", "--endpoint", endpoint(otherDb))).status).toBe(0);
    const r = await run("restore", "archive", archive, "--to", "orders-copy", "--follow", "--json");
    expect(r.status).toBe(0);
    const task = r.json();
    expect(task).toMatchObject({ type: "restore", status: "done", archive_uuid: archive, owner: "admin" });
    expect(r.stderr).toContain("restored");
    expect(await fingerprint(srcUrl.replace(/\/[^/]+$/, `/${otherDb}`))).toEqual(await fingerprint(srcUrl));
  });

  test("a backup that fails: --follow exits 4 and shows why", async () => {
    expect((await run("create", "target", "--name", "nowhere", "--plugin", "postgres", "--endpoint", endpoint("x", 1))).status).toBe(0);
    expect((await run("create", "job", "--name", "nowhere", "--target", "nowhere", "--store", "disk", "--schedule", "nightly", "--retention", "month", "--paused")).status).toBe(0);
    const r = await run("run", "job", "nowhere", "--follow");
    expect(r.status).toBe(4);
    expect(r.stdout).toMatch(/target backup: .*(connect|refused|server)/i);
    expect(r.stderr).toMatch(/task [0-9a-f]{8} failed\n$/);
    expect(r.stdout + r.stderr).not.toContain(PG_SECRET);
  });
});
