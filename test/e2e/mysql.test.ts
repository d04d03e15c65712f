// The mysql target end to end, through the API alone: the compiled daemon backs up
// a whole private MariaDB server into the fs store and restores it into a new,
// empty server; bad input fails the task with the server's words and no archive.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminToken, cliFor } from "../helpers/cli.ts";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { daemonApi } from "../helpers/api-client.ts";
import { descendants } from "../helpers/processes.ts";
import { eventually } from "../helpers/services.ts";
import {
  ADMIN_PASSWORD, ADMIN_USER, fingerprint, mariadbAvailable, seedFixture, startMariadb, type MariadbServer,
} from "../helpers/mariadb.ts";

const PASSWORD = "e2e-mysql-password";

const { call, waitTask } = daemonApi("admin", PASSWORD, { waitMs: 90_000 });

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(join(dir, f)).isFile());
}

describe.skipIf(!mariadbAvailable)("backup and restore of a MariaDB server through the API", () => {
  let d: DaemonProcess;
  let storeDir: string;
  let src: MariadbServer;
  let dst: MariadbServer;
  const ids: Record<string, string> = {};
  // Endpoints as the original Shield's forms send them: every value a string.
  const endpoint = (s: MariadbServer, extra: Record<string, string> = {}) => ({
    mysql_host: "127.0.0.1", mysql_port: String(s.port), mysql_user: ADMIN_USER, mysql_password: ADMIN_PASSWORD, mysql_database: "", ...extra,
  });

  beforeAll(async () => {
    src = await startMariadb();
    dst = await startMariadb();
    seedFixture(src);
    // 16 MiB that zstd cannot shrink: the dump outlasts a look at the processes, and zstd's
    // output fills the pipe to the store's guard while the plugin writes its own lines.
    src.sql("USE crm; CREATE TABLE noise (id INT PRIMARY KEY, b BLOB NOT NULL) ENGINE=InnoDB; " +
      "INSERT INTO noise SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_16384;");
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-mysql-store-"));
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
  });
  afterAll(async () => {
    await d?.stop();
    src?.stop();
    dst?.stop();
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  });

  const created = async (path: string, body: unknown) => {
    const r = await call(d, "POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };

  test("the mysql plugin is listed with its fields", async () => {
    const { json } = await call(d, "GET", "/v1/plugin/mysql");
    expect(json.info.features).toEqual({ target: "yes", store: "no" });
    expect(json.info.fields.map((f: any) => f.name)).toContain("mysql_read_replica");
  });

  test("an endpoint asking for physical mode without its data directory is refused with a 400 naming it", async () => {
    const r = await call(d, "POST", "/v1/targets", { name: "phys", plugin: "mysql", endpoint: { ...endpoint(src), mysql_mode: "physical" }, agent: "" });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json)).toContain("mysql_data_dir");
  });

  test("backs up the whole server and restores it into a new, empty one", async () => {
    ids.store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    ids.target = await created("/v1/targets", { name: "mariadb", plugin: "mysql", endpoint: endpoint(src), agent: "" });
    ids.schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
    ids.retention = await created("/v1/retention", { name: "week", expires: 604800 });
    ids.job = await created("/v1/jobs", { name: "mariadb-nightly", target: ids.target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const started = (await call(d, "POST", `/v1/job/${ids.job}/run`)).json.task_uuid;
    // The built-in target's dump runs in the built-in store's guard (guard.ts, --with-source):
    // one guard for the whole backup, its header lines written beside the dump's bytes.
    let seen: { pid: number; cmd: string }[] = [];
    await eventually(() => (seen = descendants(d.proc.pid!)).some((p) => /(^|\/)mariadb-dump /.test(p.cmd)), 30_000, "mariadb-dump to run", 5);
    expect(seen.filter((p) => p.cmd.includes(" guard")).map((p) => p.cmd.includes("--with-source"))).toEqual([true]);
    const run = await waitTask(d, started);
    expect(run.log).not.toContain(ADMIN_PASSWORD);
    expect(run.status).toBe("done");
    const { json: archives } = await call(d, "GET", `/v1/archives?target=${ids.target}`);
    expect(archives).toHaveLength(1);
    expect(archives[0]).toMatchObject({ status: "valid", compression: "zstd" });

    const other = await created("/v1/targets", { name: "new-server", plugin: "mysql", endpoint: endpoint(dst), agent: "" });
    const r = await call(d, "POST", `/v1/archive/${archives[0].uuid}/restore`, { target: other });
    const task = await waitTask(d, r.json.task_uuid);
    expect(task.log).not.toContain(ADMIN_PASSWORD);
    expect(task.status).toBe("done");
    expect(fingerprint(dst)).toEqual(fingerprint(src));
  });

  const failedBackup = async (name: string, ep: Record<string, string>) => {
    const t = await created("/v1/targets", { name, plugin: "mysql", endpoint: ep, agent: "" });
    const j = await created("/v1/jobs", { name, target: t, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const before = files(storeDir);
    const task = await waitTask(d, (await call(d, "POST", `/v1/job/${j}/run`)).json.task_uuid);
    expect(task.status).toBe("failed");
    expect(files(storeDir)).toEqual(before);
    expect((await call(d, "GET", `/v1/archives?target=${t}`)).json).toEqual([]);
    return task.log as string;
  };

  test("a wrong password fails the task with the server's words and no archive", async () => {
    const log = await failedBackup("wrong-password", { ...endpoint(src), mysql_password: "not-the-password" });
    expect(log).toContain("Access denied for user");
    expect(log).not.toContain("not-the-password");
  });

  test("an unknown database fails the task with the server's words and no archive", async () => {
    expect(await failedBackup("unknown-db", endpoint(src, { mysql_database: "no_such_db" }))).toContain("Unknown database 'no_such_db'");
  });

  test("a server that goes away mid-dump fails the task with the server's words and no archive", async () => {
    const doomed = await startMariadb();
    try {
      seedFixture(doomed, { documents: 20000 });
      const t = await created("/v1/targets", { name: "doomed", plugin: "mysql", endpoint: endpoint(doomed), agent: "" });
      const j = await created("/v1/jobs", { name: "doomed", target: t, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true, compression: "none" });
      const before = files(storeDir);
      const { json } = await call(d, "POST", `/v1/job/${j}/run`);
      // Only this test's dumps run with a shield-mysql option-file pipe.
      const deadline = Date.now() + 30_000;
      while (Bun.spawnSync(["pgrep", "-f", "mariadb-dump --defaults-file=/tmp/shield-mysql-"]).exitCode !== 0) {
        expect(Date.now()).toBeLessThan(deadline);
        await Bun.sleep(5);
      }
      process.kill(doomed.pid, "SIGKILL");
      const task = await waitTask(d, json.task_uuid);
      expect(task.status).toBe("failed");
      expect(task.log).toMatch(/Lost connection to (MySQL |MariaDB )?server|[Ss]erver has gone away|Can't connect to (MySQL |MariaDB )?server/);
      expect(files(storeDir)).toEqual(before);
      expect((await call(d, "GET", `/v1/archives?target=${t}`)).json).toEqual([]);
    } finally {
      doomed.stop();
    }
  });

  test("the CLI: run job --follow, then restore archive --to another target --follow", async () => {
    const cli = cliFor(d, await adminToken(d, PASSWORD));
    try {
      const ok = async (args: string[], input?: string) => {
        const r = await cli.run(args, { input, timeoutMs: 90_000 });
        expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: expect.any(String) });
        return r;
      };
      // The endpoint (and its password) on stdin, never in argv.
      await ok(["create", "target", "--name", "shop-db", "--plugin", "mysql", "--endpoint", "-"], JSON.stringify(endpoint(src, { mysql_database: "shop" })));
      await ok(["create", "target", "--name", "shop-cli", "--plugin", "mysql", "--endpoint", "-"], JSON.stringify(endpoint(dst, { mysql_database: "shop_cli" })));
      await ok(["create", "job", "--name", "shop-nightly", "--target", "shop-db", "--store", "disk", "--schedule", "daily", "--retention", "week", "--paused"]);
      const backup = await ok(["run", "job", "shop-nightly", "--follow"]);
      expect(backup.stdout).not.toContain(ADMIN_PASSWORD);
      const archive = /archive ([0-9a-f-]{36})/.exec(backup.stderr)![1]!;
      const restore = await ok(["restore", "archive", archive.slice(0, 8), "--to", "shop-cli", "--follow"]);
      expect(restore.stdout).toContain('created database "shop_cli"');
      const shop = (fp: any, db: string) => ({
        counts: Object.entries(fp.counts).filter(([t]) => t.startsWith(`${db}.`)).map(([t, n]) => [t.slice(db.length + 1), n]),
        checksums: fp.checksums.filter((c: string) => c.startsWith(`${db}.`)).map((c: string) => c.slice(db.length + 1)),
        routines: fp.routines.map((r: string) => r.slice(db.length + 1)),
      });
      expect(shop(fingerprint(dst, ["shop_cli"]), "shop_cli")).toEqual(shop(fingerprint(src, ["shop"]), "shop"));
    } finally {
      cli.cleanup();
    }
  });

  test("no secret in the daemon's log", () => {
    expect(d.stderr()).not.toContain(ADMIN_PASSWORD);
  });
});
