// The mysql target, physical (mysql_mode "physical"): MariaDB's own hot backup,
// `mariabackup --backup --stream=xbstream`, read from the server's data directory
// on the database host, and restored by preparing the copy and putting it in the
// data directory's place with the server stopped.
//
// It runs where the data directory is: through a `shield agent` on the database
// host (the target's agent), or a Shield that runs on that host itself. Either way
// the plugin checks that the server's @@datadir is mysql_data_dir and exists here,
// and says to use an agent when it is not, rather than copying another directory.
//
// An archive is the xbstream as mariabackup writes it (`mbstream -x` unpacks it
// by hand, `mariabackup --prepare` makes it a data directory), so nothing of
// Shield is needed to read it back.
//
// The password: mariabackup reads its option file several times while it starts,
// which a pipe (the logical mode's way, client.ts) cannot serve, so it gets a 0600
// file in a private 0700 directory, removed as soon as the tool ends. Never an
// argument, never the environment.
import { spawn } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { chown, mkdir, realpath, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { exec, ExecFailure, PluginError, type ActionContext } from "../protocol.ts";
import { optionFile, toolEnv, type Connection } from "./client.ts";
import { sniff } from "./stream.ts";

export interface PhysicalConfig {
  conn: Connection;
  /** The server's data directory on this host (mysql_data_dir). */
  dataDir: string;
  stopCmd?: string;
  startCmd?: string;
  bindir?: string;
  /** Seconds the stop and start commands, and the server's going and coming, may take. */
  timeout: number;
}

/** Runs SQL (through the caller's client); throws with the server's words. */
export type Query = (sql: string) => Promise<string[][]>;

const BACKUP_TOOLS = ["mariabackup", "mariadb-backup"];

function find(names: string[], bindir?: string): string | undefined {
  for (const n of names) {
    const at = Bun.which(n, bindir ? { PATH: bindir } : undefined);
    if (at) return bindir ? join(bindir, n) : at;
  }
  return undefined;
}

/** mariabackup and mbstream, from mysql_bindir or PATH. */
export function physicalTools(bindir?: string): { backup: string; mbstream: string } {
  const where = bindir ? `in ${bindir}` : "on PATH (Debian: apt install mariadb-backup)";
  const backup = find(BACKUP_TOOLS, bindir);
  if (!backup) throw new ExecFailure(`cannot find mariabackup ${where}`);
  const mbstream = find(["mbstream"], bindir);
  if (!mbstream) throw new ExecFailure(`cannot find mbstream ${where}`);
  return { backup, mbstream };
}

/** mariabackup's version line, for `test`. */
export async function mariabackupVersion(bindir?: string): Promise<string> {
  const t = physicalTools(bindir);
  const r = await exec([t.backup, "--version"], { stdout: "pipe", stderr: "pipe", env: toolEnv() });
  return (r.stdout + r.stderr).trim().split("\n").pop() ?? "?";
}

/**
 * Runs mariabackup; its chatter (hundreds of lines) stays out of the task log
 * unless it fails, when its error lines are the failure's words.
 */
async function mariabackup(argv: string[], ctx: ActionContext, opts: { stdout?: "inherit" | "ignore" | number; options?: string } = {}): Promise<string> {
  const dir = opts.options !== undefined ? mkdtempSync(join(tmpdir(), "shield-mariabackup-")) : undefined;
  const undo = dir ? ctx.onAbort(() => rmSync(dir, { recursive: true, force: true })) : () => {};
  try {
    const args = [...argv];
    if (dir) {
      const file = join(dir, "client.cnf");
      writeFileSync(file, opts.options!, { mode: 0o600 });
      // Where a streamed backup keeps its few files of bookkeeping (it must not be the cwd).
      args.splice(1, 0, `--defaults-file=${file}`);
      args.push(`--target-dir=${join(dir, "target")}`, `--tmpdir=${dir}`);
    }
    const r = await exec(args, {
      stdout: opts.stdout ?? "ignore", stderr: "pipe", env: toolEnv(), signal: ctx.signal,
      okCodes: Array.from({ length: 255 }, (_, i) => i + 1),
    });
    if (r.code !== 0) {
      const lines = r.stderr.split("\n").filter((l) => l.trim());
      const errors = lines.filter((l) => /error|fail|denied|cannot|can't|unknown/i.test(l)).slice(-4);
      throw new ExecFailure(`${basename(argv[0]!)} ${argv[1] ?? ""} failed (exit ${r.code}): ${(errors.length ? errors : lines.slice(-3)).join(" / ") || "no message"}`);
    }
    return r.stderr;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
    undo();
  }
}

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith("/") ? dir : dir + "/");
}

