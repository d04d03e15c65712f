// Job health benchmark (issue 16): the compiled daemon (dist/shield) on a catalog of
// 1,000 jobs, 100,000 archives and a backup task for each, on both dialects.
//
//   npm run build && bun run bench/health.ts
//
// For SQLite and PostgreSQL it seeds the catalog as bench/api.ts does (its `seed`),
// adds the tasks that made the archives (and a failed last run for 50 jobs), starts
// dist/shield on it, and times sequential GET /v1/jobs (every job with last_run,
// next_run and the 30-day window's figures), GET /v1/statistics, GET /metrics and an
// archive search. Knobs: BENCH_REQUESTS (200), BENCH_WARMUP (20), BENCH_ROUNDS (2),
// BENCH_DIALECTS (sqlite,pg), BENCH_BASELINE (another build of shield, e.g. main's: then each
// round runs it and this checkout's dist/shield one after the other, alternating which goes
// first, on the same seeded catalog). Besides wall times it reports the CPU time per request of
// the daemon and, on PostgreSQL, of the server's processes (/proc): what a loaded machine moves least.
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sql } from "drizzle-orm";
import { openCatalog } from "../src/catalog/open.ts";
import { freshDatabase, pgAvailable } from "../test/helpers/postgres.ts";
import { freePort } from "../test/helpers/services.ts";
import { seed } from "./api.ts";

const SHIELD = resolve(import.meta.dir, "../dist/shield");
const PASSWORD = "bench-admin-password";
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
// Rounds over every measurement on one seeded catalog and daemon, one after the other (a shared machine's load moves).
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const DIALECTS = (process.env.BENCH_DIALECTS ?? "sqlite,pg").split(",").filter((d): d is Dialect => d === "sqlite" || d === "pg");
const BASELINE = process.env.BENCH_BASELINE ? resolve(process.env.BENCH_BASELINE) : undefined;
const TARGET_P99_MS = 50;
const BATCH = 1000; // task rows per INSERT: 21 columns × 1000 stays under both dialects' parameter limits

type Dialect = "sqlite" | "pg";
const results: {
  dialect: Dialect; build: string; what: string; n: number; p50: number; p99: number; max: number; cpu: number; pgCpu: number | null; target?: number; note: string;
}[] = [];
const running = new Set<Bun.Subprocess>();
let scratch = "";

/** The backup task of every archive (done, 30 to 150 s), and a failed last run for every 20th job. */
export async function seedTasks(url: string): Promise<{ tasks: number; seconds: number }> {
  const started = performance.now();
  const h = await openCatalog(url);
  const { db, t } = h;
  const archives = await db.select({ uuid: t.archives.uuid, job: t.archives.jobUuid, target: t.archives.targetUuid, store: t.archives.storeUuid, takenAt: t.archives.takenAt })
    .from(t.archives);
  const jobs = await db.select({ uuid: t.jobs.uuid, target: t.jobs.targetUuid, store: t.jobs.storeUuid }).from(t.jobs).orderBy(t.jobs.name);
  const now = Math.floor(Date.now() / 1000);
  const row = (o: { job: string | null; target: string; store: string; archive: string | null; status: "done" | "failed"; at: number; duration: number }) => ({
    uuid: crypto.randomUUID(), owner: "system", requestedBy: "scheduler", op: "backup", jobUuid: o.job, archiveUuid: o.archive,
    targetUuid: o.target, storeUuid: o.store, status: o.status, requestedAt: o.at, startedAt: o.at, stoppedAt: o.at + o.duration, log: "",
    error: o.status === "failed" ? "target backup failed (exit 1): pg_dump: error: connection to server failed: Connection refused" : null,
  });
  const rows = archives.map((a, i) => row({ job: a.job, target: a.target, store: a.store, archive: a.uuid, status: "done", at: a.takenAt, duration: 30 + (i % 120) }));
  jobs.forEach((j, i) => {
    if (i % 20 === 0) rows.push(row({ job: j.uuid, target: j.target, store: j.store, archive: null, status: "failed", at: now - 600, duration: 5 }));
  });
  for (let from = 0; from < rows.length; from += BATCH) await db.insert(t.tasks).values(rows.slice(from, from + BATCH));
  // The seed's expired archives (in a store whose plugin this build may lack) purged already:
  // otherwise the daemon's purger would be busy with them while the requests are timed.
  await db.update(t.archives).set({ status: "purged", purgedAt: now - 3600 }).where(sql`${t.archives.status} = 'expired'`);
  // VACUUM as well as ANALYZE: a catalog a daemon has lived on is kept vacuumed by autovacuum,
  // whose visibility map lets the statistics' covering indexes be read without the table. Measured
  // straight after a bulk load, before autovacuum's first pass, the same requests read the heap
  // (a sequential scan of the purged archives: +20 to 50 ms) and would measure the seeding, not Shield.
  if (h.dialect === "pg") await db.execute(sql`VACUUM ANALYZE`);
  await h.close();
  return { tasks: rows.length, seconds: (performance.now() - started) / 1000 };
}

