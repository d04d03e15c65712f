// The mysql target in physical mode, end to end: the compiled daemon drives a
// `shield agent` (a separate process on this machine, standing for the database
// host) that runs mariabackup against a private MariaDB's data directory; the
// archive is restored into a new private server (its data directory replaced,
// the server stopped and started by the harness's commands), and a restore whose
// start command fails puts the previous data directory back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgentProcess, type AgentProcess } from "../helpers/agent.ts";
import { ensureBinary, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { daemonApi } from "../helpers/api-client.ts";
import {
  ADMIN_PASSWORD, ADMIN_USER, fingerprint, mariadbAvailable, seedFixture, startMariadb, type MariadbServer,
} from "../helpers/mariadb.ts";
import { requireOrSkip } from "../helpers/services.ts";

const PASSWORD = "e2e-mysql-physical-password";
const { call, waitTask } = daemonApi("admin", PASSWORD, { waitMs: 180_000 });

const mariabackup = requireOrSkip("mariabackup", Bun.which("mariabackup") !== null && Bun.which("mbstream") !== null,
  "mariabackup and mbstream (Debian: apt install mariadb-backup)");

describe.skipIf(!mariadbAvailable || !mariabackup)("physical backup and restore of a MariaDB server through the agent", () => {
  let d: DaemonProcess;
  let agent: AgentProcess;
  let storeDir: string;
  let src: MariadbServer;
  let dst: MariadbServer;
  const ids: Record<string, string> = {};
  const endpoint = (s: MariadbServer, extra: Record<string, string> = {}) => ({
    mysql_host: "127.0.0.1", mysql_port: String(s.port), mysql_user: ADMIN_USER, mysql_password: ADMIN_PASSWORD,
    mysql_mode: "physical", mysql_data_dir: s.data, ...extra,
  });
  const created = async (path: string, body: unknown) => {
    const r = await call(d, "POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };

  beforeAll(async () => {
    [src, dst] = await Promise.all([startMariadb(), startMariadb()]);
    seedFixture(src);
    // Written after the seed, so that the redo log (not only the data files) carries rows to the copy.
    src.sql("CREATE TABLE shop.late (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB; INSERT INTO shop.late SELECT seq, CONCAT('late ', seq) FROM seq_1_to_2000;", "shop");
    dst.sql("CREATE DATABASE before_restore; CREATE TABLE before_restore.t (id INT PRIMARY KEY); INSERT INTO before_restore.t VALUES (1), (2), (3);");
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-mysql-phys-store-"));
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    agent = await startAgentProcess(["--core", d.url]);
    ids.store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    ids.schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
    ids.retention = await created("/v1/retention", { name: "week", expires: 604800 });
  }, 180_000);
  afterAll(async () => {
    await agent?.stop();
    await d?.stop();
    src?.stop();
    dst?.stop();
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  }, 60_000);

  test("validate: physical mode needs the data directory, and refuses what a whole-server copy cannot do", async () => {
    let r = await call(d, "POST", "/v1/targets", { name: "bad", plugin: "mysql", endpoint: { ...endpoint(src), mysql_data_dir: "" }, agent: agent.address });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json)).toContain("mysql_data_dir");
    r = await call(d, "POST", "/v1/targets", { name: "bad", plugin: "mysql", endpoint: endpoint(src, { mysql_database: "shop" }), agent: agent.address });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json)).toContain("whole server's data directory");
  });

  test("a target whose data directory is not on the plugin's host fails clearly, naming the agent, with no archive", async () => {
    const target = await created("/v1/targets", { name: "elsewhere", plugin: "mysql", endpoint: endpoint(src, { mysql_data_dir: "/nonexistent/mysql" }), agent: "" });
    const job = await created("/v1/jobs", { name: "elsewhere-job", target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const t = await waitTask(d, (await call(d, "POST", `/v1/job/${job}/run`)).json.task_uuid);
    expect(t.status).toBe("failed");
    expect(t.log).toContain("set the target's agent to the shield agent there");
    expect((await call(d, "GET", `/v1/archives?target=${target}`)).json).toHaveLength(0);
  });

  test("backs up through the agent and restores into a new server: rows, checksums, routines and grants match", async () => {
    ids.target = await created("/v1/targets", { name: "mariadb-phys", plugin: "mysql", endpoint: endpoint(src), agent: agent.address });
    // `test` of a target on an agent is not run from the core yet: the plugin's own, on this (the database) host.
    const tested = Bun.spawnSync([ensureBinary(), "plugin", "mysql", "test"], { env: { ...process.env, SHIELD_ENDPOINT: JSON.stringify(endpoint(src)) } });
    expect(tested.exitCode).toBe(0);
    expect(tested.stdout.toString()).toMatch(/mariabackup: .*MariaDB server 1\d\./);
    expect(tested.stdout.toString()).toContain("privilege RELOAD: yes");
    ids.job = await created("/v1/jobs", { name: "mariadb-phys-nightly", target: ids.target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const run = await waitTask(d, (await call(d, "POST", `/v1/job/${ids.job}/run`)).json.task_uuid);
    expect(run.log).not.toContain(ADMIN_PASSWORD);
    expect(run.status).toBe("done");
    expect(run.log).toContain(`runs on agent ${agent.address}`);
    expect(run.log).toContain("mariabackup completed OK");
    const { json: archives } = await call(d, "GET", `/v1/archives?target=${ids.target}`);
    expect(archives).toHaveLength(1);
    ids.archive = archives[0].uuid;

    const before = fingerprint(src, ["crm", "shop"]);
    const other = await created("/v1/targets", {
      name: "new-server", plugin: "mysql", agent: agent.address,
      endpoint: endpoint(dst, { mysql_stop_cmd: dst.stopCmd, mysql_start_cmd: dst.startCmd }),
    });
    const r = await call(d, "POST", `/v1/archive/${ids.archive}/restore`, { target: other });
    const rt = await waitTask(d, r.json.task_uuid);
    expect(rt.log).not.toContain(ADMIN_PASSWORD);
    expect(rt.status).toBe("done");
    expect(rt.log).toContain("mariabackup --prepare");
    expect(fingerprint(dst, ["crm", "shop"])).toEqual(before);
    expect(dst.sql("SELECT COUNT(*) FROM shop.late").trim()).toBe("2000");
    // The new server's own database is gone: its data directory is the source's now; nothing set aside is left.
    expect(dst.sql("SHOW DATABASES LIKE 'before_restore'").trim()).toBe("");
    expect(existsSync(`${dst.data.replace(/\/$/, "")}.shield-before-restore`)).toBe(false);
    expect(readdirSync(join(dst.data, "..")).filter((f) => f.startsWith(".shield-restore"))).toEqual([]);
    // Owned by the server's user, as the directory was.
    expect(statSync(join(dst.data, "shop", "late.ibd")).uid).toBe(statSync(dst.data).uid);
  }, 300_000);

  test("a restore whose start command fails puts the previous data directory back and starts the server", async () => {
    dst.sql("CREATE DATABASE kept; CREATE TABLE kept.t (id INT PRIMARY KEY); INSERT INTO kept.t VALUES (7);");
    const marker = join(dst.dir, "start-failed-once");
    // Fails the first time (after the data directory was replaced), starts the server the next.
    const startOnceFailing = `if [ -e '${marker}' ]; then ${dst.startCmd} else touch '${marker}'; echo 'refusing to start' >&2; exit 1; fi`;
    const target = await created("/v1/targets", {
      name: "failing-start", plugin: "mysql", agent: agent.address,
      endpoint: endpoint(dst, { mysql_stop_cmd: dst.stopCmd, mysql_start_cmd: startOnceFailing, mysql_timeout: "60" }),
    });
    const r = await call(d, "POST", `/v1/archive/${ids.archive}/restore`, { target });
    const rt = await waitTask(d, r.json.task_uuid);
    expect(rt.status).toBe("failed");
    expect(rt.log).toContain("refusing to start");
    expect(rt.log).toContain("the previous data directory is back and the server runs");
    expect(dst.sql("SELECT id FROM kept.t").trim()).toBe("7");
    expect(existsSync(`${dst.data.replace(/\/$/, "")}.shield-before-restore`)).toBe(false);
  }, 300_000);

  test("a logical archive is refused by a physical restore, before the server is touched", async () => {
    const logical = await created("/v1/targets", { name: "logical-src", plugin: "mysql", agent: "", endpoint: { mysql_host: "127.0.0.1", mysql_port: String(src.port), mysql_user: ADMIN_USER, mysql_password: ADMIN_PASSWORD, mysql_database: "crm" } });
    const job = await created("/v1/jobs", { name: "logical-job", target: logical, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    expect((await waitTask(d, (await call(d, "POST", `/v1/job/${job}/run`)).json.task_uuid)).status).toBe("done");
    const [archive] = (await call(d, "GET", `/v1/archives?target=${logical}`)).json;
    const target = await created("/v1/targets", { name: "phys-dst", plugin: "mysql", agent: agent.address, endpoint: endpoint(dst, { mysql_stop_cmd: "exit 1", mysql_start_cmd: "exit 1" }) });
    const rt = await waitTask(d, (await call(d, "POST", `/v1/archive/${archive.uuid}/restore`, { target })).json.task_uuid);
    expect(rt.status).toBe("failed");
    expect(rt.log).toContain('restore it with mysql_mode "logical"');
    expect(dst.sql("SELECT id FROM kept.t").trim()).toBe("7");
  }, 120_000);
});
