// A Redis server through the API: the compiled daemon backs up a seeded private
// server over the network (replication) into the fs store (zstd, encrypted),
// restores the archive into another server (an AOF one) whose every key, value
// and TTL then matches, and fails the task, with the server's words and no
// archive, for a wrong password and a server that is gone.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { daemonApi } from "../helpers/api-client.ts";
import { compare, seed, snapshot } from "../helpers/redis-fixture.ts";
import { redisAvailable, startRedis, type RedisServer } from "../helpers/redis.ts";

const PASSWORD = "e2e-redis-password";

const { call, waitTask } = daemonApi("admin", PASSWORD);

/** A TCP relay to a Redis port that passes `limit` bytes of the server's answers, then cuts both connections. */
function cuttingProxy(port: number, limit: number) {
  const server = Bun.listen<{ upstream?: Awaited<ReturnType<typeof Bun.connect>>; sent: number; pending: Uint8Array[] }>({
    hostname: "127.0.0.1", port: 0,
    socket: {
      async open(client) {
        client.data = { sent: 0, pending: [] };
        client.data.upstream = await Bun.connect({
          hostname: "127.0.0.1", port,
          socket: {
            data(up, chunk) {
              const room = limit - client.data.sent;
              if (room > 0) client.write(chunk.subarray(0, room));
              client.data.sent += chunk.byteLength;
              if (client.data.sent >= limit) { client.end(); up.end(); }
            },
            close() { client.end(); },
          },
        });
        for (const c of client.data.pending) client.data.upstream.write(c);
      },
      data(client, chunk) {
        if (client.data.upstream) client.data.upstream.write(chunk);
        else client.data.pending.push(new Uint8Array(chunk));
      },
      close(client) { client.data.upstream?.end(); },
    },
  });
  return { port: server.port, stop: () => server.stop(true) };
}

const files = (dir: string) => readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(join(dir, f)).isFile());

async function snap(s: RedisServer) {
  const c = await s.connect();
  try { return await snapshot(c); } finally { c.close(); }
}

describe.skipIf(!redisAvailable)("backup and restore of Redis through the API", () => {
  let d: DaemonProcess;
  let src: RedisServer;
  let dst: RedisServer;
  let storeDir: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    [src, dst] = await Promise.all([startRedis(), startRedis({ appendonly: true })]);
    const c = await src.connect();
    await seed(c);
    c.close();
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-redis-store-"));
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
    await Promise.all([src?.stop(), dst?.stop()]);
    rmSync(storeDir, { recursive: true, force: true });
  });

  const created = async (path: string, body: unknown) => {
    const r = await call(d, "POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };
  const job = async (name: string, target: string) =>
    created("/v1/jobs", { name, target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });

  test("redis is listed with its fields; a bad endpoint is a 400 with the plugin's words", async () => {
    const { json } = await call(d, "GET", "/v1/plugin/redis");
    expect(json.info.features).toEqual({ target: "yes", store: "no" });
    expect(json.info.fields.map((f: any) => f.name)).toEqual([
      "redis_host", "redis_port", "redis_user", "redis_password", "redis_tls", "skip_ssl_validation", "redis_data_dir", "redis_stop_cmd", "redis_start_cmd", "redis_timeout",
    ]);
    const bad = await call(d, "POST", "/v1/targets", { name: "bad", plugin: "redis", endpoint: src.endpoint({ redis_stop_cmd: "true" }), agent: "" });
    expect(bad.status).toBe(400);
    expect(bad.json.fields.endpoint).toContain("redis_stop_cmd");
  });

  test("backs up the server over the network into the fs store, and restores it into another: every key, value and TTL", async () => {
    ids.store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    ids.schedule = await created("/v1/schedules", { name: "hourly", when: "hourly at :15" });
    ids.retention = await created("/v1/retention", { name: "week", expires: 604800 });
    ids.target = await created("/v1/targets", { name: "cache", plugin: "redis", endpoint: src.endpoint(), agent: "" });
    const want = await snap(src);
    const wantAt = Date.now();
    const task = await waitTask(d, (await call(d, "POST", `/v1/job/${await job("cache-hourly", ids.target)}/run`)).json.task_uuid);
    expect(task.log).toContain("redis: received the whole RDB");
    expect(task.status).toBe("done");
    expect(task.log).not.toContain(src.password);
    const { json: archives } = await call(d, "GET", `/v1/archives?target=${ids.target}`);
    expect(archives).toHaveLength(1);
    expect(archives[0]).toMatchObject({ status: "valid", compression: "zstd", cipher: "aes-256-gcm-chunked-v1" });

    const other = await created("/v1/targets", { name: "fresh", plugin: "redis", endpoint: dst.endpoint(), agent: "" });
    const r = await call(d, "POST", `/v1/archive/${archives[0].uuid}/restore`, { target: other });
    expect(r.json.ok).toBe("scheduled");
    const restore = await waitTask(d, r.json.task_uuid);
    expect(restore.log).toContain("redis: restored 20 keys");
    expect(restore.status).toBe("done");
    const got = await snap(dst);
    const c = compare(want, got);
    expect(c.got).toEqual(c.want);
    for (const [, before, after] of c.ttls) expect(Math.abs(after - (before - (Date.now() - wantAt)))).toBeLessThan(1000);
  }, 90_000);

  test("a wrong password, a server that is gone, and one cut off mid-backup: failed tasks in the server's words, no archive", async () => {
    const before = files(storeDir);
    const wrong = await created("/v1/targets", { name: "wrong", plugin: "redis", endpoint: src.endpoint({ redis_password: "not-the-password" }), agent: "" });
    const t1 = await waitTask(d, (await call(d, "POST", `/v1/job/${await job("wrong", wrong)}/run`)).json.task_uuid);
    expect(t1.status).toBe("failed");
    expect(t1.log).toContain("WRONGPASS invalid username-password pair");
    expect(t1.log).not.toContain("not-the-password");

    const gone = await startRedis();
    gone.kill();
    const goneTarget = await created("/v1/targets", { name: "gone", plugin: "redis", endpoint: gone.endpoint(), agent: "" });
    const t2 = await waitTask(d, (await call(d, "POST", `/v1/job/${await job("gone", goneTarget)}/run`)).json.task_uuid);
    expect(t2.status).toBe("failed");
    expect(t2.log).toContain(`cannot connect to Redis at 127.0.0.1:${gone.port}`);
    await gone.stop();

    // The connection cut part way through the RDB.
    const proxy = cuttingProxy(src.port, 6000);
    const cut = await created("/v1/targets", { name: "cut", plugin: "redis", endpoint: src.endpoint({ redis_port: String(proxy.port) }), agent: "" });
    const t3 = await waitTask(d, (await call(d, "POST", `/v1/job/${await job("cut", cut)}/run`)).json.task_uuid);
    proxy.stop();
    expect(t3.status).toBe("failed");
    expect(t3.log).toMatch(/closed the connection after \d+ of the RDB's \d+ bytes/);

    expect(files(storeDir)).toEqual(before);
    for (const t of [wrong, goneTarget, cut]) expect((await call(d, "GET", `/v1/archives?target=${t}`)).json).toEqual([]);
  }, 60_000);

  test("no secret in the daemon's log", () => {
    expect(d.stderr()).not.toContain(src.password);
    expect(d.stderr()).not.toContain(dst.password);
  });
});