/** CPU time (user + system, ms) a process has used, from /proc/PID/stat. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS;
  } catch {
    return 0; // gone meanwhile
  }
}
const TICKS = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** CPU time (ms) of a PostgreSQL server's processes: its postmaster (listening on `port`) and every child (the backends). */
function pgCpuMs(port: number): number {
  const pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
  const master = pids.find((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return cmd.some((a) => a.endsWith("postgres")) && cmd.join(" ").includes(`-p ${port} `);
    } catch { return false; }
  });
  if (master === undefined) return 0;
  let total = cpuMs(master);
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === master) total += cpuMs(pid);
    } catch { /* gone */ }
  }
  return total;
}

async function startDaemon(dataDir: string, database?: string, binary = SHIELD): Promise<{ url: string; proc: Bun.Subprocess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = join(scratch, `daemon-${port}.log`);
  const fd = openSync(log, "w");
  const proc = Bun.spawn([binary, "daemon", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir, ...(database ? ["--database", database] : [])], {
    env: { ...process.env, SHIELD_ADMIN_PASSWORD: PASSWORD, SHIELD_LOG_LEVEL: "warn" }, stdin: "ignore", stdout: "ignore", stderr: fd,
  });
  closeSync(fd);
  running.add(proc);
  const t0 = performance.now();
  for (;;) {
    try {
      const res = await fetch(`${url}/v1/health`);
      await res.arrayBuffer();
      if (res.status === 200) return { url, proc };
    } catch { /* not yet */ }
    if (proc.exitCode !== null || performance.now() - t0 > 120_000) throw new Error(`${binary} did not start; its log:\n${readFileSync(log, "utf8").slice(-2000)}`);
    await Bun.sleep(5);
  }
}

