// The redis target on the data host (redis_data_dir set): the backup is the
// server's own RDB file after a fresh BGSAVE; the restore replaces the files the
// server starts from, with the server stopped and started by the endpoint's
// commands.
import { spawn } from "node:child_process";
import { renameSync, rmSync } from "node:fs";
import { chown, link, mkdir, open, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { exec, PluginError, type ActionContext } from "../protocol.ts";
import { stage } from "./stage.ts";
import { RDB_MAGIC, connect, where, type Config } from "./config.ts";
import { ConnectionError, RedisConnection, RedisError } from "./resp.ts";

/** What the server says about where it keeps its data. */
export interface Layout {
  dir: string;
  rdb: string;
  appendonly: boolean;
  /** Redis 7+: the directory of the AOF's base and increment files, with their manifest. */
  aofDir?: string;
  /** Before 7: the one AOF file. */
  aofFile?: string;
  /** The AOF's files are named after this (appendfilename). */
  aofName: string;
}

function inside(path: string, dir: string): boolean {
  return dir === "/" || path === dir || path.startsWith(dir + "/");
}

/** The server's data files, each refused unless it lies inside redis_data_dir (symlinks followed). */
export async function layout(conn: RedisConnection, c: Config): Promise<Layout> {
  const dir = await conn.config("dir");
  const dbfilename = await conn.config("dbfilename");
  if (!dir || !dbfilename) throw new PluginError(`${conn.where} did not tell its data directory (CONFIG GET dir, dbfilename): the endpoint's user needs the CONFIG command`);
  const appendonly = (await conn.config("appendonly")) === "yes";
  const aofName = (await conn.config("appendfilename")) ?? "appendonly.aof";
  const aofDirName = await conn.config("appenddirname");
  const l: Layout = { dir, rdb: join(dir, dbfilename), appendonly, aofName };
  if (aofDirName) l.aofDir = join(dir, aofDirName);
  else l.aofFile = join(dir, aofName);
  const allowed = await realpath(c.dataDir!).catch(() => {
    throw new PluginError(`redis_data_dir ${c.dataDir} does not exist or cannot be read here`);
  });
  const real = await realpath(dir).catch(() => {
    throw new PluginError(`the server's data directory ${dir} (CONFIG GET dir) does not exist on this host: is redis_data_dir the data directory of the Redis at ${where(c)}, and does this run on its host?`);
  });
  if (!inside(real, allowed)) throw new PluginError(`the server keeps its data in ${dir}${real !== dir ? ` (${real})` : ""}, outside redis_data_dir ${c.dataDir}`);
  for (const p of [l.rdb, l.aofDir ?? l.aofFile!]) {
    if (dirname(p) !== dir) throw new PluginError(`the server's file ${p} is not directly in its data directory ${dir}`);
    const r = await realpath(p).catch(() => undefined);
    if (r !== undefined && !inside(r, allowed)) throw new PluginError(`${p} leads to ${r}, outside redis_data_dir ${c.dataDir}`);
  }
  return l;
}

async function lastSave(conn: RedisConnection): Promise<number> {
  return Number(await conn.must("LASTSAVE"));
}

async function serverTime(conn: RedisConnection): Promise<number> {
  const t = await conn.must("TIME");
  return Number((t as Buffer[])[0]);
}

/** Waits while a save runs: however long it takes (a big data set), as long as the server is saving. */
async function waitForSave(conn: RedisConnection, ctx: ActionContext): Promise<void> {
  for (;;) {
    const p = await conn.info("persistence");
    if (p.get("rdb_bgsave_in_progress") === "0") return;
    if (ctx.signal.aborted) throw new PluginError("stopped");
    await Bun.sleep(100);
  }
}

/** BGSAVE, then wait until LASTSAVE moves past the time before it and no save runs. */
async function freshSave(conn: RedisConnection, c: Config, ctx: ActionContext): Promise<void> {
  let deadline = Date.now() + c.timeout * 1000;
  // LASTSAVE counts whole seconds: a save finishing in the second of the last one could not be told from it.
  while ((await lastSave(conn)) >= (await serverTime(conn))) await Bun.sleep(100);
  const before = await lastSave(conn);
  let started = false;
  for (;;) {
    // SCHEDULE: while the AOF is being rewritten, the save starts right after.
    const r = await conn.call("BGSAVE", "SCHEDULE");
    if (!(r instanceof RedisError)) { started = /started/i.test(String(r)); break; }
    if (!/already in progress/i.test(r.message)) throw new PluginError(`${conn.where} refused BGSAVE: ${r.message}`);
    // Someone else's save, which may have started before the data we must include: wait, then ask for ours.
    await waitForSave(conn, ctx);
    if (Date.now() > deadline) throw new PluginError(`${conn.where} kept refusing BGSAVE for ${c.timeout} s (redis_timeout): ${r.message}`);
  }
  ctx.log(`redis: BGSAVE ${started ? "started" : "scheduled"} on ${conn.where}`);
  for (;;) {
    const p = await conn.info("persistence");
    const saving = p.get("rdb_bgsave_in_progress") === "1";
    // A save that runs may take as long as it needs; one that never started may not.
    if (saving) { started = true; deadline = Date.now() + c.timeout * 1000; }
    // Once ours started and no save runs, the last status is our save's.
    if (started && !saving) {
      if (p.get("rdb_last_bgsave_status") !== "ok") throw new PluginError(`${conn.where}'s BGSAVE failed (rdb_last_bgsave_status: ${p.get("rdb_last_bgsave_status")}); its log says why`);
      if ((await lastSave(conn)) > before) return;
    }
    if (Date.now() > deadline) throw new PluginError(`${conn.where}'s BGSAVE did not ${started ? "finish" : "start"} within ${c.timeout} s (redis_timeout)`);
    if (ctx.signal.aborted) throw new PluginError("stopped");
    await Bun.sleep(100);
  }
}

const CHUNK = 1 << 20;

export async function backupLocal(c: Config, ctx: ActionContext): Promise<void> {
  const conn = await connect(c);
  let file;
  try {
    const l = await layout(conn, c);
    await freshSave(conn, c, ctx);
    // Opened once: a later save renames a new file over the name, and this one stays whole.
    file = await open(l.rdb, "r").catch((err) => { throw new PluginError(`cannot read the RDB file ${l.rdb}: ${err.message}`); });
    ctx.log(`redis: streaming ${l.rdb}`);
  } finally {
    conn.close();
  }
  try {
    const size = (await file.stat()).size;
    const writer = ctx.stdout.getWriter();
    let sent = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await file.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      if (sent === 0 && !buf.subarray(0, RDB_MAGIC.byteLength).equals(RDB_MAGIC)) throw new PluginError("the server's RDB file does not start like an RDB file");
      await writer.write(buf.subarray(0, bytesRead));
      sent += bytesRead;
    }
    if (sent !== size) throw new PluginError(`the RDB file changed size while it was read (${sent} of ${size} bytes)`);
    writer.releaseLock();
    ctx.log(`redis: sent the RDB file, ${sent} bytes`);
  } finally {
    await file.close();
  }
}

