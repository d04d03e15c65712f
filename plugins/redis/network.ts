// The redis target over the network (no redis_data_dir): no access to the
// server's host is needed.
//
// Backup: the replication protocol, as a replica (and `redis-cli --rdb`) gets
// its first copy: SYNC, and the master streams an RDB of the whole data set.
// `REPLCONF rdb-only 1` (Redis 7+) tells it we want that RDB and nothing after.
// We do not offer `capa eof` (a diskless sync): a diskless master waits
// repl-diskless-sync-delay (5 s by default) for more replicas before it starts,
// whereas without it the master saves an RDB on its own disk (as BGSAVE does)
// and sends it with its length, so a stream cut short is always detected.
//
// Restore: replay every key into the running server: DUMP payloads through
// `RESTORE key ttl payload REPLACE`. An archive is an RDB, and only Redis reads
// RDB files completely (every encoding of every version, streams, modules'
// types); so the archive is loaded by a private `redis-server` this plugin starts
// on a unix socket in a temporary directory, and its keys are DUMPed from there.
// The cost: the archive is staged on this host's disk (in TMPDIR) and that
// server holds the data set in memory while it runs, and `redis-server` (of a
// version that reads the archive's RDB version) must be installed where the
// plugin runs. In return a broken or unreadable archive is refused before the
// target is touched: the private server loads and checks it all first.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExecFailure, PluginError, type ActionContext } from "../protocol.ts";
import { RDB_MAGIC, connect, where, type Config } from "./config.ts";
import { RedisConnection, RedisError, type Reply } from "./resp.ts";
import { stage } from "./stage.ts";

export async function backupNetwork(c: Config, ctx: ActionContext): Promise<void> {
  const conn = await connect(c);
  try {
    const rdbOnly = await conn.call("REPLCONF", "rdb-only", "1");
    if (rdbOnly instanceof RedisError && /NOPERM|NOAUTH/.test(rdbOnly.message)) throw new PluginError(`${conn.where} refused REPLCONF: ${rdbOnly.message}`);
    ctx.log(`redis: SYNC with ${conn.where}: the server saves an RDB and streams it`);
    conn.send(["SYNC"]);
    const writer = ctx.stdout.getWriter();
    let sent = 0;
    for await (const chunk of conn.rdbStream(c.timeout * 1000)) {
      if (sent === 0 && !chunk.subarray(0, RDB_MAGIC.byteLength).equals(RDB_MAGIC)) throw new PluginError(`${conn.where} sent something that is not an RDB file`);
      await writer.write(chunk);
      sent += chunk.byteLength;
    }
    if (sent === 0) throw new PluginError(`${conn.where} sent an empty RDB`);
    writer.releaseLock();
    ctx.log(`redis: received the whole RDB, ${sent} bytes`);
  } finally {
    conn.close();
  }
}

/** Keys DUMPed and RESTOREd per round trip. */
const BATCH = 1000;

interface Scratch {
  conn: RedisConnection;
  stop(): Promise<void>;
}

