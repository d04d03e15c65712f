// The redis target on a ~1 GB data set, beside `redis-cli --rdb` and a raw copy
// of the RDB file. Private servers of the test harness (RDB only); the data set is
// BENCH_REDIS_KEYS keys (default 1,000,000) of BENCH_REDIS_VALUE random bytes
// (default 1000), which RDB's LZF cannot shrink. Backups go to /dev/null; restores
// read the archive from a file into an empty server.
//
// Then the whole path, as an operator runs it (BENCH_REDIS_SHIELD=0 skips it): the
// compiled daemon (fs store, zstd, encrypted) and a `shield agent` beside the server,
// through the API: a backup on the data host through the agent (its data port), a
// backup over the network by the core itself, and a restore of the archive on the
// data host through the agent and over the network, each timed from POST to done.
//
//   ./node_modules/.bin/bun run bench/redis.ts
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { RedisConnection } from "../plugins/redis/resp.ts";
import { startRedis, stopRedis } from "../test/helpers/redis.ts";
import { freePort } from "../test/helpers/services.ts";

const KEYS = Number(process.env.BENCH_REDIS_KEYS ?? 1_000_000);
const VALUE = Number(process.env.BENCH_REDIS_VALUE ?? 1000);
const procs: Bun.Subprocess[] = [];
const SHIELD = process.env.BENCH_SHIELD ?? join(import.meta.dir, "../dist/shield");

async function timed(label: string, argv: string[], opts: { env?: Record<string, string>; stdin?: string; stdout?: string } = {}): Promise<number> {
  const t = performance.now();
  const proc = Bun.spawn(argv, {
    env: { ...process.env, ...opts.env },
    stdin: opts.stdin ? Bun.file(opts.stdin) : "ignore",
    stdout: opts.stdout ? Bun.file(opts.stdout) : "ignore",
    stderr: "pipe",
  });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  const s = (performance.now() - t) / 1000;
  if (code !== 0) throw new Error(`${label} failed (${code}): ${err}`);
  console.log(`${label.padEnd(58)} ${s.toFixed(2)} s`);
  return s;
}