/** A command of the endpoint, through sh -c, with the timeout; its output goes to the task log. */
async function runCmd(field: string, cmd: string, c: Config, ctx: ActionContext): Promise<void> {
  ctx.log(`redis: running ${field}`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "SHIELD_ENDPOINT") env[k] = v;
  const timer = AbortSignal.timeout(c.timeout * 1000);
  const signal = AbortSignal.any([ctx.signal, timer]);
  try {
    const r = await exec(["/bin/sh", "-c", cmd], { stdout: "pipe", stderr: "pipe", env, signal });
    for (const line of (r.stdout + r.stderr).split("\n")) if (line.trim()) ctx.log(`${field}: ${line}`);
  } catch (err) {
    if (timer.aborted) throw new PluginError(`${field} did not finish within ${c.timeout} s (redis_timeout)`);
    throw new PluginError(`${field} failed: ${(err as Error).message.replace(/^sh /, "")}`);
  }
}

/** Polls until the server answers (and has loaded its data) or, with `up` false, until it no longer does. */
async function waitServer(c: Config, up: boolean, ctx: ActionContext): Promise<RedisConnection | undefined> {
  let deadline = Date.now() + c.timeout * 1000;
  let last = "";
  for (;;) {
    if (ctx.signal.aborted) throw new PluginError("stopped");
    try {
      const conn = await connect(c, 2000);
      if (!up) {
        conn.close();
      } else {
        const p = await conn.info("persistence");
        if (p.get("loading") === "0") return conn;
        conn.close();
        last = "still loading";
        // Loading a big data set takes its time: the timeout counts from the last progress.
        deadline = Date.now() + c.timeout * 1000;
      }
    } catch (err) {
      if (!up && err instanceof ConnectionError) return undefined;
      last = (err as Error).message;
      // LOADING replies come as errors too; anything else (WRONGPASS) is final only once the server is up.
    }
    if (Date.now() > deadline) {
      throw new PluginError(up ? `the Redis at ${where(c)} did not come back within ${c.timeout} s after redis_start_cmd (${last})` : `the Redis at ${where(c)} still answers ${c.timeout} s after redis_stop_cmd`);
    }
    await Bun.sleep(200);
  }
}