async function timeGets(base: string, token: string, path: string): Promise<{ ms: number[]; bytes: number; body: string }> {
  const ms: number[] = [];
  let body = "";
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    const t0 = performance.now();
    const res = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
    body = await res.text();
    const elapsed = performance.now() - t0;
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${body.slice(0, 200)}`);
    if (i >= WARMUP) ms.push(elapsed);
  }
  return { ms, bytes: body.length, body };
}

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const rank = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
  return { p50: rank(50), p99: rank(99), max: s[s.length - 1]! };
}

async function benchDialect(dialect: Dialect): Promise<void> {
  const dataDir = join(scratch, `${dialect}-data`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const database = dialect === "pg" ? await freshDatabase("shield_bench_health") : join(dataDir, "shield.db");
  const seeded = await seed(database);
  const tasks = await seedTasks(database);
  console.error(`[${dialect}] seeded ${seeded.jobs} jobs, ${seeded.archives} archives and ${tasks.tasks} tasks in ${(seeded.seconds + tasks.seconds).toFixed(1)} s`);
  const pgPort = dialect === "pg" ? Number(new URL(database).port) : undefined;
  const builds: [string, string][] = BASELINE ? [["baseline", BASELINE], ["this", SHIELD]] : [["this", SHIELD]];
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternated: the baseline first in odd rounds, this build first in even ones.
    for (const [build, binary] of round % 2 ? builds : [...builds].reverse()) await timeDaemon(dialect, round, build, binary, dataDir, database, pgPort);
  }
}

async function timeDaemon(dialect: Dialect, round: number, build: string, binary: string, dataDir: string, database: string, pgPort?: number): Promise<void> {
  const d = await startDaemon(dataDir, dialect === "pg" ? database : undefined, binary);
  try {
    const res = await fetch(`${d.url}/v1/auth/tokens`, {
      method: "POST", body: JSON.stringify({ name: `bench-${build}-${round}` }),
      headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}`, "content-type": "application/json" },
    });
    const { token } = (await res.json()) as { token: string };
    const cases: [string, string, (body: string) => string, number | undefined][] = [
      ["GET /v1/jobs", "/v1/jobs", (b) => {
        const jobs = JSON.parse(b) as { last_run: { status: string } | null; window: { runs: number } }[];
        return `${jobs.length} jobs with health, ${jobs.filter((j) => j.last_run?.status === "failed").length} last runs failed, ${jobs.reduce((a, j) => a + j.window.runs, 0)} runs in 30 days`;
      }, TARGET_P99_MS],
      ["GET /v1/statistics", "/v1/statistics", (b) => {
        const s = JSON.parse(b) as { stores: unknown[]; targets: unknown[]; failing_jobs: unknown[] };
        return `${s.stores.length} stores, ${s.targets.length} targets, ${s.failing_jobs.length} failing jobs`;
      }, TARGET_P99_MS],
      ["GET /metrics", "/metrics", (b) => `${b.split("\n").filter((l) => l && !l.startsWith("#")).length} samples`, undefined],
      ["GET /v1/archives?q=db-07&limit=50", "/v1/archives?q=db-07&limit=50", (b) => `${(JSON.parse(b) as unknown[]).length} archives`, undefined],
    ];
    for (const [what, path, describe, target] of cases) {
      const load = loadavg()[0]!.toFixed(1);
      const cpu0 = cpuMs(d.proc.pid), pg0 = pgPort ? pgCpuMs(pgPort) : 0;
      const { ms, bytes, body } = await timeGets(d.url, token, path);
      // Warm-up included: the CPU counters cannot tell the requests apart.
      const n = WARMUP + REQUESTS;
      const cpu = (cpuMs(d.proc.pid) - cpu0) / n, pgCpu = pgPort ? (pgCpuMs(pgPort) - pg0) / n : null;
      const after = loadavg()[0]!.toFixed(1);
      console.error(`[${dialect}] round ${round} ${build} ${what}: p50 ${stats(ms).p50.toFixed(1)} p99 ${stats(ms).p99.toFixed(1)} ms, cpu ${cpu.toFixed(1)}${pgCpu === null ? "" : ` + pg ${pgCpu.toFixed(1)}`} ms/request, load average ${load} before, ${after} after`);
      results.push({ dialect, build, what, n: ms.length, ...stats(ms), cpu, pgCpu, target, note: `round ${round}, load ${load}→${after}; ${describe(body)}; ${(bytes / 1024).toFixed(0)} KiB` });
    }
  } finally {
    d.proc.kill("SIGTERM");
    await d.proc.exited;
    running.delete(d.proc);
  }
}

async function main(): Promise<void> {
  if (!existsSync(SHIELD)) throw new Error(`${SHIELD} is missing: run \`npm run build\` first`);
  scratch = mkdtempSync(join(tmpdir(), "shield-bench-health-"));
  const head = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: import.meta.dir }).stdout.toString().trim();
  console.log(`Shield job health benchmark at ${head}, ${new Date().toISOString()}: ${REQUESTS} timed requests after ${WARMUP} warm-up`);
  if (BASELINE) {
    const base = Bun.spawnSync([BASELINE, "--version"]).stdout.toString().trim();
    console.log(`baseline: ${BASELINE} (${base})`);
  }
  for (const dialect of DIALECTS) if (dialect === "sqlite" || pgAvailable) await benchDialect(dialect);
  const f = (x: number) => x.toFixed(1);
  console.log("\n| dialect | build | measurement | n | p50 ms | p99 ms | max ms | CPU ms/req daemon | + PostgreSQL | target | note |\n|---|---|---|--:|--:|--:|--:|--:|--:|---|---|");
  for (const r of results) {
    const verdict = r.target === undefined ? "" : `${Number(f(r.p99)) < r.target ? "met" : "MISSED"} (p99 < ${r.target})`;
    console.log(`| ${r.dialect} | ${r.build} | ${r.what} | ${r.n} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.max)} | ${f(r.cpu)} | ${r.pgCpu === null ? "" : f(r.pgCpu)} | ${verdict} | ${r.note} |`);
  }
}

if (import.meta.main) {
  try {
    await main();
  } finally {
    for (const proc of running) proc.kill("SIGKILL");
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
  process.exit(0);
}
