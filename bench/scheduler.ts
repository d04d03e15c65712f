// Scheduler benchmark: the compiled daemon (dist/shield) with 10,000 jobs of mixed
// schedules on its SQLite catalog.
//
//   1. Seeds the catalog through src/catalog: 20 targets (bench/plugins/bench-zero,
//      a few bytes each), one fs store, 10,000 jobs over ~150 schedules of every
//      form (daily, weekly, monthly, hourly at :MM, every N hours, nth weekday,
//      cron), none due during the idle phase.
//   2. Starts the daemon and measures its first start with 10,000 jobs it has
//      never seen (every job's first due time is computed and stored).
//   3. Idle: CPU time (utime+stime from /proc) over BENCH_IDLE_S seconds (default
//      120, which includes two periodic re-reads of all jobs) and RSS.
//   4. Lateness: BENCH_BURST jobs (default 1,000) share one due time (a popular
//      "daily at 02:00", placed a little after the idle phase) and 600 more are
//      "hourly at :MM" spread over the five minutes after it; the daemon logs, at
//      debug level, how late each task row was made (due time → INSERT done).
//      p50/p99/max over every task filed in those six minutes; the workers (4)
//      run the backups meanwhile, as they would.
//
// Usage: npm run build && npm run bench:scheduler   (about 10 minutes)
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connectCatalog } from "../src/catalog/index.ts";
import { parseTimespec } from "../src/scheduler/timespec.ts";
import { freePort } from "../test/helpers/services.ts";

const ROOT = resolve(import.meta.dir, "..");
const BIN = join(ROOT, "dist/shield");
const PLUGIN_DIR = join(import.meta.dir, "plugins");
const N = Number(process.env.BENCH_JOBS ?? 10_000);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 120);
const BURST = Number(process.env.BENCH_BURST ?? 1000);
const SPREAD = 600;
const CLK_TCK = 100;

