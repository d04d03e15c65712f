// Data-path benchmark: the compiled daemon (dist/shield), driven through its HTTP API
// alone, against shell pipelines of standard tools doing the same work. Results and
// analysis: bench/DATAPATH.md.
//
//   ./node_modules/.bin/bun run bench/datapath.ts [relay|e2e|rss|all|quick|restore|fixed|mysql|datasets|cluster|issue20]   (default all;
//   needs dist/shield: `npm run build` first)
//
// Issue 20's benchmarks, every target, in one command (~45 minutes on 2 cores with 3 rounds):
//
//   npm run bench:issue20
//
// The three data sets alone (backup and restore against the shell, CPU per GiB of each process;
// ~7 minutes on 2 cores with 3 rounds at the issue's sizes, ~11 with a second build):
//
//   npm run build && ./node_modules/.bin/bun run bench/datapath.ts datasets
//   (BENCH_RUNS=5 for more rounds; BENCH_COMPARE=/path/to/other/shield to measure another build beside it, interleaved)
//
// relay  2 GiB of zeros from a trivial shell target (bench/plugins/bench-zero, which
//        runs `head -c N /dev/zero`) into the built-in fs store, compression "none",
//        with the daemon's encryption off (SHIELD_ENCRYPT=off, as the issue asks) and on.
//        Shell A is `head | tee >(sha256sum) > file` (the issue's baseline), shell B the
//        same with `openssl dgst -sha256` (SHA-NI: a harder baseline); with encryption on,
//        `openssl enc -aes-256-ctr` runs before tee. The fs store fsyncs its blob before
//        it names a key, so shell times are given without and with a final `sync FILE`.
// e2e    a ~1 GB PostgreSQL database (pgbench tables + a table of md5 text, on the
//        tests' private server) backed up with zstd and encryption vs
//        `pg_dump -Fc -Z0 | zstd -T0 | openssl enc -aes-256-ctr -pbkdf2 > file` (pg_dump's
//        own compression off, as in the postgres plugin); then the daemon with compression
//        and encryption each off, and the pieces of the shell pipeline (including plain
//        `pg_dump -Fc`, which compresses itself, and zstd's thread modes).
// quick  for iterating: an empty database (the fixed cost) and the BENCH_PG_* one, alternating this
//        build, BENCH_COMPARE (another binary, same session) and the shell; then the daemon CPU
//        of a GET /v1/task (what polling costs), and two restores per build of the big
//        database into a new one (time and CPU). Not part of all.
// restore the BENCH_PG_* database's archive (zstd, encrypted) restored by the daemon into
//        a new database, verify pass included, against the shell
//        `openssl dec | zstd -d | pg_restore` of the same database's dump into a new
//        database (pg_restore with the plugin's flags, --single-transaction included);
//        paired runs, the order alternating each round. The verify pass's own time comes
//        from the task log ("verified N MiB in T s"). Not part of all.
// fixed  the fixed cost of a backup: BENCH_FIXED_JOBS (200) empty databases backed up at once
//        with --workers 4, against pg_dump of them 4 at a time; then one at a time. With
//        BENCH_COMPARE, that build too, interleaved; CPU per backup beside each. Not part of all.
// datasets the three data sets of issue 20 (documents, compressible, random; see makeDatabase), made once each at
//        the issue's sizes, 0.5-2 GiB of dump (DATASETS_SIZE; BENCH_PG_SCALE, BENCH_PG_MD5_ROWS, BENCH_RANDOM_ROWS change it,
//        BENCH_DATASETS=random,... picks some): for each in turn, BENCH_RUNS rounds of the daemon's backup (zstd,
//        encrypted, fs store) against `pg_dump -Fc -Z0 | zstd -T0 | openssl enc > file; sync file`, then BENCH_RUNS
//        rounds of the daemon's restore (verify pass included) into a new database against `createdb; openssl dec |
//        zstd -d | pg_restore` into a new database (each restored database's largest table counted), the order
//        rotating each round. Per data set: medians, spread, the ratio shell ÷ shield of each pair, the load, and
//        the CPU seconds per GiB of raw dump of each kind of process (the daemon, each guard, zstd, pg_dump,
//        pg_restore, openssl...), sampled from /proc/PID/stat, beside the exact total from rusage. Not part of all.
// mysql  a ~1 GB MariaDB database (BENCH_MYSQL_ROWS rows of md5 text and numbers, on the
//        tests' private server) backed up by the mysql target with zstd and encryption vs
//        `mariadb-dump --single-transaction (the plugin's flags) | zstd -T0 | openssl enc > file`
//        (+ sync FILE); then its archive restored by the daemon (verify pass included) into
//        a new database vs `openssl dec | zstd -d | mariadb` into a new database. Paired
//        runs, the order alternating each round; the load average beside each pair. Not
//        part of all.
// cluster a whole cluster (pg_dumpall out, psql in): a private cluster holding the documents data set (DATASETS_SIZE)
//        backed up through a target without pg_database against `pg_dumpall --clean --if-exists | zstd -T0 |
//        openssl enc > file; sync file`, then restored into a second private cluster (replacing its databases)
//        against `openssl dec | zstd -d | psql -f -`; as datasets otherwise. Not part of all.
// issue20 datasets, cluster, mysql and fixed, one after the other: every target of issue 20 but the agent's
//        (bench/agent.ts). `npm run bench:issue20` builds, runs this, then the agent's benchmark
//        (~45 minutes on 2 cores with the default 3 rounds).
// rss    peak VmRSS of the daemon process (and of its children), sampled every 100 ms
//        from /proc, during a 2 GiB and a 4 GiB relay backup with encryption on.
//
// Daemon time is wall time from POST /v1/job/:uuid/run to the task reading done
// (GET /v1/task/:uuid?wait=, answered the moment it ends; an older build without it polled every 50 ms); beside it, the CPU
// seconds of the daemon itself and of its children during the backup. Each comparison
// runs BENCH_RUNS times (default 3), alternating daemon and shell; medians are reported.
// Every blob and output file is deleted as soon as it has been measured, and the scratch
// directory (with the private PostgreSQL) when the script ends.
//
// Knobs: BENCH_RUNS, BENCH_RELAY_BYTES, BENCH_DATASET (documents|compressible|random, see
// makeDatabase), BENCH_PG_SCALE (35), BENCH_PG_MD5_ROWS (3,000,000), BENCH_RANDOM_ROWS (1,000,000),
// BENCH_MYSQL_ROWS (5,000,000), BENCH_SHIELD (another build to measure instead of dist/shield).
import { chmodSync, closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { freshDatabase, pgAvailable, startCluster, startPostgres, stopPostgres, type PgServer } from "../test/helpers/postgres.ts";
import { freePort } from "../test/helpers/services.ts";
import { childrenOf, cpuSeconds, TreeCpu } from "./proc-tree.ts";
import { ADMIN_PASSWORD as MYSQL_PASSWORD, ADMIN_USER as MYSQL_USER, mariadbAvailable, startMariadb, stopMariadb } from "../test/helpers/mariadb.ts";

const ROOT = resolve(import.meta.dir, "..");
/** BENCH_SHIELD: another build to measure (default dist/shield). */
const BUILT = resolve(process.env.BENCH_SHIELD ?? join(ROOT, "dist/shield"));
/** A copy of dist/shield in the scratch dir: a rebuild during the run cannot change what is measured. */
let SHIELD = BUILT;
const PLUGIN_DIR = join(import.meta.dir, "plugins");
const PASSWORD = "bench-datapath-password";
const AUTH = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}` };
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const GiB = 1024 ** 3;
const RELAY_BYTES = Number(process.env.BENCH_RELAY_BYTES ?? 2 * GiB);
/** pgbench scale and md5 rows: together about 1 GB of database. */
const PG_SCALE = Number(process.env.BENCH_PG_SCALE ?? 35);
const PG_MD5_ROWS = Number(process.env.BENCH_PG_MD5_ROWS ?? 3_000_000);
/** Rows of the MariaDB table: about 1 GB of InnoDB data. */
const MYSQL_ROWS = Number(process.env.BENCH_MYSQL_ROWS ?? 5_000_000);

let scratch = "";
const daemons = new Set<Daemon>();

// ---- small helpers -----------------------------------------------------------

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
/** Text for a Markdown table cell. */
const cell = (s: string) => s.replaceAll("|", "\\|");
/** CPU seconds of the daemon itself + of its children (plugins, zstd). */
const cpu = (b: { cpu: { daemon: number; children: number } }) => `cpu ${b.cpu.daemon.toFixed(1)} + ${b.cpu.children.toFixed(1)} s`;
const rate = (bytes: number, ms: number) => `${(bytes / 1024 / 1024 / (ms / 1000)).toFixed(0)} MiB/s`;

/** Bytes in every file under a directory. */
function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir, { recursive: true }).map(String)) {
    const st = statSync(join(dir, f));
    if (st.isFile()) n += st.size;
  }
  return n;
}

function emptyDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

function dropCaches(): void {
  // Not available everywhere (containers); the writes of a previous run are flushed at least.
  Bun.spawnSync(["sync"]);
}

/** Runs a bash script; resolves with its wall time in ms. */
async function sh(script: string, env: Record<string, string> = {}): Promise<number> {
  return (await shWatched(script, env)).ms;
}

/**
 * Runs a bash script: its wall time in ms, and with `tree`, the CPU seconds of the whole
 * pipeline (bash's rusage, every process it waited for included) and of each kind of
 * process in it (TreeCpu).
 */
async function shWatched(script: string, env: Record<string, string> = {}, tree = false): Promise<{ ms: number; cpu: number; kinds: Map<string, number> }> {
  const t0 = performance.now();
  const p = Bun.spawn(["bash", "-c", `set -euo pipefail\n${script}`], { env: { ...process.env, ...env }, stdout: "ignore", stderr: "pipe" });
  const sampler = tree ? new TreeCpu(p.pid, true) : undefined;
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  const ms = performance.now() - t0;
  const kinds = sampler?.stop() ?? new Map<string, number>();
  if (code !== 0) throw new Error(`shell pipeline failed (exit ${code}): ${err.trim()}\n${script}`);
  const u = p.resourceUsage();
  return { ms, cpu: u ? Number(u.cpuTime.user + u.cpuTime.system) / 1e6 : NaN, kinds };
}

/**
 * A shell pipeline writing into `file`, timed to its end and again after `sync FILE` (an fsync);
 * the file is deleted unless `keep`. With `tree`, the pipeline's CPU as shWatched gives it.
 */
async function shTimed(script: string, file: string, env: Record<string, string> = {}, opts: { keep?: boolean; tree?: boolean } = {}): Promise<{ ms: number; msSync: number; bytes: number; cpu: number; kinds: Map<string, number> }> {
  const t0 = performance.now();
  const { ms, cpu, kinds } = await shWatched(script, env, opts.tree);
  // The sync's own CPU (the writeback it starts) counts too: the fs store's fsyncs are in its guard's.
  const synced = await shWatched(`sync ${JSON.stringify(file)}`, {}, opts.tree);
  const msSync = performance.now() - t0;
  for (const [k, v] of synced.kinds) kinds.set(k, (kinds.get(k) ?? 0) + v);
  const bytes = statSync(file).size;
  if (!opts.keep) rmSync(file, { force: true });
  return { ms, msSync, bytes, cpu: cpu + (opts.tree ? synced.cpu : 0), kinds };
}

// ---- RSS sampling ------------------------------------------------------------

function vmRssKiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function label(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    const name = argv[0]?.split("/").pop() ?? "?";
    return name === "shield" ? argv.slice(0, 4).map((a, i) => (i ? a : "shield")).join(" ") : name;
  } catch {
    return "?";
  }
}

/** Samples VmRSS of a process every `every` ms, and the peak of each kind of descendant. */
class RssSampler {
  samples: number[] = [];
  children = new Map<string, number>();
  private timer: ReturnType<typeof setInterval>;
  constructor(private readonly pid: number, every = 100) {
    this.tick();
    this.timer = setInterval(() => this.tick(), every);
  }
  private tick(): void {
    const kib = vmRssKiB(this.pid);
    if (kib !== undefined) this.samples.push(kib);
    const todo = childrenOf(this.pid);
    while (todo.length) {
      const c = todo.pop()!;
      const r = vmRssKiB(c);
      if (r !== undefined) {
        const l = label(c);
        this.children.set(l, Math.max(this.children.get(l) ?? 0, r));
      }
      todo.push(...childrenOf(c));
    }
  }
  stop(): { peakKiB: number; firstKiB: number; lastKiB: number; n: number; children: Map<string, number> } {
    clearInterval(this.timer);
    this.tick();
    return { peakKiB: Math.max(...this.samples), firstKiB: this.samples[0]!, lastKiB: this.samples.at(-1)!, n: this.samples.length, children: this.children };
  }
}

// ---- the daemon and its API -------------------------------------------------------

interface Daemon { url: string; proc: Bun.Subprocess; log: string; dir: string; /** A build without GET /v1/task/:uuid?wait= (BENCH_COMPARE of an older one): polled. */ noWait?: boolean }

async function startDaemon(env: Record<string, string>, args: string[] = []): Promise<Daemon> {
  const port = await freePort();
  const dir = mkdtempSync(join(scratch, "daemon-"));
  const url = `http://127.0.0.1:${port}`;
  // Its log goes to a file: a pipe nobody reads would block the daemon once full.
  const log = join(dir, "daemon.log");
  const fd = openSync(log, "w");
  const proc = Bun.spawn([SHIELD, "daemon", "--listen", `127.0.0.1:${port}`, "--data-dir", join(dir, "data"), "--plugin-dir", PLUGIN_DIR, ...args], {
    env: { ...process.env, SHIELD_ADMIN_PASSWORD: PASSWORD, SHIELD_LOG_LEVEL: "warn", ...env },
    stdin: "ignore", stdout: "ignore", stderr: fd,
  });
  closeSync(fd);
  const d = { url, proc, log, dir };
  daemons.add(d);
  const t0 = performance.now();
  // It listens before it has created the admin user: ready is when our password works.
  for (;;) {
    try {
      if ((await fetch(`${url}/v1/plugins`, { headers: AUTH })).ok) return d;
    } catch { /* not listening yet */ }
    if (proc.exitCode !== null || performance.now() - t0 > 30_000) {
      throw new Error(`dist/shield did not start; its log:\n${readFileSync(log, "utf8").slice(-2000)}`);
    }
    await Bun.sleep(20);
  }
}