/** The server's data directory, which must be mysql_data_dir on this very host. */
async function serverDataDir(c: PhysicalConfig, q: Query): Promise<{ dir: string; version: string; pidFile?: string }> {
  const [[version = "?", dir = "", pidFile] = []] = await q("SELECT VERSION(), @@datadir, @@pid_file");
  if (!/mariadb/i.test(version)) {
    throw new PluginError(`the server is ${version}, not MariaDB: physical mode runs mariabackup, which backs up MariaDB (for MySQL, use mysql_mode "logical")`);
  }
  const real = await realpath(dir).catch(() => undefined);
  if (real === undefined) {
    throw new PluginError(`the server's data directory ${dir} is not on this host: physical mode must run on the database host; set the target's agent to the shield agent there`);
  }
  const allowed = await realpath(c.dataDir).catch(() => {
    throw new PluginError(`mysql_data_dir ${c.dataDir} does not exist on this host: physical mode must run on the database host; set the target's agent to the shield agent there`);
  });
  if (real !== allowed) throw new PluginError(`the server keeps its data in ${dir}${real !== dir.replace(/\/$/, "") ? ` (${real})` : ""}, not in mysql_data_dir ${c.dataDir}`);
  return { dir: real, version, pidFile: pidFile || undefined };
}

export async function backupPhysical(c: PhysicalConfig, ctx: ActionContext, q: Query): Promise<void> {
  const t = physicalTools(c.bindir);
  const { dir, version } = await serverDataDir(c, q);
  ctx.log(`mysql: physical backup of ${dir} (MariaDB ${version}) with ${t.backup} --backup --stream=xbstream`);
  const log = await mariabackup([t.backup, "--backup", "--stream=xbstream", `--datadir=${dir}`], ctx, { stdout: ctx.stdoutFd ?? "inherit", options: optionFile(c.conn, true) });
  const lsn = /Redo log \(from LSN (\d+) to (\d+)\) was copied/.exec(log);
  ctx.log(`mysql: mariabackup completed OK${lsn ? ` (redo log from LSN ${lsn[1]} to ${lsn[2]})` : ""}`);
}

/** A command of the endpoint, through sh -c, with the timeout; its output goes to the task log. */
async function runCmd(field: string, cmd: string, c: PhysicalConfig, ctx: ActionContext): Promise<void> {
  ctx.log(`mysql: running ${field}`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(toolEnv())) env[k] = v;
  const timer = AbortSignal.timeout(c.timeout * 1000);
  try {
    const r = await exec(["/bin/sh", "-c", cmd], { stdout: "pipe", stderr: "pipe", env, signal: AbortSignal.any([ctx.signal, timer]) });
    for (const line of (r.stdout + r.stderr).split("\n")) if (line.trim()) ctx.log(`${field}: ${line}`);
  } catch (err) {
    if (timer.aborted) throw new PluginError(`${field} did not finish within ${c.timeout} s`);
    throw new PluginError(`${field} failed: ${(err as Error).message.replace(/^sh /, "")}`);
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === "EPERM"; }
}

/**
 * Waits until the server answers (up) or is gone (down). Down means its process
 * has exited, not only that it stopped answering: InnoDB writes until the very
 * end of a shutdown, and its files must not be moved before.
 */
async function waitServer(up: boolean, pid: number | undefined, c: PhysicalConfig, ctx: ActionContext, q: Query): Promise<void> {
  const deadline = Date.now() + c.timeout * 1000;
  let last = "";
  for (;;) {
    if (ctx.signal.aborted) throw new PluginError("stopped");
    if (!up && pid !== undefined) {
      if (!alive(pid)) return;
    } else {
      const answered = await q("SELECT 1").then(() => true, (err: Error) => {
        last = err.message;
        // Refused credentials come from a server that is up (the restored accounts may differ).
        return /ERROR 1045|Access denied/.test(last);
      });
      if (answered === up) {
        if (up && last) ctx.log(`mysql: the server is up, but refuses the endpoint's credentials now: ${last}`);
        return;
      }
    }
    if (Date.now() > deadline) {
      throw new PluginError(up ? `the server did not answer within ${c.timeout} s after mysql_start_cmd (${last})` : `the server (pid ${pid ?? "?"}) was still running ${c.timeout} s after mysql_stop_cmd`);
    }
    await Bun.sleep(200);
  }
}