/** Moves `path` to `path.shield-before-restore` (replacing an older one); tells whether there was anything. */
async function setAside(path: string): Promise<boolean> {
  const exists = await stat(path).then(() => true, () => false);
  await rm(`${path}.shield-before-restore`, { recursive: true, force: true });
  if (exists) await rename(path, `${path}.shield-before-restore`);
  return exists;
}

/**
 * The restore on the data host. The archive is written next to the server's
 * files first (the server loads a file; this is the one copy on disk the plugin
 * must make), so a stream that fails leaves the server untouched. Then: stop the
 * server, set its RDB and AOF aside, put the archive in their place, start it.
 *
 * A server with appendonly yes loads its AOF, not the RDB, at start, and one whose
 * AOF is missing starts empty. So the archive also becomes the AOF: Redis 7's AOF
 * directory is a manifest naming a base file, which may be an RDB, plus increment
 * files; a fresh directory whose only file is the archive as the base is what a
 * rewrite of the restored data would have left, and the server appends its new
 * writes to an increment file it creates at start. (Before Redis 7, the single
 * AOF file may begin with an RDB preamble: the archive is that file.) No setting
 * of the server changes, so its own start command, config file and supervisor work
 * as they are.
 *
 * Failing after the stop, the previous files are put back and the server started
 * again; the set-aside files are removed only after a successful start.
 */
