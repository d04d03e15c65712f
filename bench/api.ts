// API benchmark: the compiled daemon (dist/shield) on a seeded catalog of each dialect.
//
//   npm run bench            (needs dist/shield: `npm run build` first)
//
// For SQLite and for PostgreSQL (the tests' private server, started from this
// machine's binaries), it:
//   1. seeds the catalog through src/catalog: 1,000 jobs over 50 targets, 5 stores,
//      10 schedules and 5 retention policies, and 100,000 archives;
//   2. starts dist/shield on it, creates an API token (Basic auth as admin), and times
//      sequential GET /v1/jobs and GET /v1/archives?target=…&limit=50 with that token;
//   3. times start-to-first-200 of GET /v1/health on a fresh data dir and an existing one.
// Then it prints one table. Knobs (environment): BENCH_REQUESTS, BENCH_WARMUP, BENCH_START_RUNS.
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { openCatalog } from "../src/catalog/open.ts";
import { catalogQueries, type ArchiveRow } from "../src/catalog/index.ts";
import { freshDatabase, pgAvailable } from "../test/helpers/postgres.ts";
import { freePort } from "../test/helpers/services.ts";

const SHIELD = resolve(import.meta.dir, "../dist/shield");
const PASSWORD = "bench-admin-password";
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 500);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 50);
const START_RUNS = Number(process.env.BENCH_START_RUNS ?? 10);

const N = { targets: 50, stores: 5, schedules: 10, retention: 5, jobs: 1000, archives: 100_000 };
const BATCH = 1000; // archive rows per INSERT: 17 columns × 1000 stays under both dialects' parameter limits
const TARGET_LIST_P99_MS = 50;
const TARGET_START_MS = 100;

type Dialect = "sqlite" | "pg";
interface Row { dialect: Dialect | "-"; what: string; n: number; p50: number; p99?: number; max: number; target?: number; note?: string }
const results: Row[] = [];
let scratch = "";
const running = new Set<Bun.Subprocess>();

// ---- seeding ---------------------------------------------------------------

export interface Seeded { targets: string[]; jobs: number; archives: number; seconds: number }

