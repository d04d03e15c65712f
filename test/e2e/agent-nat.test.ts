// Agents behind NAT (issue 13; the original Shield's #694), end to end with the
// compiled binary: `shield agent --core URL --name NAME` dials the daemon, which
// then drives it over that connection. A backup and restore through it, GET
// /v1/agents, the agent killed and restarted (it reconnects), the daemon
// restarted (the agent reconnects by itself, with backoff), a task waiting for a
// disconnected agent that comes back, and one that fails clearly after the wait.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runShield, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { startAgentProcess, type AgentProcess } from "../helpers/agent.ts";

const PASSWORD = "e2e-nat-password";
const FIXTURES = resolve(import.meta.dir, "../fixtures/plugins");
const WAIT_S = 4;
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;

/** Process groups of the processes whose command line holds `marker`, and whether a group has live members. */
function groupsWith(marker: string): number[] {
  const found = new Set<number>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (!readFileSync(`/proc/${e}/cmdline`, "utf8").includes(marker)) continue;
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      found.add(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]));
    } catch { /* gone meanwhile */ }
  }
  return [...found];
}
function groupAlive(pgid: number): boolean {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const rest = readFileSync(`/proc/${e}/stat`, "utf8").split(") ")[1]!.split(" ");
      if (Number(rest[2]) === pgid && rest[0] !== "Z") return true;
    } catch { /* gone */ }
  }
  return false;
}