export async function restoreLocal(c: Config, ctx: ActionContext): Promise<void> {
  const conn = await connect(c);
  let l: Layout;
  let version: string;
  try {
    l = await layout(conn, c);
    version = (await conn.info("server")).get("redis_version") ?? "?";
  } finally {
    conn.close();
  }
  const dirStat = await stat(l.dir);
  const staged = join(l.dir, `.shield-restore-${process.pid}.rdb`);
  const stagedAof = join(l.dir, `.shield-restore-${process.pid}.aof`);
  const cleanStaged = () => Promise.all([rm(staged, { force: true }), rm(stagedAof, { recursive: true, force: true })]);
  const unregister = ctx.onAbort(() => { rmSync(staged, { force: true }); rmSync(stagedAof, { recursive: true, force: true }); });
  try {
    const size = await stage(ctx, staged);
    ctx.log(`redis: received the RDB, ${size} bytes, into ${staged}`);
    // The server runs as its own user: what it will read must be its, as the directory is.
    const own = async (p: string) => { if (process.getuid?.() === 0) await chown(p, dirStat.uid, dirStat.gid); };
    await own(staged);
    if (l.appendonly) {
      if (l.aofDir) {
        const base = `${l.aofName}.1.base.rdb`;
        await mkdir(stagedAof, { mode: 0o750 });
        await link(staged, join(stagedAof, base));
        await writeFile(join(stagedAof, `${l.aofName}.manifest`), `file ${base} seq 1 type b\n`, { mode: 0o640 });
        for (const f of ["", base, `${l.aofName}.manifest`]) await own(join(stagedAof, f));
      } else {
        await link(staged, stagedAof);
      }
    }

    // Canceled while the server is down (stopping, or stopped with its files set
    // aside): its previous files go back, and it is started by a command in a
    // session of its own, which the cancel (killing this plugin's process group)
    // does not reach.
    const aof = l.aofDir ?? l.aofFile!;
    let down = true;
    let hadRdb = false;
    let hadAof = false;
    let swapped = false;
    const undoSwap = ctx.onAbort(() => {
      if (!down) return;
      try {
        if (swapped) {
          rmSync(l.rdb, { force: true });
          rmSync(aof, { recursive: true, force: true });
          if (hadRdb) renameSync(`${l.rdb}.shield-before-restore`, l.rdb);
          if (hadAof) renameSync(`${aof}.shield-before-restore`, aof);
        }
        spawn("/bin/sh", ["-c", c.startCmd!], { detached: true, stdio: "ignore" }).unref();
        ctx.log(`redis: canceled while the server was ${swapped ? "stopped: its previous files are back, and" : "stopping:"} redis_start_cmd was started`);
      } catch (err) {
        ctx.log(`redis: canceled while the server was stopped, and putting its previous files back failed: ${(err as Error).message}`);
      }
    });
    await runCmd("redis_stop_cmd", c.stopCmd!, c, ctx);
    await waitServer(c, false, ctx);
    ctx.log(`redis: the server at ${where(c)} is stopped`);
    hadRdb = await setAside(l.rdb);
    hadAof = await setAside(aof);
    swapped = true;
    try {
      await rename(staged, l.rdb);
      if (l.appendonly) await rename(stagedAof, aof);
      down = false;
      await runCmd("redis_start_cmd", c.startCmd!, c, ctx);
      const up = (await waitServer(c, true, ctx))!;
      try {
        const p = await up.info("persistence");
        const keyspace = await up.info("keyspace");
        const keys = [...keyspace].map(([db, v]) => `${db} ${/keys=(\d+)/.exec(v)?.[1] ?? "?"}`).join(", ") || "none";
        ctx.log(`redis: the server is back${l.appendonly ? " with its AOF rebuilt from the archive" : ""}; keys: ${keys}`);
        if (l.appendonly && p.get("aof_enabled") !== "1") throw new PluginError("the server came back with appendonly off, unlike before: check its configuration");
      } finally {
        up.close();
      }
    } catch (err) {
      ctx.log(`redis: ${(err as Error).message}; putting the previous data back`);
      try {
        await runCmd("redis_stop_cmd", c.stopCmd!, c, ctx).catch(() => {});
        await waitServer(c, false, ctx);
        await rm(l.rdb, { force: true });
        await rm(aof, { recursive: true, force: true });
        if (hadRdb) await rename(`${l.rdb}.shield-before-restore`, l.rdb);
        if (hadAof) await rename(`${aof}.shield-before-restore`, aof);
        await runCmd("redis_start_cmd", c.startCmd!, c, ctx);
        (await waitServer(c, true, ctx))!.close();
        ctx.log("redis: the previous data set is back and the server runs");
      } catch (again) {
        undoSwap();
        throw new PluginError(`${(err as Error).message}; putting the previous data back failed too (${(again as Error).message}): the previous files are ${l.rdb}.shield-before-restore${hadAof ? ` and ${aof}.shield-before-restore` : ""}`);
      }
      throw err;
    }
    undoSwap();
    await rm(`${l.rdb}.shield-before-restore`, { force: true });
    await rm(`${aof}.shield-before-restore`, { recursive: true, force: true });
    ctx.log(`redis: restored the Redis ${version} at ${where(c)}`);
  } finally {
    await cleanStaged();
    unregister();
  }
}