const git = (args: string[]) => Bun.spawnSync(["git", ...args], { cwd: ROOT }).stdout.toString().trim();
console.log(`commit ${git(["rev-parse", "--short", "HEAD"])}${git(["status", "--porcelain", "--", "src", "bench"]) ? " (with uncommitted changes)" : ""}; ${cpus().length} CPUs; load ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);

const dir = mkdtempSync(join(tmpdir(), "shield-bench-scheduler-"));
const storeDir = join(dir, "store");
mkdirSync(storeDir);
const dataDir = join(dir, "data");
mkdirSync(dataDir);
const ordinal = (n: number) => `${n}${n % 10 === 1 && n !== 11 ? "st" : n % 10 === 2 && n !== 12 ? "nd" : n % 10 === 3 && n !== 13 ? "rd" : "th"}`;
const hhmm = (d: Date) => `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;

try {
  // ---- 1. seed ----
  const seedStart = performance.now();
  const catalog = await connectCatalog(join(dataDir, "shield.db"));
  const now = Date.now();
  const T0 = Math.floor(now / 1000);
  const idleEnd = now + (IDLE_S + 45) * 1000; // start-up and settling come before the idle phase
  // The burst: the first whole minute at least 60 s after the idle phase.
  const burstAt = new Date(Math.ceil((idleEnd + 60_000) / 60_000) * 60_000);
  const windowEnd = burstAt.getTime() + 5 * 60_000;
  const store = crypto.randomUUID();
  await catalog.stores.create(store, { name: "fs", summary: "", plugin: "fs", endpoint: JSON.stringify({ base_dir: storeDir }) }, T0);
  const targets: string[] = [];
  for (let i = 0; i < 20; i++) {
    const t = crypto.randomUUID();
    await catalog.targets.create(t, { name: `target-${i}`, summary: "", plugin: "bench-zero", endpoint: '{"size": 64}', agent: "" }, T0);
    targets.push(t);
  }
  const retention = crypto.randomUUID();
  await catalog.retention.create(retention, { name: "week", summary: "", expiry: 7 * 86400 }, T0);

  // Every form of the language, at times none of which falls in [now, end of the lateness window].
  const quiet = (when: string) => {
    const next = parseTimespec(when).next(new Date(now), "UTC");
    return !next || next.getTime() > windowEnd + 60_000;
  };
  const days = ["sundays", "mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays"];
  const candidates: string[] = [];
  for (let h = 0; h < 24; h++) {
    candidates.push(`daily at ${h}:15`, `daily at ${h}:45`, `${days[h % 7]} at ${h}:30`, `monthly on the ${ordinal(1 + (h % 28))} at ${h}:05`);
    candidates.push(`${["1st", "2nd", "3rd"][h % 3]} ${days[h % 7]!.slice(0, -1)} at ${h}:10`, `${(h * 7) % 60} ${h} * * 1-5`);
  }
  for (let m = 0; m < 60; m += 3) candidates.push(`hourly at :${String(m).padStart(2, "0")}`);
  for (const every of [2, 3, 4, 6, 8, 12]) candidates.push(`every ${every} hours from 0:${String((every * 7) % 60).padStart(2, "0")}`);
  const quietSpecs = candidates.filter(quiet);
  const schedules = new Map<string, string>();
  const scheduleFor = async (when: string) => {
    let s = schedules.get(when);
    if (!s) {
      s = crypto.randomUUID();
      await catalog.schedules.create(s, { name: `s-${schedules.size}`, summary: "", timespec: when }, T0);
      schedules.set(when, s);
    }
    return s;
  };
  const burstWhen = `daily at ${hhmm(burstAt)}`;
  let jobs = 0;
  const addJob = async (when: string) => {
    await catalog.jobs.create(crypto.randomUUID(), {
      name: `job-${jobs}`, summary: "", targetUuid: targets[jobs % targets.length]!, storeUuid: store,
      scheduleUuid: await scheduleFor(when), retentionUuid: retention, priority: 50, compression: "none", paused: false,
    }, T0);
    jobs++;
  };
  for (let i = 0; i < BURST; i++) await addJob(burstWhen);
  for (let i = 0; i < SPREAD; i++) {
    const at = new Date(burstAt.getTime() + 60_000 + (i % 5) * 60_000);
    await addJob(`hourly at :${String(at.getUTCMinutes()).padStart(2, "0")}`);
  }
  while (jobs < N) await addJob(quietSpecs[jobs % quietSpecs.length]!);
  await catalog.close();
  console.log(`seeded ${jobs} jobs over ${schedules.size} schedules (${quietSpecs.length} quiet forms) in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);
  console.log(`burst: ${BURST} jobs "${burstWhen}" (UTC), due ${burstAt.toISOString()}; ${SPREAD} "hourly at :MM" over the 5 minutes after`);

  // ---- 2. start ----
  const port = await freePort();
  let log = "";
  const started = performance.now();
  const proc = spawn(BIN, ["daemon", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir, "--plugin-dir", PLUGIN_DIR], {
    env: { ...process.env, TZ: "UTC", SHIELD_ADMIN_PASSWORD: "bench-password", SHIELD_LOG_LEVEL: "debug", SHIELD_ENCRYPT: "off" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  proc.stderr!.on("data", (d) => (log += d));
  while (!log.includes('"msg":"shield daemon listening"')) {
    if (proc.exitCode !== null) throw new Error(`the daemon exited: ${log}`);
    await Bun.sleep(10);
  }
  const firstStartMs = performance.now() - started;
  console.log(`first start with ${jobs} unseen jobs (every first due time computed and stored): ${(firstStartMs / 1000).toFixed(2)} s`);

  const pid = proc.pid!;
  const cpuTicks = () => {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(f[11]) + Number(f[12]);
  };
  const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

  // ---- 3. idle ----
  await Bun.sleep(30_000); // let the start settle (JIT, first re-read)
  const c0 = cpuTicks();
  const t0 = performance.now();
  await Bun.sleep(IDLE_S * 1000);
  const idleCpu = (cpuTicks() - c0) / CLK_TCK / ((performance.now() - t0) / 1000) * 100;
  const idleRss = rssMb();
  console.log(`idle over ${IDLE_S} s with ${jobs} jobs: CPU ${idleCpu.toFixed(2)} % of one core; RSS ${idleRss.toFixed(0)} MB`);
  if (Date.now() > burstAt.getTime()) throw new Error("the idle phase ran past the burst: raise the margin");

  // ---- 4. lateness ----
  while (Date.now() < windowEnd + 20_000) await Bun.sleep(1000);
  const late: number[] = [];
  for (const line of log.split("\n")) {
    if (!line.includes('"msg":"filed a scheduled backup"')) continue;
    const e = JSON.parse(line);
    if (e.due * 1000 >= burstAt.getTime() && e.due * 1000 <= windowEnd) late.push(e.lateMs);
  }
  late.sort((a, b) => a - b);
  const q = (p: number) => late[Math.min(late.length - 1, Math.floor(p * late.length))]!;
  const burstLate = log.split("\n").filter((l) => l.includes('"msg":"filed a scheduled backup"')).map((l) => JSON.parse(l)).filter((e) => e.due * 1000 === burstAt.getTime()).map((e) => e.lateMs as number).sort((a, b) => a - b);
  console.log(`lateness (due time → task row), ${late.length} tasks of ${BURST + SPREAD} due: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${late.at(-1)} ms`);
  console.log(`  the burst alone (${burstLate.length} at once): first ${burstLate[0]} ms, p50 ${burstLate[Math.floor(burstLate.length / 2)]} ms, last ${burstLate.at(-1)} ms`);
  const skipped = log.split("\n").filter((l) => l.includes("skipped a scheduled backup")).length;
  console.log(`  skipped (previous run unfinished): ${skipped}; RSS after: ${rssMb().toFixed(0)} MB; load ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  proc.kill("SIGTERM");
  await new Promise((r) => proc.on("exit", r));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