/** A private redis-server loading `dir/dump.rdb`, reachable only on a unix socket in `dir`. */
async function scratchServer(dir: string, databases: number, ctx: ActionContext): Promise<Scratch> {
  const bin = Bun.which("redis-server");
  if (!bin) throw new ExecFailure("a restore over the network needs redis-server on this host, to read the archive (an RDB): install it (Debian: apt install redis-server), or restore on the data host with redis_data_dir");
  const sock = join(dir, "redis.sock");
  const argv = [
    "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700", "--dir", dir, "--dbfilename", "dump.rdb",
    "--appendonly", "no", "--save", "", "--databases", String(databases), "--logfile", join(dir, "redis.log"),
    "--daemonize", "no", "--protected-mode", "no", "--maxmemory", "0",
  ];
  const proc = spawn(bin, argv, { stdio: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  let exited = false;
  proc.on("exit", () => { exited = true; });
  proc.on("error", () => { exited = true; });
  const kill = () => { if (!exited) proc.kill("SIGKILL"); };
  const unregister = ctx.onAbort(kill);
  const stop = async () => {
    unregister();
    kill();
    for (let i = 0; i < 50 && !exited; i++) await Bun.sleep(20);
  };
  const logTail = async () => (await readFile(join(dir, "redis.log"), "utf8").catch(() => "")).split("\n").filter(Boolean).slice(-3).join(" | ");
  for (;;) {
    if (exited) throw new PluginError(`the archive could not be loaded by redis-server: ${await logTail()}`);
    if (ctx.signal.aborted) { await stop(); throw new PluginError("stopped"); }
    try {
      const conn = await RedisConnection.open({ host: "", port: 0, path: sock, timeoutMs: 0 });
      const p = await conn.info("persistence");
      if (p.get("loading") === "0") return { conn, stop };
      conn.close();
    } catch { /* not up yet */ }
    await Bun.sleep(50);
  }
}

function fail(what: string, r: Reply): never {
  throw new PluginError(`${what}: ${(r as RedisError).message}`);
}

export async function restoreNetwork(c: Config, ctx: ActionContext): Promise<void> {
  // Reach the target before reading the archive: a wrong password fails at once.
  let target = await connect(c);
  const dir = await mkdtemp(join(tmpdir(), "shield-redis-restore-"));
  // Synchronous: a signal's undo work must be done before the process exits.
  const unregister = ctx.onAbort(() => { rmSync(dir, { recursive: true, force: true }); });
  let scratch: Scratch | undefined;
  try {
    const dbsSetting = await target.config("databases").catch(() => undefined);
    const databases = Number(dbsSetting ?? 16);
    // Receiving a big archive takes a while: the server's idle timeout must not cut us meanwhile.
    target.close();
    const size = await stage(ctx, join(dir, "dump.rdb"));
    ctx.log(`redis: received the RDB, ${size} bytes; loading it into a private redis-server`);
    // Room for any database the archive has: one the target lacks is refused below, by number.
    scratch = await scratchServer(dir, Math.max(databases, 256), ctx);
    const src = scratch.conn;
    const dbs = [...(await src.info("keyspace")).keys()].map((k) => Number(k.replace(/^db/, ""))).sort((a, b) => a - b);
    const tooHigh = dbs.filter((n) => n >= databases);
    if (tooHigh.length) throw new PluginError(`the archive has keys in database ${tooHigh.join(", ")}, but the Redis at ${where(c)} has only ${databases} databases (0-${databases - 1})`);

    // The archive is readable whole: now replace the data set.
    target = await connect(c);
    const flushed = await target.call("FLUSHALL");
    if (flushed instanceof RedisError) fail(`${target.where} refused FLUSHALL (emptying it before the restore)`, flushed);
    ctx.log(`redis: emptied every database of ${target.where}; restoring ${dbs.length} database(s)`);
    let total = 0;
    for (const db of dbs) {
      for (const [conn, name] of [[src, "the archive's server"], [target, target.where]] as const) {
        const r = await conn.call("SELECT", db);
        if (r instanceof RedisError) fail(`${name} refused SELECT ${db}`, r);
      }
      let cursor = "0";
      let count = 0;
      let unread = 0;
      /** Reads the replies of earlier RESTOREs, leaving the latest `keep` for later. */
      const settle = async (keep: number) => {
        for (; unread > keep; unread--) {
          const r = await target.reply();
          if (r instanceof RedisError) fail(`${target.where} refused RESTORE of a key in database ${db}`, r);
        }
      };
      do {
        const page = await src.must("SCAN", cursor, "COUNT", BATCH) as [Buffer, Buffer[]];
        cursor = page[0].toString();
        const keys = page[1];
        if (!keys.length) continue;
        src.send(...keys.flatMap((k) => [["DUMP", k], ["PTTL", k]]));
        // Payloads go on in writes of about a megabyte, so that memory holds that
        // (and the sockets' buffers), not a batch: a single value may be large.
        let restores = 0;
        let out: (string | Buffer | number)[][] = [];
        let outBytes = 0;
        const flush = async () => {
          if (!out.length) return;
          target.send(...out);
          out = [];
          outBytes = 0;
          await target.drained();
        };
        for (const k of keys) {
          const payload = await src.reply();
          const pttl = await src.reply();
          if (payload instanceof RedisError) fail(`the archive's server refused DUMP`, payload);
          // Gone since the SCAN (it expired): nothing to restore.
          if (payload === null || pttl === -2) continue;
          out.push(["RESTORE", k, typeof pttl === "number" && pttl > 0 ? pttl : 0, payload as Buffer, "REPLACE"]);
          outBytes += (payload as Buffer).byteLength + k.byteLength;
          restores++;
          if (outBytes >= 1 << 20) await flush();
        }
        await flush();
        // The replies are read a batch later: the target works on one batch while we fetch the next.
        unread += restores;
        await settle(restores);
        count += restores;
      } while (cursor !== "0");
      await settle(0);
      ctx.log(`redis: database ${db}: ${count} keys`);
      total += count;
    }
    ctx.log(`redis: restored ${total} keys into ${target.where}`);
  } finally {
    target.close();
    scratch?.conn.close();
    await scratch?.stop();
    await rm(dir, { recursive: true, force: true });
    unregister();
  }
}
