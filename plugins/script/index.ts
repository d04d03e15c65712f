// The script target: a directory of scripts run in the phases of the
// osb-backup-agent lifecycle (lifecycle.ts), for services that ship their own
// backup scripts (a BOSH release's backup-agent job, a home-grown dump).
//
// The endpoint: `script_dir` (the scripts), `script_backup_to` ("stdout": the
// backup script writes the archive to its stdout; "file": it leaves one file in
// $SHIELD_BACKUP_DIR, which the plugin streams, then removes), `script_restore_from`
// ("stdin", or "file": the archive is written to $SHIELD_RESTORE_FILE first),
// `script_work_dir` (where those files go; default the system's temp dir). Every
// other top-level value (host, user, password, database, anything else simple)
// is given to every script as an environment variable of the same name: a
// password travels in the environment only, never in an argument, and nothing
// here prints it.
//
// Output: the task log is this plugin's stderr. The backup phase's stdout is the
// archive (stdout mode), so every other phase's stdout goes to stderr, into the
// task log with its stderr.
//
// Cancel: a SIGTERM stops the running phase and then runs what is owed (cleanup,
// unlock) before the plugin exits (ctx.onAbort waits for it). What it cannot
// survive: a SIGKILL. The daemon's cancel signals the stage's whole process group
// with SIGTERM and, 500 ms later (src/pipeline/stage.ts, KILL_GRACE_MS), SIGKILL:
// an unlock that takes longer is cut; and a daemon that dies outright has its
// stages killed with SIGKILL at once (guard.ts). An unlock script should be quick,
// and a lock should expire on its own where the service allows it.
import { createWriteStream, lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERSION } from "../../src/version.ts";
import { looksSecret } from "../../src/secret-names.ts";
import { checkToolDir, confine, endpointPath } from "../confine.ts";
import { EndpointInvalid, PluginError, type ActionContext, type Plugin } from "../protocol.ts";
import {
  BACKUP_PHASES, RESTORE_PHASES, ScriptProblem, baseEnv, envNameProblem, findScripts, runLifecycle,
  type Kind, type Phase, type PhaseOutcome,
} from "./lifecycle.ts";

interface Config {
  dir: string;
  backupTo: "stdout" | "file";
  restoreFrom: "stdin" | "file";
  workDir: string;
  /** The endpoint's simple values, as the scripts see them. */
  vars: Record<string, string>;
}

function choice<T extends string>(ctx: ActionContext, field: string, values: readonly T[]): T {
  const v = ctx.endpoint[field];
  if (v === undefined || v === null || v === "") return values[0]!;
  if (typeof v === "string" && (values as readonly string[]).includes(v)) return v as T;
  throw new EndpointInvalid(field, `must be one of ${values.join(", ")}`);
}

function config(ctx: ActionContext): Config {
  const e = ctx.endpoint;
  const dir = endpointPath(e, "script_dir", { required: true });
  const workDir = endpointPath(e, "script_work_dir") ?? tmpdir();
  if (e.script_work_dir) confine("script_work_dir", workDir, ctx.allowPaths);
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k.startsWith("script_") || v === undefined || v === null) continue;
    const bad = envNameProblem(k);
    if (bad) throw new EndpointInvalid(k, bad);
    if (typeof v === "object") throw new EndpointInvalid(k, "must be a simple value (text, number or true/false): it becomes an environment variable");
    vars[k] = String(v);
  }
  return {
    dir,
    backupTo: choice(ctx, "script_backup_to", ["stdout", "file"] as const),
    restoreFrom: choice(ctx, "script_restore_from", ["stdin", "file"] as const),
    workDir,
    vars,
  };
}

/**
 * The scripts for `kind`, checked like any directory of tools (owned by root or
 * Shield's user, writable by nobody else, outside the allowed data paths: an
 * operator must not choose what runs) and as a lifecycle (lifecycle.ts).
 */