const src = await startRedis();
const dst = await startRedis();
const tmp = join(src.dir, "..");
try {
  // No reply timeout: SAVE of a gigabyte takes a while.
  const c = await RedisConnection.open({ host: "127.0.0.1", port: src.port, password: src.password, timeoutMs: 0 });
  const t0 = performance.now();
  for (let i = 0; i < KEYS; i += 1000) {
    const n = Math.min(1000, KEYS - i);
    c.send(...Array.from({ length: n }, (_, j) => ["SET", `key:${i + j}`, randomBytes(VALUE)]));
    for (let j = 0; j < n; j++) await c.reply();
  }
  const mem = (await c.info("memory")).get("used_memory_human");
  await c.must("SAVE");
  c.close();
  const rdbPath = join(src.dir, "dump.rdb");
  const size = statSync(rdbPath).size;
  console.log(`data set: ${KEYS} keys of ${VALUE} random bytes, used_memory ${mem}, RDB ${(size / 2 ** 20).toFixed(0)} MiB (loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);

  const archive = join(tmp, "archive.rdb");
  const auth = { REDISCLI_AUTH: src.password };
  await timed("raw copy of dump.rdb (cat > /dev/null, page cache warm)", ["cat", rdbPath]);
  await timed("raw copy of dump.rdb to a file on the same disk (cp)", ["cp", rdbPath, join(tmp, "copy.rdb")]);
  rmSync(join(tmp, "copy.rdb"));
  await timed("redis-cli --rdb - > /dev/null", ["redis-cli", "-p", String(src.port), "--no-auth-warning", "--rdb", "-"], { env: auth });
  await timed("redis-cli --rdb FILE", ["redis-cli", "-p", String(src.port), "--no-auth-warning", "--rdb", join(tmp, "cli.rdb")], { env: auth });
  rmSync(join(tmp, "cli.rdb"));
  // redis-cli asks for a diskless sync, which the server delays by repl-diskless-sync-delay (5 s): without it too.
  const cc = await src.connect();
  await cc.must("CONFIG", "SET", "repl-diskless-sync-delay", "0");
  cc.close();
  await timed("redis-cli --rdb - > /dev/null (repl-diskless-sync-delay 0)", ["redis-cli", "-p", String(src.port), "--no-auth-warning", "--rdb", "-"], { env: auth });
  const plugin = (action: string, endpoint: object, opts: { stdin?: string; stdout?: string } = {}) =>
    timed(`shield plugin redis ${action} (${"redis_data_dir" in endpoint ? "data host" : "network"})`, [SHIELD, "plugin", "redis", action], { ...opts, env: { SHIELD_ENDPOINT: JSON.stringify(endpoint) } });
  await plugin("backup", src.endpoint());
  await plugin("backup", src.local());
  await plugin("backup", src.endpoint(), { stdout: archive });
  await plugin("restore", dst.endpoint(), { stdin: archive });
  await plugin("restore", dst.local(), { stdin: archive });
  const d = await dst.connect();
  console.log(`restored: ${(await d.info("keyspace")).get("db0")}`);
  d.close();
  rmSync(archive, { force: true });
  if (process.env.BENCH_REDIS_SHIELD !== "0") await throughShield();
} finally {
  for (const p of procs) p.kill("SIGKILL");
  await stopRedis();
}

/** The daemon and an agent, through the API (see the header). */
async function throughShield(): Promise<void> {
  const scratch = join(tmp, "shield");
  mkdirSync(join(scratch, "store"), { recursive: true });
  const PASSWORD = "bench-redis-password";
  const AUTH = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}`, "content-type": "application/json" };
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const spawnLogged = (name: string, argv: string[], env: Record<string, string>) => {
    const p = Bun.spawn(argv, { env: { ...process.env, SHIELD_LOG_LEVEL: "warn", ...env }, stdin: "ignore", stdout: "ignore", stderr: Bun.file(join(scratch, `${name}.log`)) });
    procs.push(p);
    return p;
  };
  spawnLogged("daemon", [SHIELD, "daemon", "--listen", `127.0.0.1:${port}`, "--data-dir", join(scratch, "core")], { SHIELD_ADMIN_PASSWORD: PASSWORD });
  const until = async (what: string, ok: () => Promise<boolean>) => {
    for (const deadline = Date.now() + 30_000; ;) {
      try { if (await ok()) return; } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`${what} did not start`);
      await Bun.sleep(100);
    }
  };
  await until("the daemon", async () => (await fetch(`${url}/v1/plugins`, { headers: AUTH })).ok);
  const agentPort = await freePort();
  spawnLogged("agent", [SHIELD, "agent", "--listen", `127.0.0.1:${agentPort}`, "--data-port", "0", "--data-dir", join(scratch, "agent"), "--core", url], { SHIELD_LOG_LEVEL: "info" });
  await until("the agent", async () => (await Bun.file(join(scratch, "agent.log")).text()).includes("shield agent listening"));
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(url + path, { method, headers: AUTH, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = (await r.json()) as any;
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
  const waitTask = async (uuid: string, t0: number, label: string) => {
    for (;;) {
      const t = await call("GET", `/v1/task/${uuid}`);
      if (!["pending", "running"].includes(t.status)) {
        const s = (performance.now() - t0) / 1000;
        if (t.status !== "done") throw new Error(`${label}: task ${t.status}: ${t.log}`);
        console.log(`${label.padEnd(58)} ${s.toFixed(2)} s`);
        return t;
      }
      await Bun.sleep(100);
    }
  };
  const store = (await call("POST", "/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: join(scratch, "store") } })).uuid;
  const schedule = (await call("POST", "/v1/schedules", { name: "daily", when: "daily at 4am" })).uuid;
  const retention = (await call("POST", "/v1/retention", { name: "day", expires: 86400 })).uuid;
  const agent = `127.0.0.1:${agentPort}`;
  const target = async (name: string, endpoint: object, on: string) => (await call("POST", "/v1/targets", { name, plugin: "redis", endpoint, agent: on })).uuid as string;
  const backup = async (label: string, t: string) => {
    const job = (await call("POST", "/v1/jobs", { name: `${label}-job`, target: t, store, schedule, retention, paused: true, compression: "zstd" })).uuid;
    const t0 = performance.now();
    const task = await waitTask((await call("POST", `/v1/job/${job}/run`, {})).task_uuid, t0, `shield backup, ${label} (POST → done; zstd, encrypted)`);
    return call("GET", `/v1/archive/${task.archive_uuid}`);
  };
  const restore = async (label: string, archive: string, into: string) => {
    const t0 = performance.now();
    await waitTask((await call("POST", `/v1/archive/${archive}/restore`, { target: into })).task_uuid, t0, `shield restore, ${label} (POST → done; verify pass included)`);
  };
  const onAgent = await backup("data host through the agent", await target("src-agent", src.local(), agent));
  console.log(`  archive ${(onAgent.size / 2 ** 20).toFixed(0)} MiB stored, ${(onAgent.raw_size / 2 ** 20).toFixed(0)} MiB raw`);
  await backup("network, by the core", await target("src-net", src.endpoint(), ""));
  await restore("data host through the agent", onAgent.uuid, await target("dst-agent", dst.local(), agent));
  await restore("network, by the core", onAgent.uuid, await target("dst-net", dst.endpoint(), ""));
  const c = await dst.connect();
  console.log(`restored: ${(await c.info("keyspace")).get("db0")}`);
  c.close();
}