async function readPid(pidFile: string | undefined, dir: string): Promise<number | undefined> {
  if (!pidFile) return undefined;
  const text = await Bun.file(pidFile.startsWith("/") ? pidFile : join(dir, pidFile)).text().catch(() => "");
  const n = Number(text.trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * The restore on the database host:
 * 1. the archive is unpacked (`mbstream -x`) into a staging directory beside the
 *    data directory (the same file system, so the copy-back is a move) and
 *    prepared (`mariabackup --prepare`): a damaged archive fails here, with the
 *    server untouched;
 * 2. the server is stopped with mysql_stop_cmd, and waited for until its process
 *    has exited;
 * 3. the data directory is set aside (DIR.shield-before-restore), a new empty one
 *    made with its owner and mode, `mariabackup --move-back` fills it, and what it
 *    holds is given to the data directory's owner;
 * 4. the server is started with mysql_start_cmd and waited for.
 * A failure after step 2 puts the previous data directory back and starts the
 * server again; the set-aside directory is removed only after a successful start.
 */
export async function restorePhysical(c: PhysicalConfig, ctx: ActionContext, q: Query): Promise<void> {
  const t = physicalTools(c.bindir);
  const { what, stream } = await sniff(ctx.stdin);
  if (what.kind === "empty") throw new PluginError("nothing to restore: the input is empty");
  if (what.kind !== "xbstream") {
    await stream.cancel().catch(() => {});
    throw new PluginError(`this archive is not a physical one (mariabackup's xbstream) but ${what.kind === "shield" ? "a logical (SQL) one" : "something else"}: restore it with mysql_mode "logical"`);
  }
  const { dir, version, pidFile } = await serverDataDir(c, q);
  const dirStat = await stat(dir);
  const staging = join(dirname(dir), `.shield-restore-${basename(dir)}-${process.pid}`);
  const aside = `${dir}.shield-before-restore`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { mode: 0o700 });
  const unstage = ctx.onAbort(() => rmSync(staging, { recursive: true, force: true }));
  try {
    ctx.log(`mysql: unpacking the archive into ${staging}`);
    await exec([t.mbstream, "-x", "-C", staging], { stdin: stream, stdout: "ignore", stderr: "pipe", env: toolEnv(), signal: ctx.signal });
    ctx.log("mysql: preparing it (mariabackup --prepare)");
    await mariabackup([t.backup, "--prepare", `--target-dir=${staging}`], ctx);

    const pid = await readPid(pidFile, dir);
    // Canceled while the server is down: its previous data directory goes back and
    // the start command is run in a session of its own, which the cancel (killing
    // this plugin's process group) does not reach.
    let down = false;
    let swapped = false;
    const undoSwap = ctx.onAbort(() => {
      if (!down) return;
      try {
        if (swapped) {
          rmSync(dir, { recursive: true, force: true });
          renameSync(aside, dir);
        }
        spawn("/bin/sh", ["-c", c.startCmd!], { detached: true, stdio: "ignore" }).unref();
        ctx.log(`mysql: canceled while the server was down: ${swapped ? "its previous data directory is back, and " : ""}mysql_start_cmd was started`);
      } catch (err) {
        ctx.log(`mysql: canceled while the server was down, and putting its data directory back failed: ${(err as Error).message}`);
      }
    });
    down = true;
    await runCmd("mysql_stop_cmd", c.stopCmd!, c, ctx);
    await waitServer(false, pid, c, ctx, q);
    ctx.log(`mysql: the server is stopped; setting ${dir} aside as ${aside}`);
    await rm(aside, { recursive: true, force: true });
    await rename(dir, aside);
    swapped = true;
    try {
      await mkdir(dir, { mode: dirStat.mode & 0o7777 });
      await mariabackup([t.backup, "--move-back", `--target-dir=${staging}`, `--datadir=${dir}`], ctx);
      // mariabackup wrote the files as this process's user; the server runs as the directory's owner.
      if (process.getuid?.() === 0) {
        await chown(dir, dirStat.uid, dirStat.gid);
        await exec(["chown", "-R", "--", `${dirStat.uid}:${dirStat.gid}`, dir], { stdout: "ignore", stderr: "pipe", env: toolEnv() });
      }
      down = false;
      await runCmd("mysql_start_cmd", c.startCmd!, c, ctx);
      await waitServer(true, undefined, c, ctx, q);
    } catch (err) {
      ctx.log(`mysql: ${(err as Error).message}; putting the previous data directory back`);
      try {
        down = true;
        await runCmd("mysql_stop_cmd", c.stopCmd!, c, ctx).catch(() => {});
        // Whatever the failed start left running must be gone before the directory is swapped back.
        const started = await readPid(pidFile, dir);
        await waitServer(false, started, c, ctx, q);
        await rm(dir, { recursive: true, force: true });
        await rename(aside, dir);
        swapped = false;
        down = false;
        await runCmd("mysql_start_cmd", c.startCmd!, c, ctx);
        await waitServer(true, undefined, c, ctx, q);
        ctx.log("mysql: the previous data directory is back and the server runs");
      } catch (again) {
        undoSwap();
        throw new PluginError(`${(err as Error).message}; putting the previous data directory back failed too (${(again as Error).message})${swapped ? `: the previous data directory is ${aside}` : ""}`);
      }
      undoSwap();
      throw err;
    }
    undoSwap();
    await rm(aside, { recursive: true, force: true });
    ctx.log(`mysql: restored the data directory ${dir} (the server was MariaDB ${version}) and the server runs`);
  } finally {
    await rm(staging, { recursive: true, force: true });
    unstage();
  }
}
