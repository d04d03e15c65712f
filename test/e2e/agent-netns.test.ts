// The agent on "another host": its own network namespace, reached by the core only
// over a veth link, as in production. A backup and restore through it, and the
// namespace's link cut mid-backup (no archive; the agent kills its processes).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { apiClient } from "../helpers/api-client.ts";
import { startAgentProcess, type AgentProcess } from "../helpers/agent.ts";
import { makeNetNs, netnsAvailable, type NetNs } from "../helpers/netns.ts";
import { redisAvailable, startRedis, type RedisServer } from "../helpers/redis.ts";
import { compare, seed, snapshot } from "../helpers/redis-fixture.ts";
import { shield } from "../helpers/cli.ts";

const PASSWORD = "e2e-netns-password";
const FIXTURES = resolve(import.meta.dir, "../fixtures/plugins");

describe.skipIf(!netnsAvailable)("an agent in its own network namespace", () => {
  let d: DaemonProcess;
  let ns: NetNs;
  let agent: AgentProcess;
  let storeDir: string;
  let outDir: string;
  const call = (method: string, path: string, body?: unknown) => apiClient(d, "admin", PASSWORD).call(method, path, body);
  const waitTask = (uuid: string) => apiClient(d, "admin", PASSWORD).waitTask(uuid);
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    ns = makeNetNs();
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-netns-store-"));
    outDir = mkdtempSync(join(tmpdir(), "shield-e2e-netns-out-"));
    d = await startShieldDaemon({ args: ["--plugin-dir", FIXTURES], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    // The core's API is not reachable from the namespace: its key is handed over as a file.
    const keys = join(outDir, "core.keys");
    writeFileSync(keys, await (await fetch(`${d.url}/v1/meta/pubkey`)).text());
    agent = await startAgentProcess(["--authorized-keys", keys, "--plugin-dir", FIXTURES], { wrap: ns.exec, host: ns.nsAddress, port: 5444 });
    ids.store = (await call("POST", "/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } })).json.uuid;
    ids.schedule = (await call("POST", "/v1/schedules", { name: "daily", when: "daily at 4am" })).json.uuid;
    ids.retention = (await call("POST", "/v1/retention", { name: "week", expires: 604800 })).json.uuid;
  });
  afterAll(async () => {
    await agent?.stop();
    await d?.stop();
    ns?.remove();
    rmSync(storeDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });

  const job = async (name: string, endpoint: Record<string, unknown>) => {
    const t = await call("POST", "/v1/targets", { name, plugin: "bytes-target", endpoint, agent: agent.address });
    expect(t.json).toMatchObject({ ok: "created" });
    const j = await call("POST", "/v1/jobs", { name: `${name}-job`, target: t.json.uuid, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    return { target: t.json.uuid as string, job: j.json.uuid as string };
  };

  test("the core cannot reach the agent but over the link; a backup and restore through it", async () => {
    expect(agent.address.startsWith("10.231.")).toBe(true);
    const size = 5 * 1024 * 1024 + 7;
    // The restore's output lands inside the namespace's view of the same filesystem.
    const { job: j, target } = await job("across", { size: String(size), out: join(outDir, "restored") });
    const task = await waitTask((await call("POST", `/v1/job/${j}/run`, {})).json.task_uuid);
    expect(task.status).toBe("done");
    expect(task.log).toContain(`runs on agent ${agent.address}`);
    const [a] = (await call("GET", `/v1/archives?target=${target}`)).json;
    expect(a).toMatchObject({ raw_size: size, cipher: "aes-256-gcm-chunked-v1" });
    const r = await waitTask((await call("POST", `/v1/archive/${a.uuid}/restore`, {})).json.task_uuid);
    expect(r.status).toBe("done");
    expect(statSync(join(outDir, "restored")).size).toBe(size);
  });

  test.skipIf(!redisAvailable)("Redis beside the agent, AOF off and on: backed up on a schedule through the agent, restored; every key, value and TTL matches", async () => {
    const snap = async (r: RedisServer) => { const c = await r.connect(); try { return await snapshot(c); } finally { c.close(); } };
    // On the data host: the harness reaches them over the link only to seed and read them.
    const servers = { rdb: await startRedis({ netns: ns }), aof: await startRedis({ appendonly: true, netns: ns }) };
    try {
      const want: Record<string, Awaited<ReturnType<typeof snapshot>>> = {};
      const wantAt: Record<string, number> = {};
      for (const [k, r] of Object.entries(servers)) {
        const c = await r.connect();
        try { await seed(c); } finally { c.close(); }
        wantAt[k] = Date.now(); // the TTLs as read now
        want[k] = await snap(r);
      }
      // A real schedule (every minute), jobs not paused: the scheduler starts them, owned by "system".
      const minute = (await call("POST", "/v1/schedules", { name: "every-minute", when: "every minute" })).json.uuid;
      const jobs: Record<string, string> = {};
      for (const [k, r] of Object.entries(servers)) {
        // On the agent: redis_data_dir (BGSAVE, then the RDB file) and the commands that stop and start it.
        const t = await call("POST", "/v1/targets", { name: `redis-${k}`, plugin: "redis", endpoint: r.local(), agent: agent.address });
        expect(t.json).toMatchObject({ ok: "created" });
        jobs[k] = (await call("POST", "/v1/jobs", { name: `redis-${k}-job`, target: t.json.uuid, store: ids.store, schedule: minute, retention: ids.retention, paused: false })).json.uuid;
      }
      const archives: Record<string, any> = {};
      for (const [k, j] of Object.entries(jobs)) {
        let task: any;
        for (const deadline = Date.now() + 100_000; ;) {
          task = (await call("GET", `/v1/tasks?job=${j}`)).json.find((t: any) => t.owner === "system" && !["pending", "running"].includes(t.status));
          if (task) break;
          if (Date.now() > deadline) throw new Error(`no scheduled backup of redis-${k} finished within 100 s`);
          await Bun.sleep(500);
        }
        // No second run while this one is restored.
        expect((await call("POST", `/v1/job/${j}/pause`, {})).status).toBe(200);
        task = await waitTask(task.uuid);
        expect(task.status).toBe("done");
        expect(task.log).toContain(`runs on agent ${agent.address}`);
        expect(task.log).toContain("the archive comes over the agent's data port");
        archives[k] = (await call("GET", `/v1/archive/${task.archive_uuid}`)).json;
        expect(archives[k]).toMatchObject({ cipher: "aes-256-gcm-chunked-v1", compression: "zstd" });
      }
      // Lose the data, then restore: the RDB server through the API, the AOF one with the CLI.
      for (const r of Object.values(servers)) {
        const c = await r.connect();
        try { await c.call("FLUSHALL"); await c.call("SET", "written-after-the-backup", "gone after the restore"); } finally { c.close(); }
      }
      const viaApi = await waitTask((await call("POST", `/v1/archive/${archives.rdb.uuid}/restore`, {})).json.task_uuid);
      expect(viaApi.status).toBe("done");
      const token = (await call("POST", "/v1/auth/tokens", { name: "cli" })).json.token;
      const cli = await shield(["restore", "archive", archives.aof.uuid, "-y", "--follow"], { env: { SHIELD_CORE: d.url, SHIELD_TOKEN: token }, timeoutMs: 120_000 });
      expect(cli.status).toBe(0);
      expect(cli.stdout + cli.stderr).toContain("task done");
      for (const [k, r] of Object.entries(servers)) {
        const gotAt = Date.now();
        const got = await snap(r);
        const c = compare(want[k]!, got);
        expect(c.got).toEqual(c.want);
        expect(c.ttls.length).toBeGreaterThan(0);
        // Each TTL what it was, less the time gone by since it was read.
        for (const [, before, after] of c.ttls) expect(Math.abs(after - (before - (gotAt - wantAt[k]!)))).toBeLessThan(1000);
      }
      // The AOF server loads its AOF at start: still append-only, with an AOF rewritten from the restored data.
      const c = await servers.aof.connect();
      try { expect(((await c.call("CONFIG", "GET", "appendonly")) as Buffer[]).map(String)).toEqual(["appendonly", "yes"]); } finally { c.close(); }
      expect(readFileSync(join(servers.aof.dir, "appendonlydir", "appendonly.aof.manifest"), "utf8")).toContain("type b");
      // Restarted by the restore: once more by hand, to see the data set survive a plain restart.
      Bun.spawnSync(["sh", "-c", servers.aof.stopCmd]);
      await servers.aof.start();
      const again = compare(want.aof!, await snap(servers.aof));
      expect(again.got).toEqual(again.want);
    } finally {
      await servers.rdb.stop();
      await servers.aof.stop();
    }
  }, 240_000);

  test("the link cut mid-backup: the task fails, no archive, and the agent's processes go", async () => {
    const marker = `netns-cut-${Date.now()}`;
    const before = readdirSync(storeDir, { recursive: true }).length;
    const { job: j, target } = await job("cut", { size: String(65536 * 600), trickle: "0.05", tag: marker });
    const uuid = (await call("POST", `/v1/job/${j}/run`, {})).json.task_uuid;
    const running = () => readdirSync("/proc").filter((e) => /^\d+$/.test(e)).some((e) => {
      try { return readFileSync(`/proc/${e}/cmdline`, "utf8").includes(marker); } catch { return false; }
    });
    for (const deadline = Date.now() + 15_000; !running();) {
      if (Date.now() > deadline) throw new Error("the backup never started on the agent");
      await Bun.sleep(50);
    }
    await Bun.sleep(300);
    // The agent's side of the link goes down: no FIN, no RST, just silence (SSH keepalives notice).
    Bun.spawnSync([...ns.exec, "ip", "link", "set", "lo", "down"]);
    Bun.spawnSync(["ip", "netns", "exec", ns.name, "sh", "-c", "for i in $(ip -o link show | awk -F': ' '{print $2}' | grep '^vn' | cut -d@ -f1); do ip link set $i down; done"]);
    const task = await waitTask(uuid);
    expect(task.status).toBe("failed");
    expect((await call("GET", `/v1/archives?target=${target}`)).json).toHaveLength(0);
    expect(readdirSync(storeDir, { recursive: true }).length).toBe(before);
    // The agent heard no keepalive for 20 s: it closed the connection and killed the plugin's processes.
    for (const deadline = Date.now() + 30_000; running();) {
      if (Date.now() > deadline) throw new Error("the plugin still runs on the agent after its core went silent");
      await Bun.sleep(200);
    }
    expect(agent.output()).toContain("the core went silent");
    console.log(`link cut: the task failed with: ${task.log.trim().split("\n").slice(-3).join(" | ")}`);
  }, 90_000);
});