/** Fills an empty catalog (SQLite path or postgres:// URL); exported for ad-hoc query-plan checks. */
export async function seed(url: string): Promise<Seeded> {
  const started = performance.now();
  const handle = await openCatalog(url);
  const catalog = catalogQueries(handle);
  const now = Math.floor(Date.now() / 1000);
  const uuids = (n: number) => Array.from({ length: n }, () => crypto.randomUUID());
  const pad = (i: number, w = 4) => String(i).padStart(w, "0");

  // Definitions and jobs through the catalog's own per-row queries (1,070 rows: quick enough).
  const targets = uuids(N.targets), stores = uuids(N.stores), schedules = uuids(N.schedules), retention = uuids(N.retention);
  for (const [i, uuid] of targets.entries()) {
    await catalog.targets.create(uuid, {
      name: `db-${pad(i, 2)}`, summary: `PostgreSQL cluster ${i}`, plugin: "postgres",
      endpoint: JSON.stringify({ host: `db-${pad(i, 2)}.internal`, port: 5432, user: "backup", password: "not-a-secret" }),
      agent: `10.0.${i}.10:5444`,
    }, now);
  }
  for (const [i, uuid] of stores.entries()) {
    await catalog.stores.create(uuid, {
      name: `s3-${i}`, summary: "", plugin: "s3",
      endpoint: JSON.stringify({ bucket: `backups-${i}`, region: "eu-west-1", prefix: "shield/" }),
    }, now);
  }
  for (const [i, uuid] of schedules.entries()) {
    await catalog.schedules.create(uuid, { name: `daily-${pad(i, 2)}`, summary: "", timespec: `daily at ${i}:30am` }, now);
  }
  const expiries = [7, 14, 30, 90, 365].map((d) => d * 86400);
  for (const [i, uuid] of retention.entries()) {
    await catalog.retention.create(uuid, { name: `keep-${expiries[i]! / 86400}d`, summary: "", expiry: expiries[i]! }, now);
  }
  const jobs = uuids(N.jobs).map((uuid, i) => ({
    uuid, targetUuid: targets[i % N.targets]!, storeUuid: stores[i % N.stores]!, expiry: expiries[i % N.retention]!,
  }));
  for (const [i, j] of jobs.entries()) {
    await catalog.jobs.create(j.uuid, {
      name: `job-${pad(i)}`, summary: `nightly backup ${i}`, targetUuid: j.targetUuid, storeUuid: j.storeUuid,
      scheduleUuid: schedules[i % N.schedules]!, retentionUuid: retention[i % N.retention]!, priority: 50, paused: i % 10 === 0,
    }, now);
  }

  // 100,000 archives: too many for one INSERT each, so batched through the same Drizzle handle.
  // Taken every ~5 minutes over the past year; the oldest are expired or purged.
  const { db, t } = handle;
  for (let from = 0; from < N.archives; from += BATCH) {
    const rows: Parameters<typeof catalog.archives.create>[0][] = [];
    for (let i = from; i < Math.min(from + BATCH, N.archives); i++) {
      const job = jobs[i % N.jobs]!;
      const uuid = crypto.randomUUID();
      const takenAt = now - (N.archives - i) * 315;
      const expiresAt = takenAt + job.expiry;
      const status = expiresAt > now ? "valid" : i % 3 === 0 ? "expired" : "purged";
      rows.push({
        uuid, targetUuid: job.targetUuid, storeUuid: job.storeUuid, jobUuid: job.uuid,
        storeKey: `${job.targetUuid}/${new Date(takenAt * 1000).toISOString().slice(0, 10)}/${uuid}`,
        takenAt, expiresAt, notes: "", status,
        size: 1_000_000 + i * 37, rawSize: 4_000_000 + i * 151, sha256: uuid.replaceAll("-", "").repeat(2),
        compression: "zstd", cipher: "aes-256-gcm", encryptionKey: uuid.replaceAll("-", ""),
        purgedAt: status === "purged" ? expiresAt + 3600 : null,
      });
    }
    await db.insert(t.archives).values(rows);
  }
  // A PostgreSQL catalog is analyzed by autovacuum soon after a bulk load; do it now so that the
  // planner sees the steady state. SQLite has no such daemon, and Shield never runs ANALYZE there.
  if (handle.dialect === "pg") await db.execute(sql`ANALYZE`);
  await catalog.close();
  return { targets, jobs: N.jobs, archives: N.archives, seconds: (performance.now() - started) / 1000 };
}

// ---- the daemon ------------------------------------------------------------

interface Daemon { url: string; proc: Bun.Subprocess; startedMs: number; log: string }
let daemonCount = 0;

/** Spawns dist/shield and waits for the first 200 of /v1/health; startedMs is spawn → that 200. */
async function startDaemon(dataDir: string, database?: string): Promise<Daemon> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Its log goes to a file: a pipe nobody reads would block the daemon once full.
  const log = join(scratch, `daemon-${++daemonCount}.log`);
  const logFd = openSync(log, "w");
  const t0 = performance.now();
  const proc = Bun.spawn([SHIELD, "daemon", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir, ...(database ? ["--database", database] : [])], {
    env: { ...process.env, SHIELD_ADMIN_PASSWORD: PASSWORD },
    stdin: "ignore", stdout: "ignore", stderr: logFd,
  });
  closeSync(logFd);
  running.add(proc);
  for (;;) {
    try {
      const res = await fetch(`${url}/v1/health`);
      await res.arrayBuffer();
      if (res.status === 200) return { url, proc, startedMs: performance.now() - t0, log };
    } catch { /* not listening yet */ }
    const failed = proc.exitCode !== null ? `exited with ${proc.exitCode}` : performance.now() - t0 > 30_000 ? "did not answer /v1/health within 30 s" : "";
    if (failed) throw new Error(`dist/shield ${failed}; its log:\n${readFileSync(log, "utf8").slice(-2000)}`);
    await Bun.sleep(1);
  }
}

/** The daemon's own timing of its last `n` requests to `path`, from its request log (whole milliseconds). */
function serverSideMs(d: Daemon, path: string, n: number): number[] {
  const lines = readFileSync(d.log, "utf8").split("\n").filter((l) => l.startsWith("{"));
  const ms = lines.map((l) => JSON.parse(l)).filter((e) => e.msg === "request" && e.path === path).map((e) => Number(e.ms));
  return ms.slice(-n);
}