async function stopDaemon(d: Daemon): Promise<void> {
  d.proc.kill("SIGTERM");
  const timer = setTimeout(() => d.proc.kill("SIGKILL"), 10_000);
  await d.proc.exited;
  clearTimeout(timer);
  daemons.delete(d);
  rmSync(d.dir, { recursive: true, force: true });
}

async function call(d: Daemon, method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(d.url + path, { method, headers: { ...AUTH, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await r.json();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** Store, target, schedule, retention and a paused job; returns the job's uuid. */
async function makeJob(d: Daemon, name: string, target: { plugin: string; endpoint: unknown }, storeDir: string, compression: string): Promise<string> {
  const create = async (path: string, body: unknown) => (await call(d, "POST", path, body)).uuid as string;
  const store = await create("/v1/stores", { name: `${name}-store`, plugin: "fs", endpoint: { base_dir: storeDir } });
  const t = await create("/v1/targets", { name: `${name}-target`, plugin: target.plugin, endpoint: target.endpoint, agent: "" });
  const schedule = await create("/v1/schedules", { name: `${name}-schedule`, when: "daily at 4am" });
  const retention = await create("/v1/retention", { name: `${name}-retention`, expires: 86400 });
  return create("/v1/jobs", { name, target: t, store, schedule, retention, paused: true, compression });
}

interface Backup {
  ms: number; archive: string; size: number; rawSize: number; cipher: string; compression: string; log: string;
  /** CPU seconds the daemon spent itself, and its children (plugins, zstd) altogether. */
  cpu: { daemon: number; children: number };
  /** With `tree`: CPU seconds per kind of process of the daemon's tree (TreeCpu). */
  kinds: Map<string, number>;
}

/** How often a build without ?wait= is asked about a task (and every build, with BENCH_POLL_MS set): a late look
 *  adds up to this much to the time, and each look costs the daemon ~1 ms of CPU (measured by `quick`). */
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 50);

/**
 * The task once it is no longer pending or running. Asked with ?wait= (the daemon answers the
 * moment the task ends): polling every 50 ms cost the daemon 0.2 s of CPU per GiB in the documents
 * backup and 0.6 in its restore, CPU the shell it is measured against never spends (bench/DATAPATH.md,
 * "Ninth session"). A build that refuses ?wait= (an older one, BENCH_COMPARE) is polled every POLL_MS, as
 * is every build when BENCH_POLL_MS is set.
 */
async function settled(d: Daemon, uuid: string): Promise<any> {
  if (process.env.BENCH_POLL_MS) d.noWait = true;
  for (;;) {
    const path = `/v1/task/${uuid}${d.noWait ? "" : "?wait=8"}`;
    const r = await fetch(d.url + path, { headers: AUTH });
    const task: any = await r.json();
    if (r.status === 400 && !d.noWait) { d.noWait = true; continue; }
    if (r.status >= 300) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(task)}`);
    if (!["pending", "running"].includes(task.status)) return task;
    if (d.noWait) await Bun.sleep(POLL_MS);
  }
}

/** POSTs what files a task (a job's run, an archive's restore), then waits (settled) until it is no longer pending or running. */
async function runTask(d: Daemon, path: string, body: unknown, tree = false): Promise<{ ms: number; task: any; cpu: Backup["cpu"]; kinds: Map<string, number> }> {
  const sampler = tree ? new TreeCpu(d.proc.pid, false) : undefined;
  const cpu0 = cpuSeconds(d.proc.pid);
  const t0 = performance.now();
  const { task_uuid } = await call(d, "POST", path, body);
  const task = await settled(d, task_uuid);
  const ms = performance.now() - t0;
  const cpu1 = cpuSeconds(d.proc.pid);
  const kinds = sampler?.stop() ?? new Map<string, number>();
  if (task.status !== "done") throw new Error(`${task.type} task ${task.status}:\n${task.log}`);
  return { ms, task, cpu: { daemon: cpu1.self - cpu0.self, children: cpu1.children - cpu0.children }, kinds };
}

/** Per column ("backup: this", "restore: shell", ...): each round's CPU seconds per kind of process, and the exact total. */
type CpuColumns = Map<string, { kinds: Map<string, number>; total: number }[]>;

/**
 * Prints the CPU seconds per GiB of raw dump of each kind of process, the median over the
 * rounds, one column each; returns the per-GiB formatter for the caller's summary.
 */
function cpuTable(cpuOf: CpuColumns, rawBytes: number): (xs: number[]) => string {
  const gib = rawBytes / GiB;
  const cols = [...cpuOf.keys()];
  const kinds = [...new Set(cols.flatMap((c) => cpuOf.get(c)!.flatMap((r) => [...r.kinds.keys()])))].sort();
  const perGiB = (xs: number[]) => (median(xs) / gib).toFixed(2);
  out(`CPU seconds per GiB of raw dump (${mib(rawBytes)}), median over the rounds, sampled from /proc/PID/stat every 50 ms per process; "all" is the exact total (rusage: the daemon's own and its children's, the shell's bash and its children), "not sampled" the difference (processes' last moments before they exited):`);
  out();
  out(`| process | ${cols.join(" | ")} |`);
  out(`|---|${cols.map(() => "---|").join("")}`);
  for (const k of kinds) out(`| ${cell(k)} | ${cols.map((c) => cpuOf.get(c)!.some((r) => r.kinds.has(k)) ? perGiB(cpuOf.get(c)!.map((r) => r.kinds.get(k) ?? 0)) : "").join(" | ")} |`);
  out(`| **all (rusage)** | ${cols.map((c) => `**${perGiB(cpuOf.get(c)!.map((r) => r.total))}**`).join(" | ")} |`);
  out(`| not sampled | ${cols.map((c) => perGiB(cpuOf.get(c)!.map((r) => r.total - [...r.kinds.values()].reduce((a, b) => a + b, 0)))).join(" | ")} |`);
  out();
  return perGiB;
}

/** POST run, then polls the task until it is no longer pending or running. */
async function runJob(d: Daemon, job: string, tree = false): Promise<Backup> {
  const { ms, task, cpu, kinds } = await runTask(d, `/v1/job/${job}/run`, {}, tree);
  const a = await call(d, "GET", `/v1/archive/${task.archive_uuid}`);
  return { ms, archive: a.uuid, size: a.size, rawSize: a.raw_size, cipher: a.cipher, compression: a.compression, log: task.log, cpu, kinds };
}

// ---- the measurements ---------------------------------------------------------------

const report: string[] = [];
function out(line = ""): void {
  console.log(line);
  report.push(line);
}

async function relay(): Promise<void> {
  const N = RELAY_BYTES;
  out(`## Relay: ${mib(N)} from bench-zero (head -c N /dev/zero) into the fs store, compression none`);
  out();
  const storeDir = join(scratch, "relay-store");
  const outFile = join(scratch, "relay-out");
  emptyDir(storeDir);
  const producer = `head -c ${N} /dev/zero`;
  // tee >(HASHER), with the process substitution as a FIFO so that `wait` covers the hasher too.
  // sha256sum is what the issue names; coreutils' is slow here (no SHA-NI), so the same
  // pipeline with `openssl dgst -sha256` (SHA-NI) is measured as well: the harder baseline.
  const fifo = join(scratch, "relay-fifo");
  const hashed = (source: string, hasher: string) =>
    `rm -f ${fifo}; mkfifo ${fifo}; ${hasher} < ${fifo} > /dev/null & ${source} | tee ${fifo} > ${outFile}; wait; rm -f ${fifo}`;
  const enc = `${producer} | openssl enc -aes-256-ctr -pbkdf2 -pass pass:x`;
  out("Shell A: `head | tee >(sha256sum) > file`; shell B: the same with `openssl dgst -sha256` for sha256sum. With encryption on,");
  out("`openssl enc -aes-256-ctr -pbkdf2` runs between head and tee. \"+ sync\" adds `sync FILE` (an fsync, as the fs store does");
  out("before it names a key). Ratio = shell time / shield time; the issue's target is ≥ 0.9 against shell A.");
  out();
  out("| encryption | run | shield (POST run → done) | shell A | A + sync | shell B | B + sync | A/shield | A+sync/shield | B+sync/shield |");
  out("|---|---|---|---|---|---|---|---|---|---|");
  const fmt = (r: number) => r.toFixed(2);
  for (const encrypt of [false, true]) {
    const d = await startDaemon({ SHIELD_ENCRYPT: encrypt ? "on" : "off" });
    const job = await makeJob(d, "relay", { plugin: "bench-zero", endpoint: { size: N } }, storeDir, "none");
    const warm = await makeJob(d, "warm", { plugin: "bench-zero", endpoint: { size: 1 << 20 } }, storeDir, "none");
    await runJob(d, warm);
    emptyDir(storeDir);
    const source = encrypt ? enc : producer;
    const t = { shield: [] as number[], a: [] as number[], aSync: [] as number[], b: [] as number[], bSync: [] as number[] };
    const what = encrypt ? "on" : "off";
    for (let i = 0; i < RUNS; i++) {
      dropCaches();
      const r = await runJob(d, job);
      if (r.rawSize !== N) throw new Error(`raw size ${r.rawSize}, expected ${N}`);
      if (r.cipher !== (encrypt ? "aes-256-gcm-chunked-v1" : "none")) throw new Error(`cipher ${r.cipher}`);
      emptyDir(storeDir);
      dropCaches();
      const a = await shTimed(hashed(source, "sha256sum"), outFile);
      dropCaches();
      const b = await shTimed(hashed(source, "openssl dgst -sha256"), outFile);
      t.shield.push(r.ms); t.a.push(a.ms); t.aSync.push(a.msSync); t.b.push(b.ms); t.bSync.push(b.msSync);
      out(`| ${what} | ${i + 1} | ${secs(r.ms)} (${rate(N, r.ms)}; ${cpu(r)}) | ${secs(a.ms)} | ${secs(a.msSync)} | ${secs(b.ms)} | ${secs(b.msSync)} | ${fmt(a.ms / r.ms)} | ${fmt(a.msSync / r.ms)} | ${fmt(b.msSync / r.ms)} |`);
    }
    const m = median(t.shield);
    out(`| **${what}, median** | | **${secs(m)} (${rate(N, m)})** | ${secs(median(t.a))} | ${secs(median(t.aSync))} | ${secs(median(t.b))} | ${secs(median(t.bSync))} | **${fmt(median(t.a) / m)}** | **${fmt(median(t.aSync) / m)}** | **${fmt(median(t.bSync) / m)}** |`);
    await stopDaemon(d);
  }
  rmSync(storeDir, { recursive: true, force: true });
  // Where the shell's time goes: its stages alone.
  const parts: [string, string][] = [
    ["head -c N /dev/zero > /dev/null", `${producer} > /dev/null`],
    ["head | sha256sum (coreutils)", `${producer} | sha256sum > /dev/null`],
    ["head | openssl dgst -sha256", `${producer} | openssl dgst -sha256 > /dev/null`],
    ["head | openssl enc -aes-256-ctr > /dev/null", `${producer} | openssl enc -aes-256-ctr -pbkdf2 -pass pass:x > /dev/null`],
    ["head > file; sync file", `${producer} > ${outFile}; sync ${outFile}; rm -f ${outFile}`],
  ];
  out();
  out("Stages of the shell pipeline alone (one run each):");
  out();
  out("| pipeline | time | rate |");
  out("|---|---|---|");
  for (const [what, script] of parts) {
    const ms = await sh(script);
    out(`| \`${cell(what)}\` | ${secs(ms)} | ${rate(N, ms)} |`);
  }
  out();
}

/**
 * The database the e2e, quick and restore benchmarks back up (BENCH_DATASET):
 * - documents (default): pgbench's tables plus a table of md5 text (compresses about 2:1);
 * - compressible: pgbench's tables plus BENCH_PG_MD5_ROWS rows of two md5 columns, the
 *   data set issue 20 measured at 0.85 (820 MB, 594 MB dump, 73 MB stored);
 * - random: a ~1 GB table of random bytea (1 KiB per row, pgcrypto's gen_random_bytes):
 *   nothing for zstd to win but the hex of pg_dump's COPY text.
 */
const DATASET = process.env.BENCH_DATASET ?? "documents";
const DATASETS = ["documents", "compressible", "random"];

/** How big makeDatabase makes each data set: pgbench's scale, the md5 rows, the random rows. */
interface DatasetSize { scale: number; md5Rows: number; randomRows: number }
const FULL_SIZE: DatasetSize = { scale: PG_SCALE, md5Rows: PG_MD5_ROWS, randomRows: Number(process.env.BENCH_RANDOM_ROWS ?? 1_000_000) };

async function makeDatabase(dataset = DATASET, size: DatasetSize = FULL_SIZE, on?: PgServer): Promise<{ url: string; name: string; port: number; bytes: number; dataset: string }> {
  if (!DATASETS.includes(dataset)) throw new Error(`BENCH_DATASET must be one of ${DATASETS.join(", ")}`);
  const pg = on ?? await startPostgres();
  let url: string;
  if (on) {
    url = on.url(`bench_${dataset}`);
    const admin = postgres(on.url("postgres"), { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE "bench_${dataset}"`).finally(() => admin.end());
  } else url = await freshDatabase("bench");
  const name = new URL(url).pathname.slice(1);
  const t0 = performance.now();
  const scale = dataset === "random" ? 1 : size.scale;
  const init = Bun.spawnSync([join(pg.bindir, "pgbench"), "-i", "-q", "-s", String(scale), "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", name], { stderr: "pipe" });
  if (init.exitCode !== 0) throw new Error(`pgbench -i failed: ${init.stderr.toString()}`);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  let what: string;
  if (dataset === "documents") {
    await sql`CREATE TABLE documents (id bigint PRIMARY KEY, title text, body text, score numeric(12,4), created timestamptz)`;
    await sql.unsafe(`INSERT INTO documents SELECT i, md5(i::text), md5((i * 7)::text) || md5((i * 13)::text), (i % 100000) / 7.0, '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, ${size.md5Rows}) i`);
    what = `pgbench -i -s ${scale} plus ${size.md5Rows.toLocaleString("en")} rows of md5 text`;
  } else if (dataset === "compressible") {
    await sql`CREATE TABLE pairs (a text, b text)`;
    await sql.unsafe(`INSERT INTO pairs SELECT md5((i % 1000)::text), md5((i % 777)::text) FROM generate_series(1, ${size.md5Rows}) i`);
    what = `pgbench -i -s ${scale} plus ${size.md5Rows.toLocaleString("en")} rows of two md5 columns (repeating)`;
  } else {
    const rows = size.randomRows;
    await sql`CREATE EXTENSION IF NOT EXISTS pgcrypto`;
    await sql`CREATE TABLE blobs (id int PRIMARY KEY, data bytea)`;
    // In slices: one INSERT of a million rows holds them all in one transaction's memory.
    for (let at = 0; at < rows; at += 100_000) {
      await sql.unsafe(`INSERT INTO blobs SELECT i, gen_random_bytes(1024) FROM generate_series(${at + 1}, ${Math.min(rows, at + 100_000)}) i`);
    }
    what = `pgbench -i -s ${scale} plus ${rows.toLocaleString("en")} rows of 1 KiB random bytea`;
  }
  await sql`VACUUM ANALYZE`;
  const [row] = await sql`SELECT pg_database_size(current_database())::bigint AS bytes`;
  const bytes = row!.bytes;
  await sql.end();
  out(`Database (${dataset}): ${what}; pg_database_size ${mib(Number(bytes))} (made in ${secs(performance.now() - t0)}).`);
  return { url, name, port: pg.port, bytes: Number(bytes), dataset: dataset };
}

// ---- PostgreSQL: the shell's pipelines and the daemon's restore, shared by e2e, restore and datasets ----

const OPENSSL_ENC = "openssl enc -aes-256-ctr -pbkdf2 -pass pass:x";
const OPENSSL_DEC = "openssl enc -d -aes-256-ctr -pbkdf2 -pass pass:x";
/** The postgres plugin's pg_restore flags. */
const PG_RESTORE_FLAGS = "--clean --if-exists --no-owner --single-transaction";
/** psql/pg_dump connection flags of the tests' private server. */
const pgConn = (port: number) => `-h 127.0.0.1 -p ${port} -U postgres`;
/**
 * The postgres plugin's endpoint for database `name`, or without one for the whole cluster (pg_bindir: the same
 * pg_dump the shell runs; /usr/bin's is a Perl wrapper, ~0.1 s more).
 */
const pgEndpoint = (pg: { port: number; bindir: string }, name?: string) =>
  ({ pg_host: "127.0.0.1", pg_port: String(pg.port), pg_user: "postgres", ...(name === undefined ? {} : { pg_database: name }), pg_bindir: pg.bindir });
/** The shell's backup: pg_dump with the plugin's format (its own compression off), zstd -T0, openssl. */
const pgShellBackup = (pg: { port: number; bindir: string }, db: string, file: string) =>
  `${pg.bindir}/pg_dump -Fc -Z0 ${pgConn(pg.port)} ${db} | zstd -q -3 -T0 | ${OPENSSL_ENC} > ${file}`;
/** The shell's restore into a new database: createdb (the plugin's psql does the same), then openssl dec | zstd -d | pg_restore. */
const pgShellRestore = (pg: { port: number; bindir: string }, file: string, name: string) =>
  `${pg.bindir}/createdb ${pgConn(pg.port)} ${name} && ${OPENSSL_DEC} < ${file} | zstd -q -d | ${pg.bindir}/pg_restore ${PG_RESTORE_FLAGS} ${pgConn(pg.port)} -d ${name}`;

let restoreTargets = 0;

/**
 * The daemon restores `archive` through a postgres target made for it with `endpoint` (deleted
 * after): its time, the verify pass's (from the task log), its CPU and, with `tree`, the CPU
 * of each kind of process. `after` runs once the task is done (a check of what arrived, a drop).
 */
async function pgShieldRestore(d: Daemon, endpoint: object, archive: string, after: () => Promise<unknown>, tree = false) {
  const target = await call(d, "POST", "/v1/targets", { name: `restore-${++restoreTargets}`, plugin: "postgres", endpoint, agent: "" });
  dropCaches();
  const r = await runTask(d, `/v1/archive/${archive}/restore`, { target: target.uuid }, tree);
  await after();
  const m = / verified ([\d.]+) (MiB|GiB) in ([\d.]+) s/.exec(r.task.log);
  await call(d, "DELETE", `/v1/target/${target.uuid}`).catch(() => {});
  return { ms: r.ms, verifyMs: m ? Number(m[3]) * 1000 : NaN, cpu: r.cpu, kinds: r.kinds, log: r.task.log as string };
}

/** Runs `steps` in turn, starting at step `round` (mod their number): with two, the order alternates each round. Results in the steps' order. */
async function interleaved<T extends unknown[]>(round: number, steps: [...{ [K in keyof T]: () => Promise<T[K]> }]): Promise<T> {
  const got: unknown[] = new Array(steps.length);
  for (let k = 0; k < steps.length; k++) {
    const at = (k + round) % steps.length;
    got[at] = await (steps[at] as () => Promise<unknown>)();
  }
  return got as T;
}

/** This build, and with BENCH_COMPARE another one (copied into the scratch dir as well): [name, binary]. */
function compareBuilds(): [string, string][] {
  const builds: [string, string][] = [["this", SHIELD]];
  if (process.env.BENCH_COMPARE) {
    const other = join(scratch, "shield-compare");
    copyFileSync(resolve(process.env.BENCH_COMPARE), other);
    chmodSync(other, 0o755);
    builds.push(["compare", other]);
  }
  return builds;
}

/** One build's daemon in a paired benchmark, its job, and the archive of its last backup (kept for the restores). */
interface BuildRun { name: string; d: Daemon; job: string; archive?: Backup }
type ShellRun = Awaited<ReturnType<typeof shWatched>>;
type ShieldRestore = Awaited<ReturnType<typeof pgShieldRestore>>;

/** What the shell does beside the builds in pairedRounds. */
interface ShellSide {
  /** The backup script, writing `file` (kept for the restores). */
  backup: string;
  file: string;
  /** How the restore's column is headed, e.g. "`openssl dec \\| zstd -d \\| pg_restore`". */
  restoreLabel: string;
  /** Round i's restore of `file`, checked and cleaned up after. */
  restore(i: number): Promise<ShellRun>;
  /** Run once, untimed, before the first restore: whatever the first restore alone would pay. */
  warmUp?: () => Promise<unknown>;
}

/** "this = PATH; compare = PATH": what compareBuilds measures. */
const buildsNamed = (builds: [string, string][]) =>
  builds.map(([n, b]) => `${n} = ${b === SHIELD ? BUILT : resolve(process.env.BENCH_COMPARE!)}`).join("; ");

/** A daemon of each build (compareBuilds), each with a job backing up `endpoint` (postgres, zstd) into the fs store at `storeDir`. */
async function startBuilds(builds: [string, string][], job: string, endpoint: object, storeDir: string): Promise<BuildRun[]> {
  const runs: BuildRun[] = [];
  for (const [name, bin] of builds) {
    SHIELD = bin;
    const d = await startDaemon({});
    runs.push({ name, d, job: await makeJob(d, job, { plugin: "postgres", endpoint }, storeDir, "zstd") });
  }
  SHIELD = builds[0]![1];
  return runs;
}

/**
 * A check that a restored database holds what was backed up: the rows of the source's
 * largest table, counted now, against the same table at the URL it is given.
 */
async function rowCheck(sourceUrl: string): Promise<(url: string) => Promise<void>> {
  const src = postgres(sourceUrl, { max: 1, onnotice: () => {} });
  const [big] = await src.unsafe(`SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY pg_relation_size(oid) DESC LIMIT 1`);
  const table = big!.relname as string;
  const [{ n: rows }] = await src.unsafe(`SELECT count(*)::bigint AS n FROM "${table}"`) as unknown as [{ n: string }];
  await src.end();
  return async (url) => {
    const dst = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [{ n }] = await dst.unsafe(`SELECT count(*)::bigint AS n FROM "${table}"`) as unknown as [{ n: string }];
      if (String(n) !== String(rows)) throw new Error(`restored database ${url}: ${n} rows in ${table}, not ${rows}`);
    } finally {
      await dst.end();
    }
  };
}

/**
 * BENCH_RUNS rounds of each build's backup (its job) against the shell's (timed to the end of
 * `sync FILE`), then BENCH_RUNS rounds of each build's restore of its last archive
 * (`shieldRestore`) against the shell's restore of its file; the order rotating each round.
 * Prints each round, the medians, the CPU per GiB of each kind of process and the last task
 * logs; returns one summary row per build, its first cell `label`.
 */
async function pairedRounds(label: string, runs: BuildRun[], shell: ShellSide, shieldRestore: (r: BuildRun, i: number) => Promise<ShieldRestore>): Promise<string[]> {
  const load = () => loadavg()[0]!.toFixed(2);
  const spread = (xs: number[]) => `${secs(Math.min(...xs))}–${secs(Math.max(...xs))}`;
  const ratios = (xs: number[]) => `${median(xs).toFixed(2)} (pairs ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
  const push = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
  const cpuOf: CpuColumns = new Map();
  const addCpu = (col: string, kinds: Map<string, number>, total: number) => cpuOf.set(col, [...(cpuOf.get(col) ?? []), { kinds, total }]);
  let rawBytes = 0;

  // Backups.
  out(`Backups (load average at start ${loadavg().map((x) => x.toFixed(2)).join(" ")}):`);
  out();
  out(`| round | order | ${runs.map((r) => `${r.name}: shield (POST run → done; cpu daemon + children)`).join(" | ")} | shell + sync FILE | ${runs.map((r) => `shell ÷ ${r.name}`).join(" | ")} | load |`);
  out(`|---|---|${runs.map(() => "---|").join("")}---|${runs.map(() => "---|").join("")}---|`);
  const bMs = new Map<string, number[]>(), bRatio = new Map<string, number[]>();
  for (let i = 0; i < RUNS; i++) {
    const order: string[] = [];
    const steps: (() => Promise<Backup | Awaited<ReturnType<typeof shTimed>>>)[] = runs.map((r) => async () => {
      order.push(r.name);
      dropCaches();
      const b = await runJob(r.d, r.job, true);
      if (b.cipher === "none" || b.compression !== "zstd") throw new Error(`unexpected archive: ${b.cipher} ${b.compression}`);
      // The last archive of each build is kept for its restores; none is deleted before the end
      // (a delete purges in the background, and would run beside the next measurement).
      r.archive = b;
      return b;
    });
    steps.push(async () => { order.push("shell"); dropCaches(); return shTimed(shell.backup, shell.file, {}, { keep: true, tree: true }); });
    const got = await interleaved(i, steps);
    const s = got.at(-1) as Awaited<ReturnType<typeof shTimed>>;
    push(bMs, "shell", s.msSync);
    addCpu("backup: shell", s.kinds, s.cpu);
    const cells = runs.map((r, k) => {
      const b = got[k] as Backup;
      rawBytes = b.rawSize;
      push(bMs, r.name, b.ms);
      push(bRatio, r.name, s.msSync / b.ms);
      addCpu(`backup: ${r.name}`, b.kinds, b.cpu.daemon + b.cpu.children);
      return `${secs(b.ms)} (${cpu(b)}; ${mib(b.size)} stored of ${mib(b.rawSize)})`;
    });
    out(`| ${i + 1} | ${order.join(", ")} | ${cells.join(" | ")} | ${secs(s.msSync)} (${secs(s.ms)} before the sync; ${mib(s.bytes)}) | ${runs.map((r) => bRatio.get(r.name)!.at(-1)!.toFixed(2)).join(" | ")} | ${load()} |`);
  }
  out(`| **median** | | ${runs.map((r) => `**${secs(median(bMs.get(r.name)!))}** (${spread(bMs.get(r.name)!)})`).join(" | ")} | **${secs(median(bMs.get("shell")!))}** (${spread(bMs.get("shell")!)}) | ${runs.map((r) => `**${ratios(bRatio.get(r.name)!)}**`).join(" | ")} | |`);
  out();

  // Restores: each build's last archive, and the shell's last file.
  out(`Restores, verify pass included (load average at start ${loadavg().map((x) => x.toFixed(2)).join(" ")}):`);
  out();
  out(`| round | order | ${runs.map((r) => `${r.name}: shield (POST restore → done; of which verify; cpu daemon + children)`).join(" | ")} | shell ${shell.restoreLabel} | ${runs.map((r) => `shell ÷ ${r.name}`).join(" | ")} | load |`);
  out(`|---|---|${runs.map(() => "---|").join("")}---|${runs.map(() => "---|").join("")}---|`);
  const rMs = new Map<string, number[]>(), rRatio = new Map<string, number[]>();
  let lastLog = "";
  await shell.warmUp?.();
  for (let i = 0; i < RUNS; i++) {
    const order: string[] = [];
    const steps: (() => Promise<ShieldRestore | ShellRun>)[] = runs.map((r) => async () => {
      order.push(r.name);
      return shieldRestore(r, i);
    });
    steps.push(async () => {
      order.push("shell");
      dropCaches();
      return shell.restore(i);
    });
    const got = await interleaved(i, steps);
    const s = got.at(-1) as ShellRun;
    push(rMs, "shell", s.ms);
    addCpu("restore: shell", s.kinds, s.cpu);
    const cells = runs.map((r, k) => {
      const a = got[k] as ShieldRestore;
      if (k === 0) lastLog = a.log;
      push(rMs, r.name, a.ms);
      push(rRatio, r.name, s.ms / a.ms);
      addCpu(`restore: ${r.name}`, a.kinds, a.cpu.daemon + a.cpu.children);
      return `${secs(a.ms)} (verify ${secs(a.verifyMs)}; ${cpu(a)})`;
    });
    out(`| ${i + 1} | ${order.join(", ")} | ${cells.join(" | ")} | ${secs(s.ms)} | ${runs.map((r) => rRatio.get(r.name)!.at(-1)!.toFixed(2)).join(" | ")} | ${load()} |`);
  }
  out(`| **median** | | ${runs.map((r) => `**${secs(median(rMs.get(r.name)!))}** (${spread(rMs.get(r.name)!)})`).join(" | ")} | **${secs(median(rMs.get("shell")!))}** (${spread(rMs.get("shell")!)}) | ${runs.map((r) => `**${ratios(rRatio.get(r.name)!)}**`).join(" | ")} | |`);
  out();

  const perGiB = cpuTable(cpuOf, rawBytes);
  out(`Task logs of the last ${runs[0]!.name} backup and restore:`);
  out();
  out("```");
  for (const l of [...runs[0]!.archive!.log.trim().split("\n"), ...lastLog.trim().split("\n")]) out(l);
  out("```");
  out();
  const total = (col: string) => perGiB(cpuOf.get(col)!.map((x) => x.total));
  return runs.map((r) => `| ${label} | ${r.name} | ${mib(rawBytes)} | ${ratios(bRatio.get(r.name)!)} | ${ratios(rRatio.get(r.name)!)} | ${total(`backup: ${r.name}`)} (shell ${total("backup: shell")}) | ${total(`restore: ${r.name}`)} (shell ${total("restore: shell")}) |`);
}

/** The header of pairedRounds' summary rows. */
function pairedSummaryHeader(): void {
  out("| data set | build | raw dump | backup: shell+sync ÷ shield, median (pairs) | restore: shell ÷ shield, median (pairs) | backup CPU s/GiB, all | restore CPU s/GiB, all |");
  out("|---|---|---|---|---|---|---|");
}

/**
 * The sizes of the datasets mode: the issue's (pgbench -s 35 plus 3,000,000 rows; 1,000,000
 * rows of 1 KiB random bytea): 753 / 545 / 1978 MiB of dump, three data sets × 3 rounds in
 * ~7 minutes on 2 cores (bench/DATAPATH.md). Smaller for iterating: BENCH_PG_SCALE=10
 * BENCH_PG_MD5_ROWS=1500000 BENCH_RANDOM_ROWS=300000.
 */
const DATASETS_SIZE: DatasetSize = {
  scale: Number(process.env.BENCH_PG_SCALE ?? 35),
  md5Rows: Number(process.env.BENCH_PG_MD5_ROWS ?? 3_000_000),
  randomRows: Number(process.env.BENCH_RANDOM_ROWS ?? 1_000_000),
};

/**
 * datasets (issue 20): for each data set in turn (documents, compressible, random; made once
 * each, at DATASETS_SIZE), BENCH_RUNS rounds of the daemon's backup (zstd, encrypted, fs store)
 * against the shell `pg_dump -Fc -Z0 | zstd -T0 | openssl enc > file; sync file`, then
 * BENCH_RUNS rounds of the daemon's restore (verify pass included) into a new database against
 * `createdb; openssl dec | zstd -d | pg_restore` into a new database; the order rotating each
 * round (with BENCH_COMPARE, that build takes its turn too, on a daemon of its own). Per data
 * set: the medians, their spread, the ratio shell ÷ shield of each pair, and the CPU seconds
 * per GiB of raw dump of each kind of process (TreeCpu: the daemon, each guard, zstd,
 * pg_dump/pg_restore, psql; openssl and the rest in the shell), beside the exact total from
 * rusage (the sampled sum misses what a process used after the last sample before it exited).
 * PostgreSQL's own server processes are in neither tree: they work alike for both.
 */
async function datasetsBench(): Promise<void> {
  out("## Three data sets: backup and restore against the shell, CPU per GiB of each process (issue 20)");
  out();
  if (!pgAvailable) {
    out("PostgreSQL is not installed here: skipped.");
    return;
  }
  const builds = compareBuilds();
  const pg = await startPostgres();
  const admin = postgres(pg.url("postgres"), { max: 1, onnotice: () => {} });
  const drop = (name: string) => admin.unsafe(`DROP DATABASE IF EXISTS "${name}"`);
  out(`Builds: ${buildsNamed(builds)}. The shell's backup is timed to the end of \`sync FILE\`. Ratio = shell ÷ shield (≥ 0.95 is issue 20's target). CPU: user + system seconds per GiB of the raw dump.`);
  out();
  const summary: string[] = [];
  const sets = (process.env.BENCH_DATASETS ?? DATASETS.join(",")).split(",").map((x) => x.trim()).filter(Boolean);
  for (const dataset of sets) {
    out(`### ${dataset}`);
    out();
    const db = await makeDatabase(dataset, DATASETS_SIZE);
    const storeDir = join(scratch, "datasets-store");
    const shellFile = join(scratch, "datasets-shell.zst.enc");
    emptyDir(storeDir);
    const runs = await startBuilds(builds, `pg-${dataset}`, pgEndpoint(pg, db.name), storeDir);
    const check = await rowCheck(db.url);
    summary.push(...await pairedRounds(dataset, runs, {
      backup: pgShellBackup(pg, db.name, shellFile),
      file: shellFile,
      restoreLabel: "`openssl dec \\| zstd -d \\| pg_restore`",
      restore: async (i) => {
        const name = `restored_shell_${i}_${process.pid}`;
        const s = await shWatched(pgShellRestore(pg, shellFile, name), {}, true);
        await check(pg.url(name));
        await drop(name);
        return s;
      },
      // The server's first restore of a data set creates the WAL segments it fills (each written
      // whole first: wal_init_zero); later ones recycle them. Untimed, so that the first timed
      // restore, always this build's, does not pay for that alone (round 1 took 9.4-9.7 s against
      // 6.9-7.1 for the later ones; the shell's first 7.2-7.8 against 6.3-6.5).
      warmUp: async () => {
        const name = `restored_warmup_${process.pid}`;
        await shWatched(pgShellRestore(pg, shellFile, name));
        await drop(name);
      },
    }, (r, i) => {
      const name = `restored_${r.name}_${i}_${process.pid}`;
      return pgShieldRestore(r.d, pgEndpoint(pg, name), r.archive!.archive, async () => { await check(pg.url(name)); await drop(name); }, true);
    }));
    for (const r of runs) await stopDaemon(r.d);
    await drop(db.name);
    rmSync(storeDir, { recursive: true, force: true });
    rmSync(shellFile, { force: true });
  }
  out("### Summary");
  out();
  pairedSummaryHeader();
  for (const l of summary) out(l);
  out();
  out(`Load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
  await admin.end();
}

/**
 * cluster (issue 20): a whole cluster, pg_dumpall out and psql in. A private cluster holding the
 * documents data set (at DATASETS_SIZE) is backed up through a target without pg_database
 * against `pg_dumpall --clean --if-exists | zstd -T0 | openssl enc > file; sync file`; then each
 * build's last archive is restored into a second private cluster against `openssl dec | zstd -d |
 * psql -f -` as PostgreSQL's documentation restores a pg_dumpall file: going on past errors, and
 * there are two (the dump drops and creates the restoring user's own role). The plugin instead
 * leaves those two statements out (taken from the dump's head; the rest goes to psql untouched)
 * and stops at any other error. Every restore replaces the second cluster's databases, as a
 * cluster restore does (pg_dumpall's --clean), after one untimed restore that creates them;
 * the restored database's largest table is counted each time. Rounds, order and figures as in
 * datasets (pairedRounds).
 */
async function clusterBench(): Promise<void> {
  out("## A whole cluster: pg_dumpall out, psql in (issue 20)");
  out();
  if (!pgAvailable) {
    out("PostgreSQL is not installed here: skipped.");
    return;
  }
  const builds = compareBuilds();
  // Two clusters of their own: a cluster restore drops and creates databases, and pg_dumpall takes every one.
  const src = await startCluster();
  const dst = await startCluster();
  const db = await makeDatabase("documents", DATASETS_SIZE, src);
  const storeDir = join(scratch, "cluster-store");
  const shellFile = join(scratch, "cluster-shell.zst.enc");
  emptyDir(storeDir);
  out(`Builds: ${buildsNamed(builds)}. Both restore into a second cluster (port ${dst.port}), replacing its databases. Ratio = shell ÷ shield. CPU: user + system seconds per GiB of the raw dump.`);
  out();
  const runs = await startBuilds(builds, "pg-cluster", pgEndpoint(src), storeDir);
  const check = await rowCheck(db.url);
  const restored = dst.url(db.name);
  const shellRestore = `${OPENSSL_DEC} < ${shellFile} | zstd -q -d | ${dst.bindir}/psql -X -q ${pgConn(dst.port)} -d postgres -f - 2>/dev/null`;
  const rows = await pairedRounds("cluster (documents)", runs, {
    backup: `${src.bindir}/pg_dumpall --clean --if-exists ${pgConn(src.port)} | zstd -q -3 -T0 | ${OPENSSL_ENC} > ${shellFile}`,
    file: shellFile,
    restoreLabel: "`openssl dec \\| zstd -d \\| psql -f -`",
    restore: async () => {
      const s = await shWatched(shellRestore, {}, true);
      await check(restored);
      return s;
    },
    // The second cluster's first restore creates its databases, every later one replaces them:
    // the first, untimed, so that every timed restore does the same.
    warmUp: () => shWatched(shellRestore),
  }, (r) => pgShieldRestore(r.d, pgEndpoint(dst), r.archive!.archive, () => check(restored), true));
  out("Summary:");
  out();
  pairedSummaryHeader();
  for (const l of rows) out(l);
  out();
  for (const r of runs) await stopDaemon(r.d);
  src.stop();
  dst.stop();
  rmSync(storeDir, { recursive: true, force: true });
  rmSync(shellFile, { force: true });
}

/**
 * fixed: the fixed cost of a backup. BENCH_FIXED_JOBS (200) empty databases, each its own
 * job, all run at once on a daemon with --workers 4, from the first POST run to the last
 * task done; against the same databases dumped 4 at a time (xargs -P4) by `pg_dump` alone
 * and by the shell pipeline `pg_dump | zstd | openssl`. The fixed cost per backup beyond
 * pg_dump is the difference spread over the 4 workers. With BENCH_COMPARE (another binary),
 * both builds run in every round, each on a daemon of its own, the order rotating with the
 * shell's; beside each the CPU per backup: the daemon's own and its children's (guards,
 * plugins, zstd, pg_dump: every process of the backups), and the shell's children alike.
 * Then single backups of one empty database, alternating builds and a single pg_dump of it
 * (polled every 10 ms here, so that the polling adds little).
 */
async function fixedCost(): Promise<void> {
  out("## Fixed cost: empty databases, zstd and encryption");
  out();
  if (!pgAvailable) {
    out("PostgreSQL is not installed here: skipped.");
    return;
  }
  const jobs = Number(process.env.BENCH_FIXED_JOBS ?? 200);
  const builds = compareBuilds();
  const pg = await startPostgres();
  const names: string[] = [];
  for (let i = 0; i < jobs; i++) names.push(new URL(await freshDatabase(`empty${i}`)).pathname.slice(1));
  const storeDir = join(scratch, "fixed-store");
  emptyDir(storeDir);
  const endpoint = (name: string) => ({ plugin: "postgres", endpoint: { pg_host: "127.0.0.1", pg_port: String(pg.port), pg_user: "postgres", pg_database: name, pg_bindir: pg.bindir } });
  const daemonsByBuild: { name: string; d: Daemon; ids: string[] }[] = [];
  for (const [name, bin] of builds) {
    SHIELD = bin;
    const d = await startDaemon({}, ["--workers", "4"]);
    const ids: string[] = [];
    for (const db of names) ids.push(await makeJob(d, db, endpoint(db), storeDir, "zstd"));
    daemonsByBuild.push({ name, d, ids });
  }
  // What making 200 databases and their jobs left to write back goes to disk now: otherwise the
  // first round's fsyncs (the fs store's, each blob's) waited on it, ~1 s of idle CPU at its start.
  Bun.spawnSync(["sync"]);
  const conn = `-h 127.0.0.1 -p ${pg.port} -U postgres`;
  const listFile = join(scratch, "fixed-names");
  const timesFile = join(scratch, "fixed-times");
  await Bun.write(listFile, names.join("\n") + "\n");
  /** A shell over every database, 4 at a time; its wall time and its children's CPU (GNU time). */
  const shellAll = async (each: string) => {
    const perf = perfRecord(each === dumpOnly ? "pg_dump" : "shell");
    if (perf) await Bun.sleep(500);
    const ms = await sh(`/usr/bin/time -f '%U %S' -o ${timesFile} xargs -P4 -I{} sh -c '${each}' < ${listFile}; rm -f ${scratch}/fixed-*.out`);
    if (perf) { perf.kill("SIGINT"); await perf.exited; }
    const [u, s] = readFileSync(timesFile, "utf8").trim().split("\n").pop()!.split(" ").map(Number);
    return { ms, cpu: u! + s! };
  };
  // BENCH_FIXED_PERF=FILE: `perf record -a` over each round of each build and shell (FILE.<which>.<n>), for where the CPU goes.
  let perfRounds = 0;
  const perfRecord = (which: string) => process.env.BENCH_FIXED_PERF
    ? Bun.spawn(["perf", "record", "-a", "-F", "999", "-o", `${process.env.BENCH_FIXED_PERF}.${which}.${++perfRounds}`], { stdout: "ignore", stderr: "ignore" })
    : undefined;
  const dumpOnly = `${pg.bindir}/pg_dump -Fc -Z0 ${conn} {} > /dev/null`;
  const pipeline = `${pg.bindir}/pg_dump -Fc -Z0 ${conn} {} | zstd -q -3 | openssl enc -aes-256-ctr -pbkdf2 -pass pass:x > ${scratch}/fixed-{}.out`;
  const shieldAll = async (b: (typeof daemonsByBuild)[number]) => {
    // One request first: the daemon keeps a verified password for 5 minutes, and 200 requests
    // coming at once as that expires would each be timed verifying it (argon2, ~0.1 s of CPU).
    await call(b.d, "GET", "/v1/plugins");
    const perf = perfRecord(b.name);
    if (perf) await Bun.sleep(500);
    const cpu0 = cpuSeconds(b.d.proc.pid);
    const t0 = performance.now();
    const tasks = await Promise.all(b.ids.map(async (id) => (await call(b.d, "POST", `/v1/job/${id}/run`, {})).task_uuid as string));
    for (const t of tasks) {
      const task = await settled(b.d, t);
      if (task.status !== "done") throw new Error(`backup ${task.status}: ${task.log}`);
    }
    const ms = performance.now() - t0;
    const cpu1 = cpuSeconds(b.d.proc.pid);
    if (perf) { perf.kill("SIGINT"); await perf.exited; }
    emptyDir(storeDir);
    return { ms, daemon: cpu1.self - cpu0.self, children: cpu1.children - cpu0.children };
  };
  const perJob = (cpu: number) => `${((cpu * 1000) / jobs).toFixed(0)} ms`;
  const cols = daemonsByBuild.map((b) => `${b.name}: wall (cpu per backup: daemon + children)`);
  out(`${jobs} backups at once (\`--workers 4\`) per build; shells over the same databases 4 at a time (\`xargs -P4\`). "Beyond" = (build − pg_dump alone) × 4 / ${jobs}: the fixed cost per backup.`);
  out();
  out(`| round | ${cols.join(" | ")} | pg_dump alone: wall (cpu per dump) | pg_dump \\| zstd \\| openssl | ${daemonsByBuild.map((b) => `${b.name} beyond pg_dump`).join(" | ")} | load |`);
  out(`|---|${cols.map(() => "---|").join("")}---|---|${daemonsByBuild.map(() => "---|").join("")}---|`);
  const beyond = new Map<string, number[]>();
  const cpuPer = new Map<string, number[]>();
  const walls = new Map<string, number[]>();
  const add = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
  for (let i = 0; i < RUNS; i++) {
    // Each round in another order: builds and shells take turns at going first.
    const steps: (() => Promise<void>)[] = [];
    const got = new Map<string, { ms: number; daemon: number; children: number }>();
    let dump = { ms: 0, cpu: 0 }, shell = { ms: 0, cpu: 0 };
    for (const b of daemonsByBuild) steps.push(async () => { got.set(b.name, await shieldAll(b)); });
    steps.push(async () => { dump = await shellAll(dumpOnly); });
    steps.push(async () => { shell = await shellAll(pipeline); });
    for (let k = 0; k < steps.length; k++) await steps[(k + i) % steps.length]!();
    add(walls, "pg_dump", dump.ms); add(walls, "shell", shell.ms); add(cpuPer, "pg_dump", dump.cpu / jobs); add(cpuPer, "shell", shell.cpu / jobs);
    const cells = daemonsByBuild.map((b) => {
      const r = got.get(b.name)!;
      add(walls, b.name, r.ms);
      add(cpuPer, b.name, (r.daemon + r.children) / jobs);
      add(beyond, b.name, ((r.ms - dump.ms) * 4) / jobs);
      return `${secs(r.ms)} (${perJob(r.daemon)} + ${perJob(r.children)})`;
    });
    out(`| ${i + 1} | ${cells.join(" | ")} | ${secs(dump.ms)} (${perJob(dump.cpu)}) | ${secs(shell.ms)} (${perJob(shell.cpu)}) | ${daemonsByBuild.map((b) => `${beyond.get(b.name)!.at(-1)!.toFixed(0)} ms`).join(" | ")} | ${loadavg()[0]!.toFixed(2)} |`);
  }
  const range = (xs: number[], f: (x: number) => string) => `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  out(`| **median (min–max)** | ${daemonsByBuild.map((b) => `${range(walls.get(b.name)!, secs)}; cpu ${range(cpuPer.get(b.name)!.map((x) => x * 1000), ms)}`).join(" | ")} | ${secs(median(walls.get("pg_dump")!))}; cpu ${ms(median(cpuPer.get("pg_dump")!) * 1000)} | ${secs(median(walls.get("shell")!))}; cpu ${ms(median(cpuPer.get("shell")!) * 1000)} | ${daemonsByBuild.map((b) => `**${range(beyond.get(b.name)!, ms)}**`).join(" | ")} | |`);
  out();
  // One at a time: a single backup from the run request to done, against one pg_dump alone.
  const single = new Map<string, number[]>();
  const singleCpu = new Map<string, number[]>();
  const dump: number[] = [];
  for (let i = 0; i < Math.max(RUNS, 5); i++) {
    for (const b of daemonsByBuild) {
      const cpu0 = cpuSeconds(b.d.proc.pid);
      const t0 = performance.now();
      const { task_uuid } = await call(b.d, "POST", `/v1/job/${b.ids[0]}/run`, {});
      const task = await settled(b.d, task_uuid);
      if (task.status !== "done") throw new Error(`backup ${task.status}: ${task.log}`);
      add(single, b.name, performance.now() - t0);
      const cpu1 = cpuSeconds(b.d.proc.pid);
      add(singleCpu, b.name, (cpu1.self - cpu0.self + cpu1.children - cpu0.children) * 1000);
      emptyDir(storeDir);
    }
    dump.push(await sh(`${pg.bindir}/pg_dump -Fc -Z0 ${conn} ${names[0]} > /dev/null`));
  }
  out(`One backup of an empty database at a time (run request to done, polled every 10 ms), ${Math.max(RUNS, 5)} each, alternating; pg_dump of it alone: median ${secs(median(dump))} (${secs(Math.min(...dump))}–${secs(Math.max(...dump))}).`);
  out();
  for (const b of daemonsByBuild) {
    const xs = single.get(b.name)!;
    out(`- ${b.name}: median ${secs(median(xs))} (${secs(Math.min(...xs))}–${secs(Math.max(...xs))}; runs ${xs.map((x) => x.toFixed(0)).join(", ")} ms), beyond pg_dump ${(median(xs) - median(dump)).toFixed(0)} ms; cpu per backup ${range(singleCpu.get(b.name)!, ms)}`);
  }
  out();
  for (const b of daemonsByBuild) await stopDaemon(b.d);
  SHIELD = builds[0]![1];
  await processCosts(builds, pg, names[0]!);
}

/**
 * What each process of a backup of an empty database costs in CPU, from its own
 * rusage (user + system, its waited-for children included): each kind started alone,
 * BENCH_RUNS × 3 times (at least 9), medians and ranges. Less sensitive to other
 * sessions' load than any wall time. A build that lacks a kind says so.
 */
async function processCosts(builds: [string, string][], pg: { port: number; bindir: string }, db: string): Promise<void> {
  const endpoint = JSON.stringify({ pg_host: "127.0.0.1", pg_port: String(pg.port), pg_user: "postgres", pg_database: db, pg_bindir: pg.bindir });
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", SHIELD_ENDPOINT: endpoint };
  const cpuOf = async (argv: string[], ipc: boolean): Promise<number | undefined> => {
    const p = Bun.spawn(argv, { env, stdin: "ignore", stdout: "ignore", stderr: "ignore", ...(ipc ? { ipc() {}, serialization: "json" as const } : {}) });
    await p.exited;
    const u = p.resourceUsage();
    return p.exitCode === 0 && u ? Number(u.cpuTime.user + u.cpuTime.system) / 1000 : undefined;
  };
  const n = Math.max(RUNS * 3, 9);
  const kinds: [string, (bin: string) => string[], boolean][] = [
    ["`shield version` (a Bun start)", (bin) => [bin, "version"], false],
    ["`shield guard -- true` (a guard)", (bin) => [bin, "guard", "--", "true"], true],
    ["`pg_dump -Fc -Z0` alone", () => [`${pg.bindir}/pg_dump`, "-Fc", "-Z0", "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", db], false],
    ["`shield plugin postgres backup` (with its pg_dump)", (bin) => [bin, "plugin", "postgres", "backup"], false],
    ["`shield guard --in-process postgres -- backup` (with its pg_dump)", (bin) => [bin, "guard", "--in-process", "postgres", "--", "backup"], true],
    ["`shield guard -- zstd -vv -3 -T0 -c` (empty input)", (bin) => [bin, "guard", "--", "zstd", "-vv", "-3", "-T0", "-c"], true],
    ["`zstd -vv -3 -T0 -c` alone (empty input)", () => ["zstd", "-vv", "-3", "-T0", "-c"], false],
  ];
  out(`CPU of each kind of process of a backup of an empty database, started alone, from its own rusage (user + system, its children included; ${n} runs each, median and range; load ${loadavg()[0]!.toFixed(2)}):`);
  out();
  out(`| process | ${builds.map(([name]) => name).join(" | ")} |`);
  out(`|---|${builds.map(() => "---|").join("")}`);
  for (const [label, argv, ipc] of kinds) {
    const cells: string[] = [];
    for (const [, bin] of builds) {
      const xs: number[] = [];
      for (let i = 0; i < n; i++) {
        const c = await cpuOf(argv(bin), ipc);
        if (c === undefined) break;
        xs.push(c);
      }
      cells.push(xs.length === n ? `${median(xs).toFixed(1)} ms (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})` : "— (not in this build)");
    }
    out(`| ${label} | ${cells.join(" | ")} |`);
  }
  out();
}

async function e2e(): Promise<void> {
  out("## End to end: PostgreSQL into the fs store, zstd and encryption");
  out();
  if (!pgAvailable) {
    out("PostgreSQL is not installed here: skipped.");
    return;
  }
  const db = await makeDatabase();
  const pg = await startPostgres();
  const bin = pg.bindir;
  const storeDir = join(scratch, "e2e-store");
  const outFile = join(scratch, "e2e-out");
  emptyDir(storeDir);
  const conn = `${pgConn(db.port)} ${db.name}`;
  const openssl = OPENSSL_ENC;
  const fair = pgShellBackup(pg, db.name, outFile);
  const literal = `${bin}/pg_dump -Fc ${conn} | zstd -q -3 -T0 | ${openssl} > ${outFile}`;

  const d = await startDaemon({});
  // pg_bindir: the same pg_dump the shell runs. Without it the plugin finds /usr/bin/pg_dump,
  // which on Debian is a Perl wrapper (pg_wrapper) that picks the version: ~0.1 s more per backup.
  const target = { plugin: "postgres", endpoint: pgEndpoint(pg, db.name) };
  const job = await makeJob(d, "pg", target, storeDir, "zstd");
  out();
  out("| run | shield (POST run → done) | stored | raw dump | shell `pg_dump -Fc -Z0 \\| zstd -T0 \\| openssl` | + sync FILE | ratio (without sync) | ratio (with sync) |");
  out("|---|---|---|---|---|---|---|---|");
  const shield: number[] = [], shell: number[] = [], shellSync: number[] = [];
  let last: Backup | undefined;
  for (let i = 0; i < RUNS; i++) {
    const b = await runJob(d, job);
    if (b.cipher === "none" || b.compression !== "zstd") throw new Error(`unexpected archive: ${b.cipher} ${b.compression}`);
    last = b;
    emptyDir(storeDir);
    dropCaches();
    const s = await shTimed(fair, outFile);
    shield.push(b.ms); shell.push(s.ms); shellSync.push(s.msSync);
    out(`| ${i + 1} | ${secs(b.ms)} (${cpu(b)}) | ${mib(b.size)} | ${mib(b.rawSize)} | ${secs(s.ms)} (${mib(s.bytes)}) | ${secs(s.msSync)} | ${(s.ms / b.ms).toFixed(2)} | ${(s.msSync / b.ms).toFixed(2)} |`);
  }
  const m = median(shield);
  out(`| **median** | **${secs(m)}** | | | ${secs(median(shell))} | ${secs(median(shellSync))} | **${(median(shell) / m).toFixed(2)}** | **${(median(shellSync) / m).toFixed(2)}** |`);
  await stopDaemon(d);

  // Where the daemon's time goes: the same backup with compression and encryption each off.
  out();
  out("The same backup through the daemon with compression and encryption each turned off (one run each):");
  out();
  out("| compression | encryption | shield (POST run → done) | stored |");
  out("|---|---|---|---|");
  for (const encrypt of [true, false]) {
    const dv = await startDaemon({ SHIELD_ENCRYPT: encrypt ? "on" : "off" });
    for (const compression of ["zstd", "none"]) {
      const jv = await makeJob(dv, `pg-${compression}`, target, storeDir, compression);
      dropCaches();
      const b = await runJob(dv, jv);
      emptyDir(storeDir);
      out(`| ${compression} | ${encrypt ? "on" : "off"} | ${secs(b.ms)} (${cpu(b)}) | ${mib(b.size)} |`);
    }
    await stopDaemon(dv);
  }
  rmSync(storeDir, { recursive: true, force: true });

  // Where the time goes (one run each).
  out();
  out("Pieces (one run each):");
  out();
  out("| pipeline | time | output |");
  out("|---|---|---|");
  const pieces: [string, string][] = [
    ["pg_dump -Fc (its own gzip) | zstd -T0 | openssl > file (the brief's literal pipeline)", literal],
    ["pg_dump -Fc -Z0 > /dev/null", `${bin}/pg_dump -Fc -Z0 ${conn} > /dev/null`],
    ["pg_dump -Fc -Z0 > file", `${bin}/pg_dump -Fc -Z0 ${conn} > ${outFile}`],
    ["pg_dump -Fc -Z0 | zstd -3 -T0 > file", `${bin}/pg_dump -Fc -Z0 ${conn} | zstd -q -3 -T0 > ${outFile}`],
    ["pg_dump -Fc -Z0 | zstd -3 (one thread) > file", `${bin}/pg_dump -Fc -Z0 ${conn} | zstd -q -3 -T1 > ${outFile}`],
    ["pg_dump -Fc -Z0 | zstd -3 --single-thread > file", `${bin}/pg_dump -Fc -Z0 ${conn} | zstd -q -3 --single-thread > ${outFile}`],
  ];
  for (const [what, script] of pieces) {
    const ms = await sh(script);
    let size = "";
    try { size = mib(statSync(outFile).size); } catch { size = "-"; }
    rmSync(outFile, { force: true });
    out(`| \`${cell(what)}\` | ${secs(ms)} | ${size} |`);
  }
  if (last) {
    out();
    out("Task log of the last shield run:");
    out();
    out("```");
    for (const l of last.log.trim().split("\n")) out(l);
    out("```");
  }
  out();
}

async function rss(): Promise<void> {
  out("## Peak RSS of the daemon during relay backups (encryption on, compression none)");
  out();
  out("VmRSS of the daemon process from /proc/PID/status every 100 ms; children (the plugins, run as their own processes) listed apart.");
  out();
  out("| backup | time | daemon RSS before | daemon peak RSS | daemon RSS after | samples | peak RSS of children |");
  out("|---|---|---|---|---|---|---|");
  const storeDir = join(scratch, "rss-store");
  emptyDir(storeDir);
  const d = await startDaemon({});
  const warm = await makeJob(d, "warm", { plugin: "bench-zero", endpoint: { size: 1 << 20 } }, storeDir, "none");
  await runJob(d, warm);
  emptyDir(storeDir);
  for (const size of [2 * GiB, 4 * GiB]) {
    const job = await makeJob(d, `rss-${size}`, { plugin: "bench-zero", endpoint: { size } }, storeDir, "none");
    dropCaches();
    const sampler = new RssSampler(d.proc.pid, 100);
    const b = await runJob(d, job);
    const r = sampler.stop();
    emptyDir(storeDir);
    const kids = [...r.children].map(([l, k]) => `${l}: ${(k / 1024).toFixed(0)} MiB`).join("; ");
    out(`| ${mib(size)} | ${secs(b.ms)} (${cpu(b)}) | ${(r.firstKiB / 1024).toFixed(0)} MiB | **${(r.peakKiB / 1024).toFixed(0)} MiB** | ${(r.lastKiB / 1024).toFixed(0)} MiB | ${r.n} | ${kids} |`);
  }
  await stopDaemon(d);
  rmSync(storeDir, { recursive: true, force: true });
  out();
}

/**
 * quick: for iterating. The fixed cost of a backup (an empty database: process
 * starts, catalog writes, polling), then BENCH_RUNS alternating runs on the
 * BENCH_PG_* database of this build, of BENCH_COMPARE (another binary, same
 * session, so that load from other sessions hits both alike) and of the shell.
 * Prints the last task log of each build.
 */
async function quick(): Promise<void> {
  if (!pgAvailable) throw new Error("PostgreSQL is not installed here");
  const builds = compareBuilds();
  const db = await makeDatabase();
  const pg = await startPostgres();
  const tiny = new URL(await freshDatabase("tiny")).pathname.slice(1);
  const sql = postgres(pg.url(tiny), { max: 1, onnotice: () => {} });
  await sql`CREATE TABLE t (id int PRIMARY KEY, v text)`;
  await sql`INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 100) i`;
  await sql.end();
  const storeDir = join(scratch, "quick-store");
  const outFile = join(scratch, "quick-out");
  emptyDir(storeDir);
  const endpoint = (name: string) => ({ plugin: "postgres", endpoint: { pg_host: "127.0.0.1", pg_port: String(pg.port), pg_user: "postgres", pg_database: name, pg_bindir: pg.bindir } });
  const daemonsByBuild = [];
  for (const [name, bin] of builds) {
    SHIELD = bin;
    const d = await startDaemon({});
    daemonsByBuild.push({ name, d, big: await makeJob(d, "pg", endpoint(db.name), storeDir, "zstd"), small: await makeJob(d, "tiny", endpoint(tiny), storeDir, "zstd") });
  }
  const conn = (name: string) => `-h 127.0.0.1 -p ${pg.port} -U postgres ${name}`;
  const shell = (name: string) => `${pg.bindir}/pg_dump -Fc -Z0 ${conn(name)} | zstd -q -3 -T0 | openssl enc -aes-256-ctr -pbkdf2 -pass pass:x > ${outFile}`;
  const times = new Map<string, number[]>();
  const add = (k: string, v: number) => times.set(k, [...(times.get(k) ?? []), v]);
  const logs = new Map<string, string>();
  for (let i = 0; i < RUNS; i++) {
    for (const b of daemonsByBuild) {
      const t = await runJob(b.d, b.small);
      emptyDir(storeDir);
      add(`${b.name} tiny`, t.ms);
      dropCaches();
      const r = await runJob(b.d, b.big);
      emptyDir(storeDir);
      add(`${b.name} big`, r.ms);
      logs.set(b.name, r.log);
      out(`run ${i + 1} ${b.name}: tiny ${secs(t.ms)} (${cpu(t)}), big ${secs(r.ms)} (${cpu(r)})`);
    }
    add("shell tiny", (await shTimed(shell(tiny), outFile)).ms);
    dropCaches();
    const s = await shTimed(shell(db.name), outFile);
    add("shell big", s.ms); add("shell big+sync", s.msSync);
    out(`run ${i + 1} shell: tiny ${secs(times.get("shell tiny")!.at(-1)!)}, big ${secs(s.ms)} (+sync ${secs(s.msSync)})`);
  }
  out();
  for (const [k, v] of times) out(`median ${k}: ${secs(median(v))}`);
  for (const b of daemonsByBuild) out(`ratio ${b.name}: ${(median(times.get("shell big")!) / median(times.get(`${b.name} big`)!)).toFixed(2)} (with sync ${(median(times.get("shell big+sync")!) / median(times.get(`${b.name} big`)!)).toFixed(2)})`);
  // What the polling costs the daemon: a poll is a GET of a task like the ones timed.
  for (const b of daemonsByBuild) {
    const { task_uuid } = await call(b.d, "POST", `/v1/job/${b.small}/run`, {});
    await Bun.sleep(1000);
    const c0 = cpuSeconds(b.d.proc.pid);
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) await call(b.d, "GET", `/v1/task/${task_uuid}`);
    const c1 = cpuSeconds(b.d.proc.pid);
    out(`${b.name}: a GET /v1/task takes ${((performance.now() - t0) / 200).toFixed(2)} ms and ${((c1.self - c0.self) * 1000 / 200).toFixed(2)} ms of daemon CPU`);
  }
  // Restores of the big database into a new one (pg_restore, indexes rebuilt): what the daemon itself spends.
  out();
  const archives = new Map<string, string>();
  for (const b of daemonsByBuild) archives.set(b.name, (await runJob(b.d, b.big)).archive); // kept in the store
  for (let i = 0; i < Math.min(RUNS, 2); i++) {
    for (const b of daemonsByBuild) {
      const name = `restored_${b.name}_${i}_${process.pid}`;
      const target = await call(b.d, "POST", "/v1/targets", { name, plugin: "postgres", endpoint: endpoint(name).endpoint, agent: "" });
      const r = await runTask(b.d, `/v1/archive/${archives.get(b.name)}/restore`, { target: target.uuid });
      out(`restore ${i + 1} ${b.name}: ${secs(r.ms)} (${cpu(r)})`);
      logs.set(`${b.name} restore`, r.task.log);
      const admin = postgres(pg.url("postgres"), { max: 1, onnotice: () => {} });
      await admin.unsafe(`DROP DATABASE ${name}`);
      await admin.end();
    }
  }
  emptyDir(storeDir);
  for (const [name, log] of logs) out(`\nlast task log (${name}):\n${log}`);
  for (const b of daemonsByBuild) await stopDaemon(b.d);
}

/**
 * restore: shield's restore (verify pass, then retrieve → decrypt → zstd -d → pg_restore)
 * against the shell's `openssl dec | zstd -d | pg_restore` of the same database, each into
 * a new database, in pairs whose order alternates. Medians, spread (lowest–highest), the
 * ratio of medians and the median of the per-pair ratios; the verify pass on its own.
 */
async function restoreBench(): Promise<void> {
  out("## Restore: PostgreSQL from the fs store, zstd and encryption, verify pass included");
  out();
  if (!pgAvailable) {
    out("PostgreSQL is not installed here: skipped.");
    return;
  }
  const db = await makeDatabase();
  const pg = await startPostgres();
  const storeDir = join(scratch, "restore-store");
  const shellFile = join(scratch, "restore-shell.zst.enc");
  emptyDir(storeDir);
  const d = await startDaemon({});
  const job = await makeJob(d, "pg", { plugin: "postgres", endpoint: pgEndpoint(pg, db.name) }, storeDir, "zstd");
  const b = await runJob(d, job);
  if (b.cipher === "none" || b.compression !== "zstd") throw new Error(`unexpected archive: ${b.cipher} ${b.compression}`);
  // The shell's copy: the same database dumped with the plugin's flags, compressed and encrypted alike.
  await sh(pgShellBackup(pg, db.name, shellFile));
  out(`Archive: ${mib(b.size)} stored (${mib(b.rawSize)} raw dump); the shell's file: ${mib(statSync(shellFile).size)}. Load average before the runs: ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
  out();
  const admin = postgres(pg.url("postgres"), { max: 1, onnotice: () => {} });
  const drop = (name: string) => admin.unsafe(`DROP DATABASE IF EXISTS "${name}"`);
  // Both create the database first: the plugin does it with psql (ensureDatabase), the shell with createdb.
  const shieldRun = (i: number) => {
    const name = `restored_shield_${i}_${process.pid}`;
    return pgShieldRestore(d, pgEndpoint(pg, name), b.archive, () => drop(name));
  };
  const shellRun = async (i: number) => {
    const name = `restored_shell_${i}_${process.pid}`;
    dropCaches();
    const ms = await sh(pgShellRestore(pg, shellFile, name));
    await drop(name);
    return ms;
  };
  out("| pair | order | shield (POST restore → done) | of which the verify pass | shell `openssl dec \\| zstd -d \\| pg_restore` | ratio shell ÷ shield | load average |");
  out("|---|---|---|---|---|---|---|");
  const shieldMs: number[] = [], shellMs: number[] = [], verifyMs: number[] = [], ratios: number[] = [];
  let lastLog = "";
  for (let i = 0; i < RUNS; i++) {
    const shieldFirst = i % 2 === 0;
    const [a, s] = await interleaved(i, [() => shieldRun(i), () => shellRun(i)]);
    shieldMs.push(a.ms); shellMs.push(s); verifyMs.push(a.verifyMs); ratios.push(s / a.ms);
    lastLog = a.log;
    out(`| ${i + 1} | ${shieldFirst ? "shield, shell" : "shell, shield"} | ${secs(a.ms)} (${cpu(a)}) | ${secs(a.verifyMs)} (${(100 * a.verifyMs / a.ms).toFixed(1)} %) | ${secs(s)} | ${(s / a.ms).toFixed(2)} | ${loadavg()[0]!.toFixed(2)} |`);
  }
  const spread = (xs: number[]) => `${secs(Math.min(...xs))}–${secs(Math.max(...xs))}`;
  out(`| **median** | | **${secs(median(shieldMs))}** (${spread(shieldMs)}) | **${secs(median(verifyMs))}** (${spread(verifyMs)}) | **${secs(median(shellMs))}** (${spread(shellMs)}) | **${(median(shellMs) / median(shieldMs)).toFixed(2)}** (pairs: ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}, median ${median(ratios).toFixed(2)}) | |`);
  out();
  // The verify pass alone, read back by the same store: what it costs without the restore around it.
  // The task log gives the verify pass to 0.1 s: a short one reads as 0.0 s.
  if (median(verifyMs) > 0) out(`Verify pass rate: ${rate(b.size, median(verifyMs))} over the ${mib(b.size)} blob (SHA-256 and AES-256-GCM in the daemon, the blob read by \`shield plugin fs retrieve\`).`);
  out();
  out("Task log of the last shield restore:");
  out();
  out("```");
  for (const l of lastLog.trim().split("\n")) out(l);
  out("```");
  out();
  await admin.end();
  await stopDaemon(d);
  rmSync(storeDir, { recursive: true, force: true });
  rmSync(shellFile, { force: true });
}

async function mysqlBench(): Promise<void> {
  out("## MySQL (MariaDB) end to end: backup and restore, zstd and encryption");
  out();
  if (!mariadbAvailable) {
    out("MariaDB is not installed here: skipped.");
    return;
  }
  // A buffer pool the size a small server would give (the tests' 64M makes loading a gigabyte a matter of tens of minutes here).
  const server = await startMariadb({ bufferPool: "512M" });
  const t0 = performance.now();
  // Made in batches: one INSERT of millions of rows would hold its undo log to the end.
  server.sql("CREATE DATABASE bench; CREATE TABLE bench.documents (id BIGINT PRIMARY KEY, title CHAR(32) NOT NULL, body VARCHAR(200) NOT NULL, score DECIMAL(12,4), created DATETIME NOT NULL) ENGINE=InnoDB;");
  for (let from = 1; from <= MYSQL_ROWS; from += 500_000) {
    const to = Math.min(MYSQL_ROWS, from + 499_999);
    server.sql(`INSERT INTO documents SELECT seq, MD5(seq), CONCAT(MD5(seq * 7), MD5(seq * 13), MD5(seq * 17)), (seq % 100000) / 7.0, '2026-01-01' + INTERVAL seq SECOND FROM seq_${from}_to_${to}`, "bench");
  }
  server.sql("ANALYZE TABLE bench.documents");
  const [dataBytes] = server.sql("SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'bench'").trim().split("\t").map(Number);
  out(`Database: ${MYSQL_ROWS.toLocaleString("en")} rows of md5 text and numbers (one InnoDB table); data + index ${mib(dataBytes!)} (made in ${secs(performance.now() - t0)}). Server: the tests' private MariaDB (innodb_buffer_pool_size 512M, innodb_flush_log_at_trx_commit 0), over TCP for both.`);
  out();
  // The shell's connection: an option file like the plugin's (which is a pipe), same user, TCP.
  const cnf = join(scratch, "client.cnf");
  await Bun.write(cnf, `[client]\nuser=${MYSQL_USER}\npassword="${MYSQL_PASSWORD.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"\nhost=127.0.0.1\nport=${server.port}\nprotocol=TCP\nskip-ssl\n`);
  chmodSync(cnf, 0o600);
  const dumpFlags = "--single-transaction --routines --triggers --events --hex-blob --default-character-set=utf8mb4";
  const openssl = "openssl enc -aes-256-ctr -pbkdf2 -pass pass:x";
  const shellFile = join(scratch, "mysql-shell.zst.enc");
  const backupShell = `mariadb-dump --defaults-file=${cnf} ${dumpFlags} bench | zstd -q -3 -T0 | ${openssl} > ${shellFile}`;
  const storeDir = join(scratch, "mysql-store");
  emptyDir(storeDir);
  const endpoint = (database: string) => ({ mysql_host: "127.0.0.1", mysql_port: String(server.port), mysql_user: MYSQL_USER, mysql_password: MYSQL_PASSWORD, mysql_database: database });
  const d = await startDaemon({});
  const job = await makeJob(d, "mysql", { plugin: "mysql", endpoint: endpoint("bench") }, storeDir, "zstd");
  const spread = (xs: number[]) => `${secs(Math.min(...xs))}–${secs(Math.max(...xs))}`;
  const load = () => loadavg()[0]!.toFixed(2);

  out(`Backups (load average at start ${loadavg().map((x) => x.toFixed(2)).join(" ")}):`);
  out();
  out("| pair | order | shield (POST run → done) | stored | shell `mariadb-dump \\| zstd -T0 \\| openssl` | + sync FILE | ratio shell+sync ÷ shield | load average |");
  out("|---|---|---|---|---|---|---|---|");
  const bShield: number[] = [], bShell: number[] = [], bRatio: number[] = [];
  const cpuOf: CpuColumns = new Map();
  let rawBytes = 0;
  let archive: Backup | undefined;
  for (let i = 0; i < RUNS; i++) {
    const shieldFirst = i % 2 === 0;
    const shieldRun = async () => {
      dropCaches();
      const b = await runJob(d, job, true);
      if (b.cipher === "none" || b.compression !== "zstd") throw new Error(`unexpected archive: ${b.cipher} ${b.compression}`);
      // The last archive is kept for the restores.
      if (archive) { await call(d, "DELETE", `/v1/archive/${archive.archive}`).catch(() => {}); }
      archive = b;
      return b;
    };
    const shellRun = async () => { dropCaches(); return shTimed(backupShell, shellFile, {}, { tree: true }); };
    let b: Backup, s: Awaited<ReturnType<typeof shTimed>>;
    if (shieldFirst) { b = await shieldRun(); s = await shellRun(); } else { s = await shellRun(); b = await shieldRun(); }
    bShield.push(b.ms); bShell.push(s.msSync); bRatio.push(s.msSync / b.ms);
    cpuOf.set("backup: shell", [...(cpuOf.get("backup: shell") ?? []), { kinds: s.kinds, total: s.cpu }]);
    cpuOf.set("backup: shield", [...(cpuOf.get("backup: shield") ?? []), { kinds: b.kinds, total: b.cpu.daemon + b.cpu.children }]);
    rawBytes = b.rawSize;
    out(`| ${i + 1} | ${shieldFirst ? "shield, shell" : "shell, shield"} | ${secs(b.ms)} (${cpu(b)}) | ${mib(b.size)} (${mib(b.rawSize)} raw) | ${secs(s.ms)} (${mib(s.bytes)}) | ${secs(s.msSync)} | ${(s.msSync / b.ms).toFixed(2)} | ${load()} |`);
  }
  out(`| **median** | | **${secs(median(bShield))}** (${spread(bShield)}) | | | **${secs(median(bShell))}** (${spread(bShell)}) | **${(median(bShell) / median(bShield)).toFixed(2)}** (pairs ${Math.min(...bRatio).toFixed(2)}–${Math.max(...bRatio).toFixed(2)}) | |`);
  out();
  cpuTable(cpuOf, rawBytes);

  // Restores: the last archive, and the shell's file of the same dump, each into a new database.
  await sh(backupShell);
  out(`Restores (the shell's file: ${mib(statSync(shellFile).size)}; load average at start ${loadavg().map((x) => x.toFixed(2)).join(" ")}):`);
  out();
  out("| pair | order | shield (POST restore → done) | of which the verify pass | shell `openssl dec \\| zstd -d \\| mariadb` | ratio shell ÷ shield | load average |");
  out("|---|---|---|---|---|---|---|");
  const drop = (name: string) => server.sql(`DROP DATABASE IF EXISTS \`${name}\``);
  const rShield: number[] = [], rShell: number[] = [], rVerify: number[] = [], rRatio: number[] = [];
  let lastLog = "";
  for (let i = 0; i < RUNS; i++) {
    const shieldFirst = i % 2 === 0;
    const shieldRun = async () => {
      const name = `restored_shield_${i}`;
      const target = await call(d, "POST", "/v1/targets", { name, plugin: "mysql", endpoint: endpoint(name), agent: "" });
      dropCaches();
      const r = await runTask(d, `/v1/archive/${archive!.archive}/restore`, { target: target.uuid });
      const rows = server.sql(`SELECT COUNT(*) FROM \`${name}\`.documents`).trim();
      if (Number(rows) !== MYSQL_ROWS) throw new Error(`the restored database has ${rows} rows, not ${MYSQL_ROWS}`);
      const m = / verified ([\d.]+) (MiB|GiB) in ([\d.]+) s/.exec(r.task.log);
      drop(name);
      await call(d, "DELETE", `/v1/target/${target.uuid}`).catch(() => {});
      return { ms: r.ms, verifyMs: m ? Number(m[3]) * 1000 : NaN, cpu: r.cpu, log: r.task.log as string };
    };
    const shellRun = async () => {
      const name = `restored_shell_${i}`;
      dropCaches();
      const ms = await sh(`mariadb --defaults-file=${cnf} -e 'CREATE DATABASE ${name}' && ${OPENSSL_DEC} < ${shellFile} | zstd -q -d | mariadb --defaults-file=${cnf} --batch --default-character-set=utf8mb4 ${name}`);
      drop(name);
      return ms;
    };
    let a: Awaited<ReturnType<typeof shieldRun>>, s: number;
    if (shieldFirst) { a = await shieldRun(); s = await shellRun(); } else { s = await shellRun(); a = await shieldRun(); }
    rShield.push(a.ms); rShell.push(s); rVerify.push(a.verifyMs); rRatio.push(s / a.ms);
    lastLog = a.log;
    out(`| ${i + 1} | ${shieldFirst ? "shield, shell" : "shell, shield"} | ${secs(a.ms)} (${cpu(a)}) | ${secs(a.verifyMs)} | ${secs(s)} | ${(s / a.ms).toFixed(2)} | ${load()} |`);
  }
  out(`| **median** | | **${secs(median(rShield))}** (${spread(rShield)}) | ${secs(median(rVerify))} | **${secs(median(rShell))}** (${spread(rShell)}) | **${(median(rShell) / median(rShield)).toFixed(2)}** (pairs ${Math.min(...rRatio).toFixed(2)}–${Math.max(...rRatio).toFixed(2)}) | |`);
  out();
  out("Task log of the last shield backup and restore:");
  out();
  out("```");
  for (const l of archive!.log.trim().split("\n")) out(l);
  for (const l of lastLog.trim().split("\n")) out(l);
  out("```");
  out();
  await stopDaemon(d);
  server.stop();
  rmSync(storeDir, { recursive: true, force: true });
  rmSync(shellFile, { force: true });
}

// ---- main --------------------------------------------------------------------------

async function main(): Promise<void> {
  const what = process.argv[2] ?? "all";
  const modes = ["relay", "e2e", "rss", "all", "quick", "restore", "fixed", "mysql", "datasets", "cluster", "issue20"];
  if (!modes.includes(what)) {
    console.error(`usage: bun run bench/datapath.ts [${modes.join("|")}]`);
    process.exit(2);
  }
  if (!statSync(BUILT, { throwIfNoEntry: false })) throw new Error("dist/shield is missing: run `npm run build` first");
  scratch = mkdtempSync(join(tmpdir(), "shield-bench-datapath-"));
  SHIELD = join(scratch, "shield");
  copyFileSync(BUILT, SHIELD);
  chmodSync(SHIELD, 0o755);
  const df = Bun.spawnSync(["df", "-h", scratch]).stdout.toString().trim().split("\n").pop();
  out(`# Data path benchmark (${new Date().toISOString().slice(0, 10)}; ${navigator.hardwareConcurrency} cores; ${RUNS} runs each)`);
  out();
  const git = (...a: string[]) => Bun.spawnSync(["git", ...a], { cwd: ROOT }).stdout.toString().trim();
  const dirty = git("status", "--porcelain", "--untracked-files=no").split("\n").filter(Boolean).length;
  out(`Binary: dist/shield built ${statSync(BUILT).mtime.toISOString()} from ${git("rev-parse", "--short", "HEAD")}${dirty ? ` plus ${dirty} modified files` : ""}; run from a private copy.`);
  out(`Scratch: ${scratch} (df: ${df}); load average at start ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
  out();
  if (what === "relay" || what === "all") await relay();
  if (what === "rss" || what === "all") await rss();
  if (what === "e2e" || what === "all") await e2e();
  if (what === "quick") await quick();
  if (what === "restore") await restoreBench();
  if (what === "datasets" || what === "issue20") await datasetsBench();
  if (what === "cluster" || what === "issue20") await clusterBench();
  if (what === "mysql" || what === "issue20") await mysqlBench();
  if (what === "fixed" || what === "issue20") await fixedCost();
}

function cleanup(): void {
  for (const d of daemons) d.proc.kill("SIGKILL");
  stopPostgres();
  stopMariadb();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) process.on(signal, () => { cleanup(); process.exit(code); });
try {
  await main();
} finally {
  for (const d of [...daemons]) await stopDaemon(d).catch(() => {});
  cleanup();
}
