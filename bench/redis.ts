// The redis target on a ~1 GB data set, beside `redis-cli --rdb` and a raw copy
// of the RDB file. Private servers of the test harness (RDB only); the data set is
// BENCH_REDIS_KEYS keys (default 1,000,000) of BENCH_REDIS_VALUE random bytes
// (default 1000), which RDB's LZF cannot shrink. Backups go to /dev/null; restores
// read the archive from a file into an empty server.
//
//   ./node_modules/.bin/bun run bench/redis.ts
import { randomBytes } from "node:crypto";
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { RedisConnection } from "../plugins/redis/resp.ts";
import { startRedis, stopRedis } from "../test/helpers/redis.ts";

const KEYS = Number(process.env.BENCH_REDIS_KEYS ?? 1_000_000);
const VALUE = Number(process.env.BENCH_REDIS_VALUE ?? 1000);
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
} finally {
  await stopRedis();
}