async function stopDaemon(d: Daemon): Promise<void> {
  d.proc.kill("SIGTERM");
  await d.proc.exited;
  running.delete(d.proc);
}

async function createToken(url: string): Promise<{ token: string; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/auth/tokens`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "bench" }),
  });
  const body = (await res.json()) as { token?: string };
  if (res.status !== 200 || !body.token) throw new Error(`POST /v1/auth/tokens answered ${res.status}: ${JSON.stringify(body)}`);
  return { token: body.token, ms: performance.now() - t0 };
}

// ---- measuring -------------------------------------------------------------

/** Times `REQUESTS` sequential GETs (after `WARMUP` untimed ones), body read in full. */
async function timeGets(base: string, token: string, path: (i: number) => string): Promise<{ ms: number[]; bytes: number; items: number }> {
  const ms: number[] = [];
  let bytes = 0, items = 0;
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    const t0 = performance.now();
    const res = await fetch(base + path(i), { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    const elapsed = performance.now() - t0;
    if (res.status !== 200) throw new Error(`GET ${path(i)} answered ${res.status}: ${text.slice(0, 200)}`);
    if (i >= WARMUP) ms.push(elapsed);
    bytes = text.length;
    items = (JSON.parse(text) as unknown[]).length;
  }
  return { ms, bytes, items };
}

function stats(ms: number[]): { p50: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const rank = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
  return { p50: rank(50), p99: rank(99), max: s[s.length - 1]! };
}

function record(dialect: Row["dialect"], what: string, ms: number[], target?: number, note?: string, withP99 = true): void {
  const { p50, p99, max } = stats(ms);
  results.push({ dialect, what, n: ms.length, p50, p99: withP99 ? p99 : undefined, max, target, note });
}

/** Spawn → exit of `shield version`: the floor of any start (Bun runtime, evaluating the whole bundle), before the daemon does anything. */
async function timeBareExecutable(): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < START_RUNS; i++) {
    const t0 = performance.now();
    const proc = Bun.spawn([SHIELD, "version"], { stdout: "ignore", stderr: "ignore" });
    await proc.exited;
    ms.push(performance.now() - t0);
  }
  return ms;
}

// Two parts of a start, timed in this process (same Bun as the executable) to explain the starts.

/** The daemon hashes the admin's password at first start: Bun.password.hash with its defaults, as src/core/users.ts does. */
async function timePasswordHash(): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < START_RUNS; i++) {
    const t0 = performance.now();
    await Bun.password.hash(PASSWORD);
    ms.push(performance.now() - t0);
  }
  return ms;
}

/** A PostgreSQL catalog costs a new connection (a forked backend) and its first query at every start. */
async function timePgConnect(url: string): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < START_RUNS; i++) {
    const t0 = performance.now();
    const client = postgres(url, { max: 1, onnotice: () => {} }); // postgres.js defaults, as src/catalog/open.ts uses
    await client`SELECT 1`;
    ms.push(performance.now() - t0);
    await client.end();
  }
  return ms;
}

async function startRuns(make: () => Promise<{ dataDir: string; database?: string }>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < START_RUNS; i++) {
    const { dataDir, database } = await make();
    const d = await startDaemon(dataDir, database);
    ms.push(d.startedMs);
    await stopDaemon(d);
  }
  return ms;
}

async function benchDialect(dialect: Dialect): Promise<void> {
  const dataDir = join(scratch, `${dialect}-data`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const database = dialect === "pg" ? await freshDatabase("shield_bench") : join(dataDir, "shield.db");
  const seeded = await seed(database);
  console.error(`[${dialect}] seeded ${seeded.jobs} jobs and ${seeded.archives} archives over ${seeded.targets.length} targets in ${seeded.seconds.toFixed(1)} s`);

  // First start on this data dir (host key, admin) over an already migrated, seeded catalog.
  const d = await startDaemon(dataDir, dialect === "pg" ? database : undefined);
  try {
    const { token, ms: tokenMs } = await createToken(d.url);
    results.push({ dialect, what: "POST /v1/auth/tokens (Basic, 1st request)", n: 1, p50: tokenMs, max: tokenMs, note: "includes one password verify" });

    // The note gives the daemon's own view (its request log): the time from its first middleware to the
    // response object, before the body is sent; the gap to the client's numbers is transport and scheduling.
    const inDaemon = (path: string) => {
      const { p50, p99 } = stats(serverSideMs(d, path, REQUESTS));
      return `in daemon p50 ${p50} / p99 ${p99} ms`;
    };
    const jobs = await timeGets(d.url, token, () => "/v1/jobs");
    record(dialect, "GET /v1/jobs", jobs.ms, TARGET_LIST_P99_MS, `${jobs.items} jobs, ${(jobs.bytes / 1024).toFixed(0)} KiB; ${inDaemon("/v1/jobs")}`);
    const archives = await timeGets(d.url, token, (i) => `/v1/archives?target=${seeded.targets[i % seeded.targets.length]}&limit=50`);
    record(dialect, "GET /v1/archives?target=…&limit=50", archives.ms, TARGET_LIST_P99_MS, `${archives.items} archives, ${(archives.bytes / 1024).toFixed(0)} KiB; ${inDaemon("/v1/archives")}`);
  } finally {
    await stopDaemon(d);
  }

  if (dialect === "sqlite") {
    record("-", "part: Bun.password.hash (admin created)", await timePasswordHash(), undefined, "argon2id, Bun defaults", false);
    const fresh = await startRuns(async () => ({ dataDir: mkdtempSync(join(scratch, "fresh-")) }));
    record("sqlite", "start → 200, fresh data dir", fresh, TARGET_START_MS, "key, migrations, admin", false);
  } else {
    record("pg", "part: new connection + SELECT 1", await timePgConnect(database), undefined, "postgres.js, in-process", false);
    const fresh = await startRuns(async () => ({ dataDir: mkdtempSync(join(scratch, "fresh-")), database: await freshDatabase("shield_bench") }));
    record("pg", "start → 200, fresh data dir + database", fresh, TARGET_START_MS, "key, migrations, admin", false);
  }
  const warm = await startRuns(async () => ({ dataDir, database: dialect === "pg" ? database : undefined }));
  record(dialect, "start → 200, existing data dir", warm, TARGET_START_MS, "seeded catalog", false);
}

// ---- main ------------------------------------------------------------------

function printTable(): void {
  const f = (x: number | undefined) => (x === undefined ? "" : x.toFixed(1));
  const verdict = (r: Row) => {
    if (r.target === undefined) return "";
    const judged = Number((r.p99 ?? r.p50).toFixed(1)); // lists: p99; starts: the median; as printed
    return `${judged < r.target ? "met" : "MISSED"} (< ${r.target})`;
  };
  const header = ["dialect", "measurement", "n", "p50/median ms", "p99 ms", "max ms", "target", "note"];
  const body = results.map((r) => [r.dialect, r.what, String(r.n), f(r.p50), f(r.p99), f(r.max), verdict(r), r.note ?? ""]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => (i >= 2 && i <= 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ") + " |";
  console.log(line(header));
  console.log("|" + widths.map((w, i) => (i >= 2 && i <= 5 ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|") + "|");
  for (const row of body) console.log(line(row));
}

/** What was measured: the commit, and whether the tree differed from it. */
function revision(): string {
  const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: import.meta.dir }).stdout.toString().trim();
  const head = git("rev-parse", "--short", "HEAD");
  if (!head) return "not a git checkout";
  return git("status", "--porcelain", "--untracked-files=no").length > 0 ? `${head} + uncommitted changes` : head;
}

async function main(): Promise<void> {
  if (!existsSync(SHIELD)) throw new Error(`${SHIELD} is missing: run \`npm run build\` first`);
  scratch = mkdtempSync(join(tmpdir(), "shield-bench-"));
  console.log(`Shield API benchmark at ${revision()}, ${new Date().toISOString()}: ${REQUESTS} timed requests after ${WARMUP} warm-up, ${START_RUNS} starts per case`);
  const bare = await timeBareExecutable();
  record("-", "spawn → exit of `shield version`", bare, undefined, "the executable's own floor", false);
  for (const dialect of pgAvailable ? (["sqlite", "pg"] as const) : (["sqlite"] as const)) await benchDialect(dialect);
  console.log();
  printTable();
  console.log("\nStarts: median judged against the target. Lists: p99.");
}

if (import.meta.main) {
  try {
    await main();
  } finally {
    for (const proc of running) proc.kill("SIGKILL");
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
  // The private PostgreSQL is stopped by its helper's exit hook.
  process.exit(0);
}