function scripts(ctx: ActionContext, c: Config, kind: Kind): Map<Phase, string> {
  const phases = kind === "backup" ? BACKUP_PHASES : RESTORE_PHASES;
  checkToolDir("script_dir", c.dir, { required: [kind], optional: phases.filter((p) => p !== kind) }, ctx.allowPaths);
  try {
    return findScripts(c.dir, kind);
  } catch (err) {
    if (err instanceof ScriptProblem) throw new EndpointInvalid("script_dir", err.message);
    throw err;
  }
}

/** Both lifecycles' scripts, for validate and test: whichever is there must be usable; one of them must be. */
function anyScripts(ctx: ActionContext, c: Config): string[] {
  const lines: string[] = [];
  for (const kind of ["backup", "restore"] as const) {
    let found: Map<Phase, string>;
    try {
      found = scripts(ctx, c, kind);
    } catch (err) {
      // A missing action script only means this lifecycle is not offered.
      if (err instanceof EndpointInvalid && new RegExp(`holds no ${kind}$|no "${kind}" script`).test(err.message)) {
        lines.push(`${kind}: no "${kind}" script: not offered`);
        continue;
      }
      throw err;
    }
    lines.push(`${kind}: ${[...found.keys()].join(", ")}`);
  }
  if (lines.every((l) => l.endsWith("not offered"))) throw new EndpointInvalid("script_dir", `${c.dir} has neither a "backup" nor a "restore" script`);
  return lines;
}

function envLines(c: Config): string[] {
  return Object.keys(c.vars).sort().map((k) => `  ${k}: ${looksSecret(k) ? "(set)" : c.vars[k]}`);
}

function logOutcome(ctx: ActionContext, o: PhaseOutcome): void {
  ctx.log(`script: ${o.phase} ${o.signal ? `killed by ${o.signal}` : o.code === 0 ? "done" : `failed (exit ${o.code})`}`);
}

function workDir(c: Config, what: string): string {
  return mkdtempSync(join(c.workDir, `shield-script-${what}-`));
}

/** The one file the backup phase left in `dir`: anything else is a mistake the task must show. */
function theFile(dir: string): string {
  const names = readdirSync(dir);
  if (names.length !== 1) {
    throw new PluginError(`the backup phase must leave exactly one file in $SHIELD_BACKUP_DIR; it left ${names.length ? names.join(", ") : "none"}`);
  }
  const path = join(dir, names[0]!);
  if (!lstatSync(path).isFile()) throw new PluginError(`the backup phase left ${names[0]} in $SHIELD_BACKUP_DIR, which is not a regular file`);
  return path;
}

/** Runs a lifecycle; on a signal, the process waits for its cleanup and unlock (and `undo`) before exiting. */
async function lifecycle(ctx: ActionContext, run: Promise<void>, undo: () => void): Promise<void> {
  const unregister = ctx.onAbort(() => run.catch(() => {}).finally(undo));
  try {
    await run;
  } finally {
    unregister();
    undo();
  }
}

