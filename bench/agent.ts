// Agent data-path benchmark: the same backup run by the core itself and through a
// `shield agent` on the same machine, in paired, interleaved runs (the order
// alternating each pair), so that load from other users of the machine falls on
// both sides alike. Results and analysis: bench/DATAPATH.md ("Through an agent").
//
//   ./node_modules/.bin/bun run bench/agent.ts [pg|bytes|all]   (default all; needs dist/shield)
//
// pg     the ~1 GB PostgreSQL database of bench/datapath.ts (pgbench + md5 text, on a
//        private server), zstd and encryption: the issue's target is agent ≥ 0.9 × local.
// bytes  BENCH_AGENT_BYTES (default 1 GiB) of incompressible bytes (the test fixture
//        bytes-target: AES-CTR keystream from openssl), compression none, encryption on:
//        the worst case for the channel, every byte crosses SSH.
//
// Time is wall time from POST /v1/job/:uuid/run to the task reading done (polled every
// 50 ms). Beside it, the CPU seconds of the daemon (with its children) and of the agent
// (with its children) over the run, from /proc. Reported: each pair, then the medians
// and the median of the pair ratios (local ÷ agent: 1.0 is as fast) with their range.
//
// Knobs: BENCH_RUNS (default 5), BENCH_AGENT_BYTES, BENCH_PG_SCALE (35), BENCH_PG_MD5_ROWS
// (3,000,000), BENCH_SHIELD (another build).
import { chmodSync, closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { freshDatabase, startPostgres, stopPostgres } from "../test/helpers/postgres.ts";
import { freePort } from "../test/helpers/services.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUILT = resolve(process.env.BENCH_SHIELD ?? join(ROOT, "dist/shield"));
const FIXTURES = join(ROOT, "test/fixtures/plugins");
const PASSWORD = "bench-agent-password";
const AUTH = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}` };
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BYTES = Number(process.env.BENCH_AGENT_BYTES ?? 1024 ** 3);
const PG_SCALE = Number(process.env.BENCH_PG_SCALE ?? 35);
const PG_MD5_ROWS = Number(process.env.BENCH_PG_MD5_ROWS ?? 3_000_000);

let scratch = "";
let SHIELD = BUILT;
const procs: Bun.Subprocess[] = [];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;

/** CPU seconds of a process with the children it reaped; `self`: without them. */
function cpuSeconds(pid: number, self = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  return (f[11]! + f[12]! + (self ? 0 : f[13]! + f[14]!)) / 100;
}

function spawnLogged(name: string, argv: string[], env: Record<string, string> = {}): Bun.Subprocess {
  const fd = openSync(join(scratch, `${name}.log`), "w");
  const p = Bun.spawn(argv, { env: { ...process.env, SHIELD_LOG_LEVEL: "warn", ...env }, stdin: "ignore", stdout: "ignore", stderr: fd });
  closeSync(fd);
  procs.push(p);
  return p;
}

async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    try { if (await ok()) return; } catch { /* not yet */ }
    if (performance.now() - t0 > 30_000) throw new Error(`${what} did not start`);
    await Bun.sleep(50);
  }
}

const report: string[] = [];
function out(line = ""): void { console.log(line); report.push(line); }

async function main(): Promise<void> {
  const what = process.argv[2] ?? "all";
  if (!["pg", "bytes", "all"].includes(what)) { console.error("usage: bun run bench/agent.ts [pg|bytes|all]"); process.exit(2); }
  scratch = mkdtempSync(join(tmpdir(), "shield-bench-agent-"));
  SHIELD = join(scratch, "shield");
  copyFileSync(BUILT, SHIELD);
  chmodSync(SHIELD, 0o755);
  const git = (...a: string[]) => Bun.spawnSync(["git", ...a], { cwd: ROOT }).stdout.toString().trim();
  out(`# Agent benchmark (${new Date().toISOString()}; ${navigator.hardwareConcurrency} cores; ${RUNS} pairs each)`);
  out(`Binary from ${git("rev-parse", "--short", "HEAD")}; load average at start ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
  out();

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const daemon = spawnLogged("daemon", [SHIELD, "daemon", "--listen", `127.0.0.1:${port}`, "--data-dir", join(scratch, "core"), "--plugin-dir", FIXTURES], { SHIELD_ADMIN_PASSWORD: PASSWORD });
  await until("the daemon", async () => (await fetch(`${url}/v1/plugins`, { headers: AUTH })).ok);
  const agentPort = await freePort();
  const agent = spawnLogged("agent", [SHIELD, "agent", "--listen", `127.0.0.1:${agentPort}`, "--data-port", "0", "--data-dir", join(scratch, "agent"), "--core", url, "--plugin-dir", FIXTURES], { SHIELD_LOG_LEVEL: "info" });
  await until("the agent", async () => readFileSync(join(scratch, "agent.log"), "utf8").includes("shield agent listening") || (await Bun.sleep(0), false));
  const agentAddress = `127.0.0.1:${agentPort}`;
  // The same agent without a data port: every archive byte over the SSH channel, as before it.
  const sshPort = await freePort();
  const agentSsh = spawnLogged("agent-ssh", [SHIELD, "agent", "--listen", `127.0.0.1:${sshPort}`, "--data-port", "off", "--data-dir", join(scratch, "agent-ssh"), "--core", url, "--plugin-dir", FIXTURES], { SHIELD_LOG_LEVEL: "info" });
  await until("the SSH-only agent", async () => readFileSync(join(scratch, "agent-ssh.log"), "utf8").includes("shield agent listening") || (await Bun.sleep(0), false));
  const sshAddress = `127.0.0.1:${sshPort}`;

  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(url + path, { method, headers: { ...AUTH, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = (await r.json()) as any;
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
  const storeDir = join(scratch, "store");
  mkdirSync(storeDir);
  const store = (await call("POST", "/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } })).uuid;
  const schedule = (await call("POST", "/v1/schedules", { name: "daily", when: "daily at 4am" })).uuid;
  const retention = (await call("POST", "/v1/retention", { name: "day", expires: 86400 })).uuid;
  const job = async (name: string, plugin: string, endpoint: unknown, agentAddr: string, compression: string) => {
    const t = (await call("POST", "/v1/targets", { name, plugin, endpoint, agent: agentAddr })).uuid;
    return (await call("POST", "/v1/jobs", { name, target: t, store, schedule, retention, paused: true, compression })).uuid as string;
  };
  const run = async (j: string, ag: Bun.Subprocess = agent) => {
    const c0 = { d: cpuSeconds(daemon.pid), a: cpuSeconds(ag.pid), self: cpuSeconds(ag.pid, true) };
    const t0 = performance.now();
    const { task_uuid } = await call("POST", `/v1/job/${j}/run`, {});
    let task: any;
    for (;;) {
      task = await call("GET", `/v1/task/${task_uuid}`);
      if (!["pending", "running"].includes(task.status)) break;
      await Bun.sleep(50);
    }
    const ms = performance.now() - t0;
    if (task.status !== "done") throw new Error(`task ${task.status}: ${task.log}`);
    const a = await call("GET", `/v1/archive/${task.archive_uuid}`);
    await call("DELETE", `/v1/archive/${a.uuid}`).catch(() => {});
    rmSync(storeDir, { recursive: true, force: true });
    mkdirSync(storeDir);
    return { ms, path: /over the agent's data port/.test(task.log) ? "data port" : "ssh", size: a.size as number, raw: a.raw_size as number | null, cpuD: cpuSeconds(daemon.pid) - c0.d, cpuA: cpuSeconds(ag.pid) - c0.a, cpuAgentSelf: cpuSeconds(ag.pid, true) - c0.self };
  };

  const pairs = async (title: string, local: string, remote: string, bytes: () => number, ssh?: string) => {
    out(`## ${title}`);
    out();
    if (ssh) { await triples(local, remote, ssh, bytes); return; }
    out(`Load average before: ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
    out();
    out("| pair | order | local | agent | local ÷ agent | cpu local (daemon) | cpu agent run (daemon + agent (itself)) | archive bytes went | load (1 min) |");
    out("|---|---|---|---|---|---|---|---|---|");
    await run(local); await run(remote); // warm: page cache, first-contact pinning
    let archive = 0;
    const L: number[] = [];
    const A: number[] = [];
    const R: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const agentFirst = i % 2 === 1;
      const first = await run(agentFirst ? remote : local);
      const second = await run(agentFirst ? local : remote);
      const [l, a] = agentFirst ? [second, first] : [first, second];
      L.push(l.ms); A.push(a.ms); R.push(l.ms / a.ms);
      archive = a.size;
      out(`| ${i + 1} | ${agentFirst ? "agent first" : "local first"} | ${secs(l.ms)} | ${secs(a.ms)} | ${(l.ms / a.ms).toFixed(2)} | ${l.cpuD.toFixed(1)} s | ${a.cpuD.toFixed(1)} + ${a.cpuA.toFixed(1)} (${a.cpuAgentSelf.toFixed(1)}) s | ${a.path} | ${loadavg()[0]!.toFixed(2)} |`);
    }
    const b = bytes();
    out(`| **median** | | **${secs(median(L))}** (${mib(b / (median(L) / 1000))}/s) | **${secs(median(A))}** (${mib(b / (median(A) / 1000))}/s) | **${median(R).toFixed(2)}** (${Math.min(...R).toFixed(2)}–${Math.max(...R).toFixed(2)}) | | | | |`);
    out();
    out(`Archive (what crossed the agent channel): ${mib(archive)}. Load average after: ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
    out();
  };

  /**
   * Local, through the agent (data port) and through the SSH-only agent, the order
   * rotating each round: what the data port changed, under the same load.
   */
  const triples = async (local: string, remote: string, ssh: string, bytes: () => number) => {
    out(`Load average before: ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
    out();
    out("| round | order | local | agent, data port | agent, SSH only | local ÷ data port | local ÷ SSH only | cpu local | cpu data port (core + agent (itself)) | cpu SSH only (core + agent (itself)) | load (1 min) |");
    out("|---|---|---|---|---|---|---|---|---|---|---|");
    await run(local); await run(remote); await run(ssh, agentSsh);
    const orders = [["local", "data", "ssh"], ["data", "ssh", "local"], ["ssh", "local", "data"]] as const;
    const T: Record<string, number[]> = { local: [], data: [], ssh: [] };
    const RD: number[] = [];
    const RS: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r: Record<string, Awaited<ReturnType<typeof run>>> = {};
      for (const which of orders[i % 3]!) r[which] = await (which === "local" ? run(local) : which === "data" ? run(remote) : run(ssh, agentSsh));
      const [l, dp, sh] = [r.local!, r.data!, r.ssh!];
      if (dp.path !== "data port" || sh.path !== "ssh") throw new Error(`the runs took the wrong path: ${dp.path}, ${sh.path}`);
      T.local!.push(l.ms); T.data!.push(dp.ms); T.ssh!.push(sh.ms);
      RD.push(l.ms / dp.ms); RS.push(l.ms / sh.ms);
      const c = (x: typeof l) => `${x.cpuD.toFixed(1)} + ${x.cpuA.toFixed(1)} (${x.cpuAgentSelf.toFixed(1)}) s`;
      out(`| ${i + 1} | ${orders[i % 3]!.join(", ")} | ${secs(l.ms)} | ${secs(dp.ms)} | ${secs(sh.ms)} | ${(l.ms / dp.ms).toFixed(2)} | ${(l.ms / sh.ms).toFixed(2)} | ${l.cpuD.toFixed(1)} s | ${c(dp)} | ${c(sh)} | ${loadavg()[0]!.toFixed(2)} |`);
    }
    const b = bytes();
    const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
    out(`| **median** | | **${secs(median(T.local!))}** (${mib(b / (median(T.local!) / 1000))}/s) | **${secs(median(T.data!))}** | **${secs(median(T.ssh!))}** | **${median(RD).toFixed(2)}** (${range(RD)}) | **${median(RS).toFixed(2)}** (${range(RS)}) | | | | |`);
    out();
    out(`Load average after: ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
    out();
  };

  if (what === "pg" || what === "all") {
    const pg = await startPostgres();
    const dbUrl = await freshDatabase("bench");
    const name = new URL(dbUrl).pathname.slice(1);
    const t0 = performance.now();
    const init = Bun.spawnSync([join(pg.bindir, "pgbench"), "-i", "-q", "-s", String(PG_SCALE), "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", name], { stderr: "pipe" });
    if (init.exitCode !== 0) throw new Error(`pgbench -i failed: ${init.stderr.toString()}`);
    const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
    await sql`CREATE TABLE documents (id bigint PRIMARY KEY, title text, body text, score numeric(12,4), created timestamptz)`;
    await sql.unsafe(`INSERT INTO documents SELECT i, md5(i::text), md5((i * 7)::text) || md5((i * 13)::text), (i % 100000) / 7.0, '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, ${PG_MD5_ROWS}) i`);
    await sql`VACUUM ANALYZE`;
    const [row] = await sql`SELECT pg_database_size(current_database())::bigint AS bytes`;
    await sql.end();
    const dbBytes = Number(row!.bytes);
    out(`Database: pgbench -i -s ${PG_SCALE} plus ${PG_MD5_ROWS.toLocaleString("en")} md5 rows; ${mib(dbBytes)} (made in ${secs(performance.now() - t0)}).`);
    out();
    const endpoint = { pg_host: "127.0.0.1", pg_port: String(pg.port), pg_user: "postgres", pg_database: name, pg_bindir: pg.bindir };
    const local = await job("pg-local", "postgres", endpoint, "", "zstd");
    const remote = await job("pg-agent", "postgres", endpoint, agentAddress, "zstd");
    const ssh = await job("pg-agent-ssh", "postgres", endpoint, sshAddress, "zstd");
    await pairs(`PostgreSQL ${mib(dbBytes)}, zstd, encrypted: local vs through the agent (data port, and SSH only)`, local, remote, () => dbBytes, ssh);
  }
  if (what === "bytes" || what === "all") {
    const endpoint = { size: String(BYTES), out: "/dev/null" };
    const local = await job("bytes-local", "bytes-target", endpoint, "", "none");
    const remote = await job("bytes-agent", "bytes-target", endpoint, agentAddress, "none");
    const ssh = await job("bytes-agent-ssh", "bytes-target", endpoint, sshAddress, "none");
    await pairs(`${mib(BYTES)} incompressible, compression none, encrypted: local vs through the agent (data port, and SSH only)`, local, remote, () => BYTES, ssh);
  }
}

function cleanup(): void {
  for (const p of procs) p.kill("SIGKILL");
  stopPostgres();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) process.on(signal, () => { cleanup(); process.exit(code); });
try {
  if (!statSync(BUILT, { throwIfNoEntry: false })) throw new Error("dist/shield is missing: run `npm run build` first");
  await main();
} finally {
  cleanup();
}
