// The agent end to end: the compiled daemon drives a compiled `shield agent`, a
// separate process on its own port, over SSH. Key pinning both ways, a PostgreSQL
// backup and restore through the agent (compressed and sealed on the agent), an
// unreachable agent failing the task, a stream cut by killing the agent, cancel,
// and the agent killed with -9 mid-restore.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, createServer } from "node:net";
import postgres from "postgres";
import { ensureBinary, runShield, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { randomBytes } from "node:crypto";
import { RESULT_PREFIX, type BackupReport } from "../../src/agent/protocol.ts";
import { decryptStream } from "../../src/pipeline/encryption.ts";
import { daemonApi } from "../helpers/api-client.ts";
import { startAgentProcess, type AgentProcess } from "../helpers/agent.ts";
import { freshDatabase, pgAvailable, startPostgres } from "../helpers/postgres.ts";
import { freePort } from "../helpers/services.ts";
import { alive, cmdline, descendants, stat } from "../helpers/processes.ts";
import { WebClient } from "../web/session-client.ts";

const PASSWORD = "e2e-agent-password";
const PG_SECRET = "pg-secret-never-logged";
const FIXTURES = resolve(import.meta.dir, "../fixtures/plugins");

const { call, waitTask } = daemonApi("admin", PASSWORD, { stderrOnTimeout: true });

async function waitLog(d: DaemonProcess, uuid: string, text: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { json } = await call(d, "GET", `/v1/task/${uuid}`);
    if (json.log?.includes(text)) return json;
    if (!["pending", "running"].includes(json.status)) throw new Error(`task ${json.status} before "${text}": ${json.log}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" in: ${json.log}`);
    await Bun.sleep(50);
  }
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(join(dir, f)).isFile());
}

/** Processes whose command line holds `marker`, with their process groups. */
function processesWith(marker: string): { pid: number; pgid: number }[] {
  const found = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (!readFileSync(`/proc/${e}/cmdline`, "utf8").includes(marker)) continue;
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      found.push({ pid: Number(e), pgid: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) });
    } catch { /* gone meanwhile */ }
  }
  return found;
}

/** Live (not zombie) processes of a process group. */
function groupMembers(pgid: number): number[] {
  const found = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[2]) === pgid && rest[0] !== "Z") found.push(Number(e));
    } catch { /* gone */ }
  }
  return found;
}

