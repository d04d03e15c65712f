// Agent data-path benchmark: the same backup run by the core itself and through a
// `shield agent` on the same machine (over its data port, and over SSH only), in
// interleaved rounds (each variant once per round, the order rotating), so that load
// from other users of the machine falls on all alike. Results and analysis: bench/DATAPATH.md ("Through an agent").
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
// (with its children) over the run, from /proc. Reported: each round, then the medians
// and the median of the per-round ratios (local ÷ agent: 1.0 is as fast) with their range,
// in time and in CPU seconds.
//
// Knobs: BENCH_RUNS (rounds, default 5), BENCH_AGENT_BYTES, BENCH_PG_SCALE (35), BENCH_PG_MD5_ROWS
// (3,000,000), BENCH_SHIELD (another build), BENCH_BASELINE (a build of main, say, run
// beside it in the same rounds: its own daemon, agents and store; its columns say "main"),
// BENCH_SSH=0 (no SSH-only agent).
import { chmodSync, closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { freshDatabase, startPostgres, stopPostgres } from "../test/helpers/postgres.ts";
import { freePort } from "../test/helpers/services.ts";
import { cpuSeconds, TreeCpu } from "./proc-tree.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUILT = resolve(process.env.BENCH_SHIELD ?? join(ROOT, "dist/shield"));
const FIXTURES = join(ROOT, "test/fixtures/plugins");
const PASSWORD = "bench-agent-password";
const AUTH = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}` };
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BYTES = Number(process.env.BENCH_AGENT_BYTES ?? 1024 ** 3);
const PG_SCALE = Number(process.env.BENCH_PG_SCALE ?? 35);
const PG_MD5_ROWS = Number(process.env.BENCH_PG_MD5_ROWS ?? 3_000_000);
/** Another build (of main, say) run beside this one, round by round: its own daemon, agents and store. */
const BASELINE = process.env.BENCH_BASELINE ? resolve(process.env.BENCH_BASELINE) : undefined;
/** 0: no SSH-only agent (fewer runs per round). */
const SSH = process.env.BENCH_SSH !== "0";

let scratch = "";
let SHIELD = BUILT;
const procs: Bun.Subprocess[] = [];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;

/** CPU seconds of a process with the children it reaped. */
function cpuWithChildren(pid: number): number {
  const c = cpuSeconds(pid);
  return c.self + c.children;
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
  out(`# Agent benchmark (${new Date().toISOString()}; ${navigator.hardwareConcurrency} cores; ${RUNS} rounds each)`);
  out(`Binary from ${git("rev-parse", "--short", "HEAD")}; load average at start ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
  out();

  // One install: a daemon and its agents, all from one binary, with their own store.
  const install = async (tag: string, binary: string) => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const daemon = spawnLogged(`${tag}daemon`, [binary, "daemon", "--listen", `127.0.0.1:${port}`, "--data-dir", join(scratch, `${tag}core`), "--plugin-dir", FIXTURES], { SHIELD_ADMIN_PASSWORD: PASSWORD });
    await until("the daemon", async () => (await fetch(`${url}/v1/plugins`, { headers: AUTH })).ok);
    const startAgent = async (name: string, dataPort: string) => {
      const agentPort = await freePort();
      const proc = spawnLogged(`${tag}${name}`, [binary, "agent", "--listen", `127.0.0.1:${agentPort}`, "--data-port", dataPort, "--data-dir", join(scratch, `${tag}${name}`), "--core", url, "--plugin-dir", FIXTURES], { SHIELD_LOG_LEVEL: "info" });
      await until(`the agent ${tag}${name}`, async () => readFileSync(join(scratch, `${tag}${name}.log`), "utf8").includes("shield agent listening") || (await Bun.sleep(0), false));
      return { proc, address: `127.0.0.1:${agentPort}` };
    };
    const agent = await startAgent("agent", "0");
    // The same agent without a data port: every archive byte over the SSH channel, as before it.
    const agentSsh = SSH ? await startAgent("agent-ssh", "off") : undefined;
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(url + path, { method, headers: { ...AUTH, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
      const json = (await r.json()) as any;
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
      return json;
    };
    const storeDir = join(scratch, `${tag}store`);
    mkdirSync(storeDir);
    const store = (await call("POST", "/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } })).uuid;
    const schedule = (await call("POST", "/v1/schedules", { name: "daily", when: "daily at 4am" })).uuid;
    const retention = (await call("POST", "/v1/retention", { name: "day", expires: 86400 })).uuid;
    const job = async (name: string, plugin: string, endpoint: unknown, agentAddr: string, compression: string) => {
      const t = (await call("POST", "/v1/targets", { name, plugin, endpoint, agent: agentAddr })).uuid;
      return (await call("POST", "/v1/jobs", { name, target: t, store, schedule, retention, paused: true, compression })).uuid as string;
    };
    /** One backup of job `j`; the CPU of the daemon and of `ag` (the agent it goes through) over it. */
    const run = async (j: string, ag: Bun.Subprocess) => {
      const c0 = { d: cpuWithChildren(daemon.pid), a: cpuWithChildren(ag.pid), self: cpuSeconds(ag.pid).self };
      const trees = [new TreeCpu(daemon.pid, false), new TreeCpu(ag.pid, false)];
      const t0 = performance.now();
      const { task_uuid } = await call("POST", `/v1/job/${j}/run`, {});
      let task: any;
      // ?wait=: answered the moment the task ends, without the daemon's CPU of polling (bench/DATAPATH.md, "Ninth session").
      do task = await call("GET", `/v1/task/${task_uuid}?wait=8`);
      while (["pending", "running"].includes(task.status));
      const ms = performance.now() - t0;
      const kinds = new Map<string, number>();
      for (const t of trees) for (const [k, v] of t.stop()) kinds.set(k, (kinds.get(k) ?? 0) + v);
      if (task.status !== "done") throw new Error(`task ${task.status}: ${task.log}`);
      const a = await call("GET", `/v1/archive/${task.archive_uuid}`);
      await call("DELETE", `/v1/archive/${a.uuid}`).catch(() => {});
      rmSync(storeDir, { recursive: true, force: true });
      mkdirSync(storeDir);
      return { ms, path: /over the agent's data port/.test(task.log) ? "data port" : "ssh", size: a.size as number, cpuD: cpuWithChildren(daemon.pid) - c0.d, cpuA: cpuWithChildren(ag.pid) - c0.a, cpuAgentSelf: cpuSeconds(ag.pid).self - c0.self, kinds };
    };
    /** The variants of one case on this install: locally, through the agent's data port, over SSH only. */
    const variants = async (name: string, plugin: string, endpoint: unknown, compression: string): Promise<Variant[]> => {
      const v: Variant[] = [
        { name: `${tag}local`, local: `${tag}local`, path: "local", run: run.bind(null, await job(`${name}-local`, plugin, endpoint, "", compression), agent.proc) },
        { name: `${tag}data port`, local: `${tag}local`, path: "data port", run: run.bind(null, await job(`${name}-agent`, plugin, endpoint, agent.address, compression), agent.proc) },
      ];
      if (agentSsh) v.push({ name: `${tag}SSH only`, local: `${tag}local`, path: "ssh", run: run.bind(null, await job(`${name}-agent-ssh`, plugin, endpoint, agentSsh.address, compression), agentSsh.proc) });
      return v;
    };
    return { variants };
  };
  /** kinds: CPU seconds of each kind of process (proc-tree.ts) in the daemon's tree and the agent's, sampled every 50 ms. */
  type Run = { ms: number; path: string; size: number; cpuD: number; cpuA: number; cpuAgentSelf: number; kinds: Map<string, number> };
  interface Variant { name: string; local: string; path: string; run: () => Promise<Run> }

  const installs = [await install("", SHIELD)];
  if (BASELINE) {
    const base = join(scratch, "shield-baseline");
    copyFileSync(BASELINE, base);
    chmodSync(base, 0o755);
    installs.push(await install("main ", base));
    out(`Baseline ("main …" columns): ${BASELINE}, its own daemon, agents and store beside this build's.`);
    out();
  }
  const variantsOf = async (name: string, plugin: string, endpoint: unknown, compression: string) =>
    (await Promise.all(installs.map((i) => i.variants(name, plugin, endpoint, compression)))).flat();

  /**
   * Every variant once per round, the order rotating from round to round, so that
   * load from the machine's other users falls on all alike. Per variant through an
   * agent: its time, local ÷ it (the same install's local run, same round), and the
   * CPU seconds of the core (daemon and children) and of the agent (with children;
   * in parentheses, the agent process alone). On 2 cores the pipeline is CPU-bound,
   * so the CPU ratio (local CPU ÷ agent-path CPU) decides the wall-time ratio on a quiet machine.
   */
  const rounds = async (title: string, vs: Variant[], bytes: () => number) => {
    out(`## ${title}`);
    out();
    out(`Load average before: ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
    out();
    const agentVs = vs.filter((v) => v.path !== "local");
    out(`| round | order | ${vs.map((v) => v.name).join(" | ")} | ${agentVs.map((v) => `${v.local} ÷ ${v.name}`).join(" | ")} | ${vs.map((v) => `cpu ${v.name}${v.path === "local" ? "" : " (core + agent (itself))"}`).join(" | ")} | load (1 min) |`);
    out(`|---|---|${vs.map(() => "---|").join("")}${agentVs.map(() => "---|").join("")}${vs.map(() => "---|").join("")}---|`);
    for (const v of vs) await v.run(); // warm: page cache, first-contact pinning
    const T: Record<string, number[]> = {};
    const R: Record<string, number[]> = {};
    const C: Record<string, number[]> = {};
    const CR: Record<string, number[]> = {};
    const K: Record<string, Map<string, number>[]> = {};
    for (let i = 0; i < RUNS; i++) {
      const order = [...vs.slice(i % vs.length), ...vs.slice(0, i % vs.length)];
      const r: Record<string, Run> = {};
      for (const v of order) {
        r[v.name] = await v.run();
        if (r[v.name]!.path !== (v.path === "local" ? "ssh" : v.path)) throw new Error(`${v.name} took the wrong path: ${r[v.name]!.path}`);
      }
      const cpu = (x: Run, v: Variant) => v.path === "local" ? x.cpuD : x.cpuD + x.cpuA;
      for (const v of vs) {
        (T[v.name] ??= []).push(r[v.name]!.ms);
        (C[v.name] ??= []).push(cpu(r[v.name]!, v));
        (K[v.name] ??= []).push(r[v.name]!.kinds);
      }
      for (const v of agentVs) {
        (R[v.name] ??= []).push(r[v.local]!.ms / r[v.name]!.ms);
        (CR[v.name] ??= []).push(r[v.local]!.cpuD / cpu(r[v.name]!, v));
      }
      const c = (v: Variant) => { const x = r[v.name]!; return v.path === "local" ? `${x.cpuD.toFixed(1)} s` : `${x.cpuD.toFixed(1)} + ${x.cpuA.toFixed(1)} (${x.cpuAgentSelf.toFixed(1)}) s`; };
      out(`| ${i + 1} | ${order.map((v) => v.name).join(", ")} | ${vs.map((v) => secs(r[v.name]!.ms)).join(" | ")} | ${agentVs.map((v) => (r[v.local]!.ms / r[v.name]!.ms).toFixed(2)).join(" | ")} | ${vs.map(c).join(" | ")} | ${loadavg()[0]!.toFixed(2)} |`);
    }
    const b = bytes();
    const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
    out(`| **median** | | ${vs.map((v) => `**${secs(median(T[v.name]!))}** (${mib(b / (median(T[v.name]!) / 1000))}/s)`).join(" | ")} | ${agentVs.map((v) => `**${median(R[v.name]!).toFixed(2)}** (${range(R[v.name]!)})`).join(" | ")} | ${vs.map((v) => `**${median(C[v.name]!).toFixed(1)} s**`).join(" | ")} | |`);
    out();
    out(`CPU ratio per round (local CPU ÷ agent-path CPU, core + agent): ${agentVs.map((v) => `${v.name} **${median(CR[v.name]!).toFixed(2)}** (${range(CR[v.name]!)})`).join("; ")}.`);
    out();
    out(`Load average after: ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
    out();
    kindsTable(vs, K);
  };

  /**
   * Where each variant's CPU goes: per kind of process, the median over the rounds of its
   * CPU seconds per backup (sampled every 50 ms: a process loses what it used after its
   * last sample; "sampled" is their sum beside the exact rusage above).
   */
  const kindsTable = (vs: Variant[], K: Record<string, Map<string, number>[]>) => {
    const med = (v: Variant, k: string) => median(K[v.name]!.map((m) => m.get(k) ?? 0));
    // Each kind's median per variant, once; the kinds by their largest, the negligible left out.
    const rows = [...new Set(vs.flatMap((v) => K[v.name]!.flatMap((m) => [...m.keys()])))]
      .map((k) => ({ k, medians: vs.map((v) => med(v, k)) }))
      .filter((r) => Math.max(...r.medians) >= 0.005)
      .sort((a, b) => Math.max(...b.medians) - Math.max(...a.medians));
    out("CPU seconds per backup by kind of process (median over the rounds):");
    out();
    out(`| process | ${vs.map((v) => v.name).join(" | ")} |`);
    out(`|---|${vs.map(() => "---|").join("")}`);
    for (const r of rows) out(`| ${r.k} | ${r.medians.map((x) => x.toFixed(2)).join(" | ")} |`);
    out(`| sampled | ${vs.map((v) => median(K[v.name]!.map((m) => [...m.values()].reduce((a, b) => a + b, 0))).toFixed(2)).join(" | ")} |`);
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
    await rounds(`PostgreSQL ${mib(dbBytes)}, zstd, encrypted: local vs through the agent`, await variantsOf("pg", "postgres", endpoint, "zstd"), () => dbBytes);
  }
  if (what === "bytes" || what === "all") {
    const endpoint = { size: String(BYTES), out: "/dev/null" };
    await rounds(`${mib(BYTES)} incompressible, compression none, encrypted: local vs through the agent`, await variantsOf("bytes", "bytes-target", endpoint, "none"), () => BYTES);
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