export const script: Plugin = {
  info: {
    name: "script",
    author: "Shield",
    version: VERSION,
    features: { target: "yes", store: "no" },
    endpoint_from: "env",
    fields: [
      { name: "script_dir", type: "abspath", title: "Script directory", required: true, example: "/var/vcap/jobs/backup-agent/backup",
        help: "Holds the phase scripts: pre-backup-lock, pre-backup-check, backup, backup-cleanup, post-backup-unlock, pre-restore-lock, restore, restore-cleanup, post-restore-unlock. Only backup (or restore) is required; missing phases are skipped." },
      { name: "script_backup_to", type: "enum", title: "Backup output", required: false, default: "stdout", enum: ["stdout", "file"],
        help: "stdout: the backup script writes the archive to its stdout. file: it leaves one file in $SHIELD_BACKUP_DIR." },
      { name: "script_restore_from", type: "enum", title: "Restore input", required: false, default: "stdin", enum: ["stdin", "file"],
        help: "stdin: the restore script reads the archive on its stdin. file: the archive is at $SHIELD_RESTORE_FILE." },
      { name: "script_work_dir", type: "abspath", title: "Work directory", required: false,
        help: "Where file-mode archives are kept while the scripts run (default: the system's temp directory)." },
      { name: "host", type: "string", title: "Host", required: false, help: "Given to the scripts as $host." },
      { name: "user", type: "string", title: "User", required: false, help: "Given to the scripts as $user." },
      { name: "password", type: "password", title: "Password", required: false, help: "Given to the scripts as $password (in the environment only)." },
      { name: "database", type: "string", title: "Database", required: false, help: "Given to the scripts as $database. Any other simple value of the endpoint is given the same way." },
    ],
  },

  validate(ctx) {
    const c = config(ctx);
    if (ctx.action === "backup") { scripts(ctx, c, "backup"); return []; }
    if (ctx.action === "restore") { scripts(ctx, c, "restore"); return []; }
    return [`script_dir: ${c.dir}`, ...anyScripts(ctx, c), `backup to: ${c.backupTo}`, `restore from: ${c.restoreFrom}`, "environment:", ...envLines(c)];
  },

  async test(ctx) {
    // Nothing is run: a lock phase would lock the service for a test.
    const c = config(ctx);
    return ["phases found (none was run):", ...anyScripts(ctx, c)];
  },

  async backup(ctx) {
    const c = config(ctx);
    const found = scripts(ctx, c, "backup");
    const dir = c.backupTo === "file" ? workDir(c, "backup") : undefined;
    const env = { ...baseEnv(process.env), ...c.vars, ...(dir ? { SHIELD_BACKUP_DIR: dir } : {}) };
    const run = runLifecycle({
      kind: "backup", scripts: found, env, cwd: c.dir, signal: ctx.signal,
      // fd 1 is the archive: only the backup phase in stdout mode writes there.
      io: (phase) => ({ stdin: "ignore", stdout: phase === "backup" && !dir ? 1 : 2, stderr: 2 }),
      onPhase: (phase) => ctx.log(`script: ${phase}`),
      onOutcome: (o) => logOutcome(ctx, o),
      afterAction: dir ? async () => {
        const file = theFile(dir);
        await Bun.file(file).stream().pipeTo(ctx.stdout, { preventClose: true });
        rmSync(file, { force: true });
      } : undefined,
    });
    await lifecycle(ctx, run, () => { if (dir) rmSync(dir, { recursive: true, force: true }); });
  },

  async restore(ctx) {
    const c = config(ctx);
    const found = scripts(ctx, c, "restore");
    const dir = c.restoreFrom === "file" ? workDir(c, "restore") : undefined;
    const undo = () => { if (dir) rmSync(dir, { recursive: true, force: true }); };
    const env: Record<string, string> = { ...baseEnv(process.env), ...c.vars };
    if (dir) {
      // Before the lock: the service stays locked no longer than the restore itself takes.
      const file = join(dir, "archive");
      const off = ctx.onAbort(undo);
      try {
        await pipeline(Readable.fromWeb(ctx.stdin as import("node:stream/web").ReadableStream), createWriteStream(file, { mode: 0o600 }));
      } catch (err) {
        undo();
        throw new PluginError(`reading the archive into ${file}: ${(err as Error).message}`);
      } finally {
        off();
      }
      env.SHIELD_RESTORE_FILE = file;
    }
    const run = runLifecycle({
      kind: "restore", scripts: found, env, cwd: c.dir, signal: ctx.signal,
      io: (phase) => ({ stdin: phase === "restore" && !dir ? ctx.stdin : "ignore", stdout: 2, stderr: 2 }),
      onPhase: (phase) => ctx.log(`script: ${phase}`),
      onOutcome: (o) => logOutcome(ctx, o),
    });
    await lifecycle(ctx, run, undo);
  },
};