async function until(what: string, ok: () => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

test("shield agent --help shows how to run it as a systemd service; no core key is a usage error", () => {
  const help = runShield(["agent", "--help"]);
  expect(help.status).toBe(0);
  expect(help.stdout).toContain("--authorized-keys FILE");
  expect(help.stdout).toContain("systemctl enable --now shield-agent");
  const bare = runShield(["agent", "--listen", "127.0.0.1:1"]);
  expect(bare.status).toBe(1);
  expect(bare.stderr).toContain("needs --authorized-keys FILE or --core URL");
});

describe("the core drives a shield agent", () => {
  let d: DaemonProcess;
  let agent: AgentProcess;
  let storeDir: string;
  let outDir: string;
  const ids: Record<string, string> = {};

  // The agent has a plugin the core lacks: only the agent can validate and run it.
  let agentOnly: string;
  const agentArgs = () => ["--core", d.url, "--plugin-dir", FIXTURES, "--plugin-dir", agentOnly];

  beforeAll(async () => {
    agentOnly = mkdtempSync(join(tmpdir(), "shield-e2e-agent-plugins-"));
    copyFileSync(join(FIXTURES, "common.sh"), join(agentOnly, "common.sh"));
    copyFileSync(join(FIXTURES, "bytes-target"), join(agentOnly, "only-on-agent"));
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-agent-store-"));
    outDir = mkdtempSync(join(tmpdir(), "shield-e2e-agent-out-"));
    d = await startShieldDaemon({ args: ["--plugin-dir", FIXTURES], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    // --core: the agent fetches the core's key once and pins it.
    agent = await startAgentProcess(agentArgs(), { keepDir: true });
    ids.schedule = (await call(d, "POST", "/v1/schedules", { name: "daily", when: "daily at 4am" })).json.uuid;
    ids.retention = (await call(d, "POST", "/v1/retention", { name: "week", expires: 604800 })).json.uuid;
    ids.store = (await call(d, "POST", "/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } })).json.uuid;
  });
  afterAll(async () => {
    await agent?.stop();
    if (agent) rmSync(agent.dir, { recursive: true, force: true });
    await d?.stop();
    rmSync(storeDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
    rmSync(agentOnly, { recursive: true, force: true });
  });

  async function job(name: string, agentAddress: string, endpoint: Record<string, unknown>, plugin = "bytes-target") {
    const target = await call(d, "POST", "/v1/targets", { name, plugin, endpoint, agent: agentAddress });
    expect(target.json).toMatchObject({ ok: "created" });
    const j = await call(d, "POST", "/v1/jobs", { name: `${name}-job`, target: target.json.uuid, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    expect(j.json).toMatchObject({ ok: "created" });
    return { target: target.json.uuid as string, job: j.json.uuid as string };
  }
  async function runJob(jobUuid: string) {
    return (await call(d, "POST", `/v1/job/${jobUuid}/run`, {})).json.task_uuid as string;
  }

  test("the agent pinned the core's key and printed its fingerprint", async () => {
    const pub = await (await fetch(`${d.url}/v1/meta/pubkey`)).text();
    expect(readFileSync(join(agent.dir, "core.pub"), "utf8").trim()).toBe(pub.trim());
    expect(agent.output()).toMatch(/Pinned the core's key from .* SHA256:[A-Za-z0-9+/]{43}/);
  });

  test("a backup and restore through the agent: sealed on the agent, the bytes come back whole", async () => {
    const size = 3 * 1024 * 1024 + 123;
    const { job: j, target } = await job("bytes-on-agent", agent.address, { size: String(size), out: join(outDir, "restored") });
    const task = await waitTask(d, await runJob(j));
    expect(task.status).toBe("done");
    expect(task.log).toContain(`runs on agent ${agent.address}`);
    expect(task.log).toContain(`on agent ${agent.address}`);
    // The sealed archive came over the agent's data port, not the SSH channel.
    expect(task.log).toContain("the archive comes over the agent's data port");
    const archives = (await call(d, "GET", `/v1/archives?target=${target}`)).json;
    expect(archives).toHaveLength(1);
    expect(archives[0]).toMatchObject({ compression: "zstd", cipher: "aes-256-gcm-chunked-v1", raw_size: size });
    // What reached the store is the sealed archive format, not the target's bytes.
    const stored = files(storeDir);
    expect(stored).toHaveLength(1);
    const blob = readFileSync(join(storeDir, stored[0]!));
    expect(blob.length).toBe(archives[0].size);
    expect(new Bun.CryptoHasher("sha256").update(blob).digest("hex")).toBe(archives[0].sha256);
    // The core pinned the agent's key at first contact.
    const agents = (await call(d, "GET", "/v1/agents")).json;
    const a = agents.find((x: any) => x.name === agent.address);
    expect(a).toMatchObject({ reachable: true, targets: ["bytes-on-agent"] });
    expect(a.host_key).toMatch(/^SHA256:/);
    expect(a.plugins.map((p: any) => p.name)).toContain("bytes-target");
    expect(a.plugins.map((p: any) => p.name)).toContain("postgres");

    // The targets page shows the agent's state beside the target.
    const web = new WebClient({ request: (u: string, init: RequestInit) => fetch(u, { ...init, redirect: "manual" }) } as any, d.url);
    await web.get("/signin");
    await web.request("POST", "/signin", { form: { _csrf: web.csrf, name: "admin", password: PASSWORD, next: "/targets" } });
    const targetsPage = await web.get("/targets");
    expect(targetsPage.html).toContain(`${agent.address} <span class="muted" title="key ${a.host_key}">reachable, shield`);

    const r = await call(d, "POST", `/v1/archive/${archives[0].uuid}/restore`, {});
    const rt = await waitTask(d, r.json.task_uuid);
    expect(rt.status).toBe("done");
    const back = readFileSync(join(outDir, "restored"));
    expect(back.length).toBe(size);
    const expected = Bun.spawnSync(["sh", "-c", `openssl enc -aes-128-ctr -nosalt -pass pass:seed -in /dev/zero 2>/dev/null | head -c ${size} | sha256sum`]).stdout.toString().split(" ")[0]!;
    expect(new Bun.CryptoHasher("sha256").update(back).digest("hex")).toBe(expected);
    ids.archive = archives[0].uuid;
  });

  test("gzip and no compression through the agent, encrypted, come back whole", async () => {
    for (const compression of ["gzip", "none"]) {
      const size = 1024 * 1024 + 5;
      const out = join(outDir, `restored-${compression}`);
      const t = await call(d, "POST", "/v1/targets", { name: `bytes-${compression}`, plugin: "bytes-target", endpoint: { size: String(size), out }, agent: agent.address });
      const j = await call(d, "POST", "/v1/jobs", { name: `bytes-${compression}-job`, target: t.json.uuid, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true, compression });
      expect(j.json).toMatchObject({ ok: "created" });
      expect((await waitTask(d, await runJob(j.json.uuid))).status).toBe("done");
      const [a] = (await call(d, "GET", `/v1/archives?target=${t.json.uuid}`)).json;
      expect(a).toMatchObject({ compression, cipher: "aes-256-gcm-chunked-v1", raw_size: compression === "gzip" ? null : size });
      const r = await waitTask(d, (await call(d, "POST", `/v1/archive/${a.uuid}/restore`, {})).json.task_uuid);
      expect(r.status).toBe("done");
      expect(statSync(out).size).toBe(size);
    }
  });

  test("a target that fails half way on the agent is no archive, compressed or not (its pipe to zstd ends early)", async () => {
    for (const compression of ["zstd", "none"]) {
      const t = await call(d, "POST", "/v1/targets", { name: `bytes-fails-${compression}`, plugin: "bytes-target", endpoint: { size: String(4 << 20), fail_after: String(1 << 20), out: join(outDir, "never") }, agent: agent.address });
      const j = await call(d, "POST", "/v1/jobs", { name: `bytes-fails-${compression}-job`, target: t.json.uuid, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true, compression });
      const before = files(storeDir).length;
      const task = await waitTask(d, await runJob(j.json.uuid));
      expect(task.status).toBe("failed");
      expect(task.log).toContain("target backup failed (exit 1)");
      expect((await call(d, "GET", `/v1/archives?target=${t.json.uuid}`)).json).toHaveLength(0);
      expect(files(storeDir).length).toBe(before);
    }
  });

  test("an agent whose data port the core cannot reach: the archive goes over SSH, and the task log says so", async () => {
    // Only the SSH port forwarded (a firewall letting 5444 through, not the data port): the
    // agent listens on 127.0.0.2, the core reaches it through a forwarder on 127.0.0.1.
    const lone = await startAgentProcess(agentArgs(), { host: "127.0.0.2" });
    const forward = createServer((c) => {
      const up = connect({ host: "127.0.0.2", port: lone.port });
      c.pipe(up).pipe(c);
      c.on("error", () => up.destroy());
      up.on("error", () => c.destroy());
    });
    await new Promise<void>((r) => forward.listen(0, "127.0.0.1", () => r()));
    const address = `127.0.0.1:${(forward.address() as { port: number }).port}`;
    try {
      const size = 2 * 1024 * 1024 + 5;
      const { job: j, target } = await job("bytes-no-data-port", address, { size: String(size), out: join(outDir, "no-data-port") });
      const task = await waitTask(d, await runJob(j));
      expect(task.status).toBe("done");
      expect(task.log).toMatch(/the agent's data port \d+ cannot be reached \(.*\): the archive goes over the SSH channel/);
      const [a] = (await call(d, "GET", `/v1/archives?target=${target}`)).json;
      expect(a).toMatchObject({ raw_size: size, cipher: "aes-256-gcm-chunked-v1" });
      const r = await waitTask(d, (await call(d, "POST", `/v1/archive/${a.uuid}/restore`, {})).json.task_uuid);
      expect(r.status).toBe("done");
      expect(statSync(join(outDir, "no-data-port")).size).toBe(size);
    } finally {
      await new Promise((r) => forward.close(r));
      await lone.stop();
    }
  });

  test("a data connection altered or cut short on the way (a clean end, no reset) fails the backup: no archive", async () => {
    // Between the core and the agent, on the data port only: a forwarder that flips one
    // byte, then one that ends the stream early with a clean FIN, as a meddling middlebox might.
    const dataPort = await freePort();
    const lone = await startAgentProcess([...agentArgs(), "--data-port", String(dataPort)], { host: "127.0.0.2" });
    const forward = (port: number, to: number, meddle?: (b: Buffer, seen: number, c: import("node:net").Socket) => Buffer | null) => createServer((c) => {
      const up = connect({ host: "127.0.0.2", port: to });
      let seen = 0;
      c.pipe(up);
      up.on("data", (b: Buffer) => {
        const out = meddle ? meddle(b, seen, c) : b;
        seen += b.length;
        if (out) c.write(out);
      });
      up.on("end", () => c.end());
      c.on("error", () => up.destroy());
      up.on("error", () => c.destroy());
      c.on("close", () => up.destroy());
    }).listen(port, "127.0.0.1");
    let mode: "flip" | "cut" = "flip";
    const ssh = forward(0, lone.port);
    const data = forward(dataPort, dataPort, (b, seen, c) => {
      if (mode === "flip" && seen <= 300_000 && seen + b.length > 300_000) { const x = Buffer.from(b); x[300_000 - seen]! ^= 1; return x; }
      if (mode === "cut" && seen + b.length > 300_000) { c.end(); return null; }
      return b;
    });
    await Bun.sleep(100);
    const address = `127.0.0.1:${(ssh.address() as { port: number }).port}`;
    try {
      const size = 2 * 1024 * 1024;
      const { job: j, target } = await job("bytes-meddled", address, { size: String(size), out: join(outDir, "meddled") });
      const before = files(storeDir).length;
      for (const m of ["flip", "cut"] as const) {
        mode = m;
        const task = await waitTask(d, await runJob(j));
        expect(task.status).toBe("failed");
        expect(task.log).toContain("the archive comes over the agent's data port");
        expect(task.log).toMatch(m === "flip" ? /the archive sealed upstream \(on the agent\) did not arrive as it was sealed, altered or cut on its way: archive chunk \d+ failed authentication/ : /the data connection (delivered|did not end cleanly|was cut)|the core's data connection closed before the archive's end/);
        expect((await call(d, "GET", `/v1/archives?target=${target}`)).json).toHaveLength(0);
        expect(files(storeDir).length).toBe(before);
      }
    } finally {
      await new Promise((r) => ssh.close(r));
      await new Promise((r) => data.close(r));
      await lone.stop();
    }
  });

  test("between versions: asked without chunksChecked (by an older core) the agent hashes what it sends on the data port and reports it; asked with it, it reports none", async () => {
    // The relay, run as the daemon runs it, with the request an older core would send.
    await job("bytes-versions", agent.address, { size: "1" }); // the core meets the agent and pins its key
    const a = (await call(d, "GET", "/v1/agents")).json.find((x: any) => x.name === agent.address);
    const size = 3 * 1024 * 1024 + 5;
    for (const chunksChecked of [false, true]) {
      const dataKey = randomBytes(32);
      const request = { op: "backup", plugin: "bytes-target", endpoint: JSON.stringify({ size: String(size) }), compression: "none", dataKey: dataKey.toString("base64"), ...(chunksChecked ? { chunksChecked } : {}) };
      // Its stdout a pipe, as the store's FIFO is: it splices the data connection into it.
      const relay = Bun.spawn(["bash", "-c", 'set -o pipefail; "$0" agent-relay | cat', ensureBinary()], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      relay.stdin.write(JSON.stringify({ address: agent.address, hostKey: a.host_key, keyPath: join(d.dir, "shield-data", "host_key"), request }) + "\n");
      await relay.stdin.end();
      const [out, err, code] = await Promise.all([new Response(relay.stdout).bytes(), new Response(relay.stderr).text(), relay.exited]);
      expect({ chunksChecked, code, err, agent: code ? agent.output().slice(-1500) : "" }).toMatchObject({ chunksChecked, code: 0 });
      expect(err).toContain("the archive comes over the agent's data port");
      const line = err.split("\n").find((l) => l.startsWith(RESULT_PREFIX))!;
      const report = JSON.parse(line.slice(RESULT_PREFIX.length)) as BackupReport;
      expect(report.bytes).toBe(out.length);
      expect(report.sha256).toBe(chunksChecked ? undefined : new Bun.CryptoHasher("sha256").update(out).digest("hex"));
      const plain = await new Response(new Blob([out]).stream().pipeThrough(decryptStream(dataKey))).bytes();
      expect(plain.length).toBe(size);
    }
  });

  test("a target on an agent is validated by its plugin there, even one the core does not have", async () => {
    const bad = await call(d, "POST", "/v1/targets", { name: "invalid-on-agent", plugin: "only-on-agent", endpoint: {}, agent: agent.address });
    expect(bad.status).toBe(400);
    expect(bad.json.fields.endpoint).toContain(`on agent ${agent.address} says the endpoint is invalid: size is required`);
    const missing = await call(d, "POST", "/v1/targets", { name: "missing-on-agent", plugin: "nope", endpoint: {}, agent: agent.address });
    expect(missing.status).toBe(400);
    expect(missing.json.fields.plugin).toContain('no plugin named "nope"');
    const { job: j } = await job("only-on-agent", agent.address, { size: "1000" }, "only-on-agent");
    expect((await waitTask(d, await runJob(j))).status).toBe("done");
    // The core itself cannot run it: without the agent, the same target is refused.
    const local = await call(d, "POST", "/v1/targets", { name: "only-local", plugin: "only-on-agent", endpoint: { size: "1" }, agent: "" });
    expect(local.status).toBe(400);
  });

  test("a target naming an unreachable agent fails its task clearly and never runs on the core", async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    const marker = join(outDir, "never");
    const { job: j } = await job("bytes-nowhere", nowhere, { size: "100", out: marker });
    const task = await waitTask(d, await runJob(j));
    expect(task.status).toBe("failed");
    expect(task.log).toContain(`runs on agent ${nowhere}, which cannot take it`);
    expect(task.log).toContain("unreachable");
    const a = (await call(d, "GET", "/v1/agents")).json.find((x: any) => x.name === nowhere);
    expect(a).toMatchObject({ reachable: false });
  });

  test("an agent that does not accept the core's key refuses it; the task fails", async () => {
    const other = mkdtempSync(join(tmpdir(), "shield-e2e-otherkey-"));
    // A key that is not the core's.
    const keys = join(other, "keys");
    const { generateKeyPairSync } = await import("node:crypto");
    const { sshPublicKey } = await import("../../src/daemon/keys.ts");
    writeFileSync(keys, sshPublicKey(generateKeyPairSync("ed25519").publicKey) + "\n");
    const stranger = await startAgentProcess(["--authorized-keys", keys, "--plugin-dir", FIXTURES]);
    try {
      const { job: j } = await job("bytes-stranger", stranger.address, { size: "100", out: join(outDir, "stranger") });
      const task = await waitTask(d, await runJob(j));
      expect(task.status).toBe("failed");
      expect(task.log).toContain("refused the core's key");
      expect(stranger.output()).toContain("refused a core whose key is not authorized");
    } finally {
      await stranger.stop();
      rmSync(other, { recursive: true, force: true });
    }
  });

  test("an agent presenting another key than the pinned one is refused", async () => {
    // The first agent's address taken over by another agent (a fresh data dir: a new key).
    const port = agent.port;
    const keys = join(outDir, "core-keys");
    writeFileSync(keys, await (await fetch(`${d.url}/v1/meta/pubkey`)).text());
    await agent.stop();
    const impostor = await startAgentProcess(["--authorized-keys", keys, "--plugin-dir", FIXTURES], { port });
    try {
      const { job: j } = await job("bytes-impostor", impostor.address, { size: "100", out: join(outDir, "impostor") });
      const task = await waitTask(d, await runJob(j));
      expect(task.status).toBe("failed");
      expect(task.log).toContain("not the pinned");
      expect(existsSync(join(outDir, "impostor"))).toBe(false);
      // An admin who knows the agent was reinstalled forgets its key: the next contact pins the new one.
      expect((await call(d, "DELETE", `/v1/agent/${impostor.address}/key`)).json).toEqual({ ok: "forgotten" });
      expect((await call(d, "DELETE", `/v1/agent/${impostor.address}/key`)).status).toBe(404);
      const again = await waitTask(d, await runJob(j));
      expect(again.status).toBe("done");
      expect((await call(d, "DELETE", `/v1/agent/${impostor.address}/key`)).json).toEqual({ ok: "forgotten" });
    } finally {
      await impostor.stop();
    }
    // Back: the original agent, its own key (same data dir) on the same port.
    agent = await startAgentProcess(agentArgs(), { port, dir: agent.dir, keepDir: true });
  });
  /** A backup through the agent that sends 64 KiB every 0.1 s; resolves once its plugin runs on the agent. */
  async function slowBackup(name: string) {
    const marker = `slow-${name}-${Date.now()}`;
    const { job: j, target } = await job(name, agent.address, { size: String(65536 * 400), trickle: "0.1", tag: marker });
    const task = await runJob(j);
    await waitLog(d, task, `runs on agent ${agent.address}`);
    await until("the plugin on the agent", () => processesWith(marker).length > 0, 10_000);
    await Bun.sleep(500); // some bytes on their way
    return { task, target, marker, groups: [...new Set(processesWith(marker).map((p) => p.pgid))] };
  }
  const relays = () => processesWith("agent-relay");

  test("cancel stops the remote process group within a second and keeps nothing", async () => {
    const storedBefore = files(storeDir).length;
    const { task, target, groups } = await slowBackup("bytes-cancel");
    expect(relays().length).toBeGreaterThan(0);
    const t0 = Date.now();
    expect((await call(d, "DELETE", `/v1/task/${task}`)).json).toEqual({ ok: "canceled" });
    await until("the remote group gone", () => groups.every((g) => groupMembers(g).length === 0), 3000);
    const took = Date.now() - t0;
    expect(took).toBeLessThan(1500);
    const done = await waitTask(d, task);
    expect(done.status).toBe("canceled");
    expect((await call(d, "GET", `/v1/archives?target=${target}`)).json).toHaveLength(0);
    await until("no relay left on the core", () => relays().length === 0, 3000);
    expect(files(storeDir).length).toBe(storedBefore);
    console.log(`cancel: the agent's process group was gone ${took} ms after the cancel`);
  });

  test("a stream cut mid-backup (the agent killed) is no archive, and leaves no process on either side", async () => {
    const storedBefore = files(storeDir).length;
    const { task, target, groups } = await slowBackup("bytes-cut");
    // zstd runs on the agent without a guard of its own (server.ts): it must go all the same.
    const compressors = descendants(agent.proc.pid!).filter((p) => p.cmd.startsWith("zstd "));
    expect(compressors.length).toBe(1);
    expect(cmdline(stat(compressors[0]!.pid)!.ppid)).not.toContain(" guard");
    const port = agent.port;
    await agent.stop("SIGKILL");
    const done = await waitTask(d, task);
    expect(done.status).toBe("failed");
    expect(done.log).toMatch(/dropped|closed|target backup \(agent/);
    expect((await call(d, "GET", `/v1/archives?target=${target}`)).json).toHaveLength(0);
    expect(files(storeDir).length).toBe(storedBefore);
    // The agent's own guards saw their lifeline go: the plugin's whole group is killed.
    await until("the agent's plugin processes gone", () => groups.every((g) => groupMembers(g).length === 0), 3000);
    await until("the agent's zstd gone", () => compressors.every((p) => !alive(p.pid)), 3000);
    await until("no relay left on the core", () => relays().length === 0, 3000);
    agent = await startAgentProcess(agentArgs(), { port, dir: agent.dir, keepDir: true });
  });

  test("the agent killed with -9 mid-restore: the target never sees the end of its input", async () => {
    const size = 8 * 1024 * 1024;
    const out = join(outDir, "stalled");
    const marker = `restore-${Date.now()}`;
    const { job: j, target } = await job("bytes-restore-cut", agent.address, { size: String(size), out, restore_stall: "30", tag: marker });
    expect((await waitTask(d, await runJob(j))).status).toBe("done");
    const archive = (await call(d, "GET", `/v1/archives?target=${target}`)).json[0];
    const r = await call(d, "POST", `/v1/archive/${archive.uuid}/restore`, {});
    await until("the restore running on the agent", () => existsSync(`${out}.partial`), 15_000);
    const groups = [...new Set(processesWith(marker).map((p) => p.pgid))];
    expect(groups.length).toBeGreaterThan(0);
    const port = agent.port;
    await agent.stop("SIGKILL");
    const done = await waitTask(d, r.json.task_uuid);
    expect(done.status).toBe("failed");
    expect(existsSync(out)).toBe(false); // only a whole input is ever moved into place
    await until("the agent's restore processes gone", () => groups.every((g) => groupMembers(g).length === 0), 3000);
    await until("no relay left on the core", () => relays().length === 0, 3000);
    agent = await startAgentProcess(agentArgs(), { port, dir: agent.dir, keepDir: true });
  });

  test.skipIf(!pgAvailable)("PostgreSQL backed up and restored through the agent", async () => {
    const srcUrl = await freshDatabase("agentsrc");
    const dstUrl = await freshDatabase("agentdst");
    const pgPort = (await startPostgres()).port;
    const sql = postgres(srcUrl, { max: 1, onnotice: () => {} });
    await sql`CREATE TABLE t (id int PRIMARY KEY, v text)`;
    await sql`INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 50000) i`;
    const [want] = await sql`SELECT count(*)::int AS n, md5(string_agg(v, ',' ORDER BY id)) AS h FROM t`;
    await sql.end();
    const db = (u: string) => new URL(u).pathname.slice(1);
    const ep = (u: string) => ({ pg_host: "127.0.0.1", pg_port: pgPort, pg_user: "postgres", pg_password: PG_SECRET, pg_database: db(u) });
    const { job: j, target } = await job("pg-on-agent", agent.address, ep(srcUrl), "postgres");
    const task = await waitTask(d, await runJob(j));
    expect(task.status).toBe("done");
    expect(task.log).not.toContain(PG_SECRET);
    const archive = (await call(d, "GET", `/v1/archives?target=${target}`)).json[0];
    const dst = await call(d, "POST", "/v1/targets", { name: "pg-dst-on-agent", plugin: "postgres", endpoint: ep(dstUrl), agent: agent.address });
    const r = await call(d, "POST", `/v1/archive/${archive.uuid}/restore`, { target: dst.json.uuid });
    const rt = await waitTask(d, r.json.task_uuid);
    expect(rt.status).toBe("done");
    const check = postgres(dstUrl, { max: 1, onnotice: () => {} });
    const [got] = await check`SELECT count(*)::int AS n, md5(string_agg(v, ',' ORDER BY id)) AS h FROM t`;
    await check.end();
    expect(got).toEqual(want);
  });
});