test("shield agent --name: the token from the environment or a file; --token works but warns; bad names refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "shield-e2e-nat-args-"));
  try {
    const base = ["agent", "--core", "http://127.0.0.1:1", "--data-dir", join(dir, "data")];
    const env = { SHIELD_AGENT_TOKEN: "" };
    const noToken = runShield([...base, "--name", "db9"], { env });
    expect(noToken.status).toBe(1);
    expect(noToken.stderr).toContain("set SHIELD_AGENT_TOKEN, or give --token-file FILE");
    const ip = runShield([...base, "--name", "10.1.2.3", "--token-file", "/nonexistent"], { env });
    expect(ip.stderr).toContain("--name must be");
    const stray = runShield(["agent", "--authorized-keys", "/dev/null", "--token", "x"], { env });
    expect(stray.stderr).toContain("--token and --token-file are for --name NAME");
    const noCore = runShield(["agent", "--authorized-keys", "/dev/null", "--name", "db9"], { env: { SHIELD_AGENT_TOKEN: "t" } });
    expect(noCore.stderr).toContain("--name needs --core URL");
    // --token on the command line: it starts (here it then fails to reach the core) but says why it should not be used.
    const warned = runShield([...base, "--name", "db9", "--token", "visible-token"], { env });
    expect(warned.stderr).toContain("warning: --token shows the token to every user of this host");
    expect(warned.stderr).not.toContain("visible-token");
    const missingFile = runShield([...base, "--name", "db9", "--token-file", join(dir, "none")], { env });
    expect(missingFile.stderr).toContain("cannot read --token-file");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("an agent behind NAT dials the core", () => {
  let d: DaemonProcess;
  let daemonDir: string;
  let port: number;
  let agent: AgentProcess | undefined;
  let agentDir: string;
  let storeDir: string;
  let outDir: string;
  let token: string;
  const ids: Record<string, string> = {};

  const call = async (method: string, path: string, body?: unknown, auth = basic("admin", PASSWORD)) => {
    const r = await fetch(d.url + path, { method, headers: { authorization: auth, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as any };
  };
  const waitTask = async (uuid: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { json } = await call("GET", `/v1/task/${uuid}`);
      if (!["pending", "running"].includes(json.status)) return json;
      if (Date.now() > deadline) throw new Error(`task still ${json.status}: ${json.log}\n${d.stderr().slice(-3000)}`);
      await Bun.sleep(100);
    }
  };
  const natAgent = async () => (await call("GET", "/v1/agents")).json.find((a: any) => a.name === "db1");
  const startDaemon = () => startShieldDaemon({
    args: ["--plugin-dir", FIXTURES, "--agent-wait", `${WAIT_S}s`], env: { SHIELD_ADMIN_PASSWORD: PASSWORD }, cwd: daemonDir, port,
  });
  // The token in the environment, never in the arguments.
  const startAgent = () => startAgentProcess(["--core", d.url, "--name", "db1", "--plugin-dir", FIXTURES],
    { dials: true, dir: agentDir, keepDir: true, env: { SHIELD_AGENT_TOKEN: token } });
  const runJob = async () => (await call("POST", `/v1/job/${ids.job}/run`, {})).json.task_uuid as string;

  beforeAll(async () => {
    daemonDir = mkdtempSync(join(tmpdir(), "shield-e2e-nat-core-"));
    agentDir = mkdtempSync(join(tmpdir(), "shield-e2e-nat-agent-"));
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-nat-store-"));
    outDir = mkdtempSync(join(tmpdir(), "shield-e2e-nat-out-"));
    port = Number(new URL((d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD } })).url).port);
    await d.stop(); // only to learn a free port; the suite's daemon keeps its data dir across restarts
    d = await startDaemon();
    const operator = await call("POST", "/v1/users", { name: "ops", password: "ops-password-1", role: "operator" });
    expect(operator.status).toBe(200);
    token = (await call("POST", "/v1/auth/tokens", { name: "agent-db1" }, basic("ops", "ops-password-1"))).json.token;
    expect(token).toBeString();
    ids.schedule = (await call("POST", "/v1/schedules", { name: "daily", when: "daily at 4am" })).json.uuid;
    ids.retention = (await call("POST", "/v1/retention", { name: "week", expires: 604800 })).json.uuid;
    ids.store = (await call("POST", "/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } })).json.uuid;
  });
  afterAll(async () => {
    await agent?.stop();
    await d?.stop();
    for (const dir of [daemonDir, agentDir, storeDir, outDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the upgrade wants an operator's or admin's token: 401, 403, 400 and 426 otherwise", async () => {
    const ws = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" };
    const at = (q: string, h: Record<string, string>) => fetch(`${d.url}/v1/agents/connect${q}`, { headers: { ...ws, ...h } });
    expect((await at("?name=db1", { authorization: "Bearer not-a-token" })).status).toBe(401);
    await call("POST", "/v1/users", { name: "viewer", password: "viewer-password-1", role: "viewer" });
    const viewerToken = (await call("POST", "/v1/auth/tokens", { name: "v" }, basic("viewer", "viewer-password-1"))).json.token;
    const forbidden = await at("?name=db1", { authorization: `Bearer ${viewerToken}` });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as any).error).toContain("operator or admin");
    const badName = await at("?name=db1:5444", { authorization: `Bearer ${token}` });
    expect(badName.status).toBe(400);
    expect(((await badName.json()) as any).error).toContain("name must be");
    expect((await at("?name=db1&channel=nope", { authorization: `Bearer ${token}` })).status).toBe(404);
    const plain = await fetch(`${d.url}/v1/agents/connect?name=db1`, { headers: { authorization: `Bearer ${token}` } });
    expect(plain.status).toBe(426);
  });

  test("the agent connects; GET /v1/agents shows it; a backup and restore run through it", async () => {
    agent = await startAgent();
    // The token never shows in the agent's process arguments.
    expect(readFileSync(`/proc/${agent.proc.pid}/cmdline`, "utf8")).not.toContain(token);
    let a = await natAgent();
    expect(a).toMatchObject({ nat: true, reachable: true });
    // Its key is pinned at the first SSH contact (this listing's), by name: the token only lets it dial.
    expect(a.host_key).toMatch(/^SHA256:/);
    const size = 2 * 1024 * 1024 + 17;
    const t = await call("POST", "/v1/targets", { name: "bytes-nat", plugin: "bytes-target", endpoint: { size: String(size), out: join(outDir, "restored") }, agent: "db1" });
    expect(t.json).toMatchObject({ ok: "created" });
    ids.target = t.json.uuid;
    const j = await call("POST", "/v1/jobs", { name: "nat-job", target: ids.target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    ids.job = j.json.uuid;
    const task = await waitTask(await runJob());
    expect(task.status).toBe("done");
    expect(task.log).toContain("runs on agent db1");
    const [archive] = (await call("GET", `/v1/archives?target=${ids.target}`)).json;
    expect(archive).toMatchObject({ compression: "zstd", cipher: "aes-256-gcm-chunked-v1", raw_size: size });
    const r = await waitTask((await call("POST", `/v1/archive/${archive.uuid}/restore`, {})).json.task_uuid);
    expect(r.status).toBe("done");
    expect(statSync(join(outDir, "restored")).size).toBe(size);
    a = await natAgent();
    expect(a).toMatchObject({ nat: true, reachable: true, targets: ["bytes-nat"] });
    expect(a.host_key).toMatch(/^SHA256:/);
    expect(agent.output()).not.toContain(token);
  }, 90_000);

  test("cancel reaches the agent through the core's connection: its process group is gone within a second", async () => {
    const marker = `nat-slow-${Date.now()}`;
    const t = await call("POST", "/v1/targets", { name: "bytes-nat-slow", plugin: "bytes-target", endpoint: { size: String(65536 * 400), trickle: "0.1", tag: marker }, agent: "db1" });
    const j = await call("POST", "/v1/jobs", { name: "nat-slow-job", target: t.json.uuid, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const task = (await call("POST", `/v1/job/${j.json.uuid}/run`, {})).json.task_uuid;
    let groups: number[] = [];
    const deadline = Date.now() + 15_000;
    while (!(groups = groupsWith(marker)).length) {
      if (Date.now() > deadline) throw new Error("the plugin never ran on the agent");
      await Bun.sleep(50);
    }
    await Bun.sleep(500);
    const t0 = Date.now();
    expect((await call("DELETE", `/v1/task/${task}`)).json).toEqual({ ok: "canceled" });
    while (groups.some(groupAlive)) {
      if (Date.now() - t0 > 3000) throw new Error("the agent's plugin outlived the cancel");
      await Bun.sleep(20);
    }
    expect(Date.now() - t0).toBeLessThan(1500);
    expect((await waitTask(task)).status).toBe("canceled");
    expect((await call("GET", `/v1/archives?target=${t.json.uuid}`)).json).toHaveLength(0);
  }, 60_000);

  test("killed with -9, the agent shows disconnected; restarted, it reconnects and works", async () => {
    await agent!.stop("SIGKILL");
    const deadline = Date.now() + 10_000;
    let a;
    while ((a = await natAgent()).reachable && Date.now() < deadline) await Bun.sleep(100);
    expect(a).toMatchObject({ nat: true, reachable: false });
    expect(a.error).toContain("not connected");
    agent = await startAgent();
    expect(await natAgent()).toMatchObject({ reachable: true });
    expect((await waitTask(await runJob())).status).toBe("done");
  }, 60_000);

  test("the daemon restarted: the agent reconnects by itself", async () => {
    await d.stop();
    await Bun.sleep(1500); // the agent's first retries find no core
    d = await startDaemon();
    const deadline = Date.now() + 20_000;
    while (!(await natAgent())?.reachable) {
      if (Date.now() > deadline) throw new Error(`no reconnect: ${agent!.output().slice(-2000)}`);
      await Bun.sleep(200);
    }
    expect(agent!.output()).toContain("reconnecting");
    expect((await waitTask(await runJob())).status).toBe("done");
  }, 60_000);

  test("a task for a disconnected agent waits for it: done when it comes back within the wait", async () => {
    await agent!.stop("SIGKILL");
    while ((await natAgent()).reachable) await Bun.sleep(100);
    const task = await runJob();
    await Bun.sleep(1000);
    expect((await call("GET", `/v1/task/${task}`)).json.status).toBe("running");
    agent = await startAgent();
    expect((await waitTask(task)).status).toBe("done");
  }, 60_000);

  test("and fails clearly once the wait is over", async () => {
    await agent!.stop("SIGKILL");
    agent = undefined;
    while ((await natAgent()).reachable) await Bun.sleep(100);
    const started = Date.now();
    const task = await waitTask(await runJob());
    expect(task.status).toBe("failed");
    expect(Date.now() - started).toBeGreaterThanOrEqual(WAIT_S * 1000 - 500);
    expect(task.log).toContain(`runs on agent db1, which cannot take it: agent db1 dials the core and has not connected within ${WAIT_S} s`);
    // Nothing new in the store.
    expect((await call("GET", `/v1/archives?target=${ids.target}`)).json.length).toBe(4);
  }, 60_000);
});
