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
