// GET /v1/jobs and GET /v1/statistics in process (the /v1 app on a catalog seeded
// as bench/health.ts seeds it), with the CPU time of each request beside its wall
// time: on a shared, saturated machine the CPU time is the steadier measure of the
// work a request does. Used for the paired before/after figures in bench/README.md.
//
//   bun run bench/health-route.ts seed CATALOG     # SQLite file or PostgreSQL URL, seeded once (~30 s quiet)
//   bun run bench/health-route.ts time CATALOG     # 5 untimed, then 30 timed requests of each
//
// ROOT=<a checkout> runs another checkout's code (its own seed too), for A/B pairs:
// `git worktree add /tmp/before <commit>` and alternate the two.
import { loadavg } from "node:os";
import { resolve } from "node:path";

const ROOT = resolve(process.env.ROOT ?? `${import.meta.dir}/..`);
const [mode, url] = process.argv.slice(2);
if (!url || (mode !== "seed" && mode !== "time")) throw new Error("usage: bun run bench/health-route.ts seed|time CATALOG");

if (mode === "seed") {
  const { seed } = await import(`${ROOT}/bench/api.ts`);
  const { seedTasks } = await import(`${ROOT}/bench/health.ts`);
  const s = await seed(url);
  const t = await seedTasks(url);
  console.log(`seeded ${s.jobs} jobs, ${s.archives} archives, ${t.tasks} tasks`);
  process.exit(0);
}

const { openCatalog } = await import(`${ROOT}/src/catalog/open.ts`);
const { catalogQueries } = await import(`${ROOT}/src/catalog/index.ts`);
const { createCore } = await import(`${ROOT}/src/core/index.ts`);
const { createApi } = await import(`${ROOT}/src/api/index.ts`);
const { log } = await import(`${ROOT}/src/log.ts`);
log.setSink(() => {});
const catalog = catalogQueries(await openCatalog(url));
const core = createCore(catalog, { throttle: { freePerUser: Infinity, freePerAddress: Infinity } });
const name = `bench${Date.now()}`;
const password = "bench-route-password";
await core.users.create({ name, password, role: "admin" });
const app = createApi(core, { pubkey: "ssh-ed25519 AAAATEST core@shield" });
const authorization = `Basic ${Buffer.from(`${name}:${password}`).toString("base64")}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const path of ["/v1/jobs", "/v1/statistics"]) {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < 35; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const res = await app.request(path, { headers: { authorization } });
    await res.text();
    const c = process.cpuUsage(c0);
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    if (i >= 5) { wall.push(performance.now() - t0); cpu.push((c.user + c.system) / 1000); }
  }
  console.log(`${path}: load ${loadavg()[0]!.toFixed(1)}, wall median ${median(wall).toFixed(1)} ms, CPU median ${median(cpu).toFixed(1)} ms (min ${Math.min(...cpu).toFixed(1)})`);
}
process.exit(0);
