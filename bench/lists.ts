// List benchmark: how long the unpaged definition lists hold the event loop with
// 10,000 rows, in process (the daemon's /v1 app on a SQLite catalog).
//
//   bun run bench/lists.ts          (knob: BENCH_ROWS, default 10000)
//
// Seeds BENCH_ROWS schedules (distinct timespecs in four forms) and as many
// targets straight into the catalog, then for GET /v1/schedules and
// GET /v1/targets, as an admin and as a viewer (whose endpoints are redacted):
// the first request, then the median of 5 more, each with the longest stall of a
// 1 ms timer running beside it (how long the event loop was held in one piece).
import { testApi } from "../test/helpers/app.ts";

const ROWS = Number(process.env.BENCH_ROWS ?? 10_000);
const DAYS = ["mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays"];
const pad = (n: number) => String(n).padStart(2, "0");

function timespec(i: number): string {
  const h = i % 24, m = Math.floor(i / 24) % 60, day = DAYS[Math.floor(i / 1440) % 7];
  return [`daily at ${h}:${pad(m)}`, `${day} at ${h}:${pad(m)}`, `${m} ${h} * * *`, `every ${1 + (i % 11)} hours from ${h}:${pad(m)}`][i % 4]!;
}

const api = await testApi("sqlite");
const now = Math.floor(Date.now() / 1000);
for (let i = 0; i < ROWS; i++) {
  await api.catalog.schedules.create(crypto.randomUUID(), { name: `s${i}`, summary: "", timespec: timespec(i) }, now);
  await api.catalog.targets.create(crypto.randomUUID(), {
    name: `t${i}`, summary: "", plugin: "postgres", agent: "",
    endpoint: JSON.stringify({ pg_host: `db${i % 50}.internal`, pg_user: "backup", pg_password: "not-a-secret", pg_database: `app${i}` }),
  }, now);
}

/** Wall time of one request, and the longest gap between ticks of a 1 ms timer meanwhile. */
async function timed(path: string, as: "admin" | "viewer"): Promise<{ ms: number; stall: number }> {
  let last = performance.now();
  let stall = 0;
  const probe = setInterval(() => {
    const t = performance.now();
    stall = Math.max(stall, t - last);
    last = t;
  }, 1);
  const t0 = performance.now();
  const res = await api.req("GET", path, { as });
  const ms = performance.now() - t0;
  clearInterval(probe);
  stall = Math.max(stall, performance.now() - last);
  if (res.status !== 200 || res.json.length !== ROWS) throw new Error(`${path}: ${res.status} ${res.text.slice(0, 200)}`);
  return { ms, stall };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const commit = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: import.meta.dir }).stdout.toString().trim();
console.log(`commit ${commit}, ${ROWS} rows each`);
console.log("| list | as | first ms | first stall ms | median ms (5) | median stall ms |");
console.log("|---|---|--:|--:|--:|--:|");
for (const path of ["/v1/schedules", "/v1/targets"]) {
  for (const as of ["admin", "viewer"] as const) {
    const first = await timed(path, as);
    const rest = [];
    for (let i = 0; i < 5; i++) rest.push(await timed(path, as));
    const f = (n: number) => n.toFixed(0);
    console.log(`| GET ${path} | ${as} | ${f(first.ms)} | ${f(first.stall)} | ${f(median(rest.map((r) => r.ms)))} | ${f(median(rest.map((r) => r.stall)))} |`);
  }
}
await api.cleanup();
