// A RabbitMQ broker through the API and the CLI: the compiled daemon backs up a
// seeded private node's definitions into the fs store (zstd, encrypted), restores
// the archive into a fresh node whose definitions then match (`shield run job
// --follow`, `shield restore archive --to --follow` too), and fails the task, with
// the broker's words and no archive, for a wrong password and a broker that is gone.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminToken, cliFor } from "../helpers/cli.ts";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { daemonApi } from "../helpers/api-client.ts";
import { rabbitAvailable, startNode, type RabbitNode } from "../helpers/rabbitmq.ts";
import { definitionsOf, seededRabbit } from "../helpers/rabbitmq-fixture.ts";

const PASSWORD = "e2e-rabbitmq-password";

const { call, waitTask } = daemonApi("admin", PASSWORD);

const files = (dir: string) => readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(join(dir, f)).isFile());

describe.skipIf(!rabbitAvailable)("backup and restore of RabbitMQ definitions through the API and the CLI", () => {
  let d: DaemonProcess;
  let src: RabbitNode;
  let fresh: RabbitNode;
  let storeDir: string;
  let cli: ReturnType<typeof cliFor>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    [src, fresh] = await Promise.all([seededRabbit(), startNode()]);
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-rmq-store-"));
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    cli = cliFor(d, await adminToken(d, PASSWORD));
  }, 120_000);
  afterAll(async () => {
    cli?.cleanup();
    await d?.stop();
    await fresh?.stop();
    rmSync(storeDir, { recursive: true, force: true });
  });

  const created = async (path: string, body: unknown) => {
    const r = await call(d, "POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };
  // As the web UI and CLI send them: every value a string.
  const endpoint = (n: RabbitNode, extra: Record<string, string> = {}) =>
    ({ rmq_url: n.url, rmq_username: n.username, rmq_password: n.password, skip_ssl_validation: "false", ...extra });
  const job = async (name: string, target: string) =>
    created("/v1/jobs", { name, target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });

  test("rabbitmq is listed with its fields; an endpoint asking for messages is a 400 with the plugin's words", async () => {
    const { json } = await call(d, "GET", "/v1/plugin/rabbitmq");
    expect(json.info.features).toEqual({ target: "yes", store: "no" });
    expect(json.info.fields.map((f: any) => f.name)).toEqual(["rmq_url", "rmq_username", "rmq_password", "skip_ssl_validation", "rmq_vhost"]);
    const bad = await call(d, "POST", "/v1/targets", { name: "msgs", plugin: "rabbitmq", endpoint: endpoint(src, { rmq_messages: "shovel" }), agent: "" });
    expect(bad.status).toBe(400);
    expect(bad.json.fields.endpoint).toContain(`"shovel" is not offered`);
    const url = await call(d, "POST", "/v1/targets", { name: "url", plugin: "rabbitmq", endpoint: endpoint(src, { rmq_url: "amqp://127.0.0.1:5672" }), agent: "" });
    expect(url.status).toBe(400);
    expect(url.json.fields.endpoint).toContain("rmq_url");
  });

  test("backs up the broker into the fs store: a valid archive", async () => {
    ids.store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    ids.schedule = await created("/v1/schedules", { name: "hourly", when: "hourly at :15" });
    ids.retention = await created("/v1/retention", { name: "week", expires: 604800 });
    ids.target = await created("/v1/targets", { name: "broker", plugin: "rabbitmq", endpoint: endpoint(src), agent: "" });
    const j = await job("broker-hourly", ids.target);
    const task = await waitTask(d, (await call(d, "POST", `/v1/job/${j}/run`)).json.task_uuid);
    expect(task.log).toContain("rabbitmq: exported");
    expect(task.status).toBe("done");
    expect(task.log).not.toContain(src.password);
    const { json: archives } = await call(d, "GET", `/v1/archives?target=${ids.target}`);
    expect(archives).toHaveLength(1);
    expect(archives[0]).toMatchObject({ status: "valid", compression: "zstd", cipher: "aes-256-gcm-chunked-v1" });
    ids.archive = archives[0].uuid;
  }, 60_000);

  test("restores the archive into a fresh node: its definitions match the source's", async () => {
    const other = await created("/v1/targets", { name: "fresh", plugin: "rabbitmq", endpoint: endpoint(fresh), agent: "" });
    const r = await call(d, "POST", `/v1/archive/${ids.archive}/restore`, { target: other });
    expect(r.json.ok).toBe("scheduled");
    const task = await waitTask(d, r.json.task_uuid);
    expect(task.log).toContain("checked: every queue, exchange and binding of the archive is on the broker");
    expect(task.status).toBe("done");
    expect(await definitionsOf(fresh)).toEqual(await definitionsOf(src));
  }, 60_000);

  test("the CLI: run job --follow, then restore archive --to the fresh node --follow puts back a deleted vhost", async () => {
    const run = (args: string[], input?: string) => cli.run(args, { input, timeoutMs: 90_000 });
    // The endpoint on stdin (`--endpoint -`): no password in the CLI's arguments either.
    for (const [name, n] of [["cli-src", src], ["cli-fresh", fresh]] as const) {
      const r = await run(["create", "target", "--name", name, "--plugin", "rabbitmq", "--endpoint", "-"], JSON.stringify(endpoint(n)));
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    }
    expect((await run(["create", "job", "--name", "cli-job", "--target", "cli-src", "--store", "disk", "--schedule", "hourly", "--retention", "week", "--paused"])).status).toBe(0);
    const backup = await run(["run", "job", "cli-job", "--follow"]);
    expect(backup.stdout).toContain("rabbitmq: exported");
    expect(backup.status).toBe(0);
    const archive = backup.stderr.match(/done: archive ([0-9a-f-]{36})/)![1]!;

    await fresh.api("DELETE", "/api/vhosts/shield-app");
    expect(await definitionsOf(fresh)).not.toEqual(await definitionsOf(src));
    const restore = await run(["restore", "archive", archive, "--to", "cli-fresh", "--follow"]);
    expect(restore.stdout).toContain("checked: every queue, exchange and binding of the archive is on the broker");
    expect(restore.status).toBe(0);
    expect(await definitionsOf(fresh)).toEqual(await definitionsOf(src));
    for (const out of [backup.stdout, backup.stderr, restore.stdout, restore.stderr]) expect(out).not.toContain(src.password);
  }, 120_000);

  test("a wrong password, and a broker that is gone: failed tasks in the broker's words, no archive", async () => {
    const before = files(storeDir);
    const wrong = await created("/v1/targets", { name: "wrong", plugin: "rabbitmq", endpoint: endpoint(src, { rmq_password: "not-the-password" }), agent: "" });
    const t1 = await waitTask(d, (await call(d, "POST", `/v1/job/${await job("wrong", wrong)}/run`)).json.task_uuid);
    expect(t1.status).toBe("failed");
    expect(t1.log).toContain("the broker refused GET /api/definitions: 401 Unauthorized: not_authorized: Login failed");
    expect(t1.log).not.toContain("not-the-password");

    await fresh.kill();
    const gone = await created("/v1/targets", { name: "gone", plugin: "rabbitmq", endpoint: endpoint(fresh), agent: "" });
    const t2 = await waitTask(d, (await call(d, "POST", `/v1/job/${await job("gone", gone)}/run`)).json.task_uuid);
    expect(t2.status).toBe("failed");
    expect(t2.log).toContain(`cannot reach the management API at ${fresh.url} (GET /api/definitions)`);
    // Restoring into it fails the same way, before anything else.
    const r = await call(d, "POST", `/v1/archive/${ids.archive}/restore`, { target: gone });
    const t3 = await waitTask(d, r.json.task_uuid);
    expect(t3.status).toBe("failed");
    expect(t3.log).toContain(`cannot reach the management API at ${fresh.url}`);

    expect(files(storeDir)).toEqual(before);
    for (const t of [wrong, gone]) expect((await call(d, "GET", `/v1/archives?target=${t}`)).json).toEqual([]);
  }, 60_000);

  test("no secret in the daemon's log", () => {
    expect(d.stderr()).not.toContain(src.password);
    expect(d.stderr()).not.toContain(fresh.password);
  });
});
