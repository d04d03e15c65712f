// The script target (the osb-backup-agent lifecycle), run as `shield plugin
// script ...` subprocesses against real script directories.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { findScripts, runLifecycle } from "../../plugins/script/lifecycle.ts";

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");
const SECRET = "pw-never-in-args-or-logs";

interface Run { code: number; stdout: Buffer; stderr: string }

let base: string;
let dir: string;
let trace: string;

function spawnScript(action: string, endpoint: object, stdin: Uint8Array | "ignore" = "ignore") {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return Bun.spawn([process.execPath, MAIN, "plugin", "script", action], {
    cwd: ROOT, env: { ...env, SHIELD_ENDPOINT: JSON.stringify(endpoint) }, stdin, stdout: "pipe", stderr: "pipe",
  });
}

async function run(action: string, endpoint: object, stdin?: Uint8Array): Promise<Run> {
  const proc = spawnScript(action, endpoint, stdin ?? "ignore");
  const [out, stderr, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout: Buffer.from(out), stderr };
}

/** A phase script: records itself, prints to both streams, runs `body`, fails when $fail names it. */
function phase(name: string, body = "") {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh
echo "${name}" >> "$trace_file"
${name === "backup" ? "" : `echo "${name} stdout"`}
echo "${name} stderr" >&2
${body}
if [ "$fail" = "${name}" ]; then exit 3; fi
exit 0
`);
  chmodSync(path, 0o755);
}

const BACKUP = ["pre-backup-lock", "pre-backup-check", "backup", "backup-cleanup", "post-backup-unlock"];
const RESTORE = ["pre-restore-lock", "restore", "restore-cleanup", "post-restore-unlock"];

function allPhases() {
  for (const p of [...BACKUP, ...RESTORE]) {
    if (p === "backup") phase(p, `echo "host=$host password=$password retries=$retries phase=$SHIELD_PHASE" >> "$trace_file.env"\nif [ -n "$sleep" ]; then exec sleep "$sleep"; fi\nprintf 'the archive'`);
    else if (p === "restore") phase(p, `cat > "$trace_file.restored"`);
    else phase(p);
  }
}

const traced = () => (existsSync(trace) ? readFileSync(trace, "utf8").trim().split("\n").filter(Boolean) : []);
const ep = (extra: Record<string, unknown> = {}) => ({ script_dir: dir, host: "db1", password: SECRET, retries: 2, trace_file: trace, ...extra });

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), "shield-script-"));
  dir = join(base, "scripts");
  mkdirSync(dir, { mode: 0o755 });
  trace = join(base, "trace");
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe("script validate and test", () => {
  test("validate lists both lifecycles' phases and the environment, the password as (set)", async () => {
    allPhases();
    const r = await run("validate", ep());
    expect(r.code).toBe(0);
    const out = r.stdout.toString();
    expect(out).toContain(`backup: ${BACKUP.join(", ")}`);
    expect(out).toContain(`restore: ${RESTORE.join(", ")}`);
    expect(out).toContain("host: db1");
    expect(out).toContain("password: (set)");
    expect(out + r.stderr).not.toContain(SECRET);
    expect(traced()).toEqual([]);
  });

  test("test lists the phases found and runs none of them", async () => {
    phase("backup");
    phase("pre-backup-lock");
    const r = await run("test", ep());
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toContain("backup: pre-backup-lock, backup");
    expect(r.stdout.toString()).toContain('restore: no "restore" script: not offered');
    expect(traced()).toEqual([]);
  });

  test("bad endpoints are refused with the field named", async () => {
    phase("backup");
    expect((await run("validate", {})).code).toBe(12);
    const rel = await run("validate", { script_dir: "scripts" });
    expect(rel.code).toBe(13);
    expect(rel.stderr).toContain('"script_dir" must be an absolute path');
    const nested = await run("validate", ep({ opts: { a: 1 } }));
    expect(nested.code).toBe(13);
    expect(nested.stderr).toContain('"opts" must be a simple value');
    const preload = await run("validate", ep({ LD_PRELOAD: "/tmp/x.so" }));
    expect(preload.code).toBe(13);
    expect(preload.stderr).toContain("LD_PRELOAD");
    const badName = await run("validate", ep({ "a-b": "x" }));
    expect(badName.code).toBe(13);
    const mode = await run("validate", ep({ script_backup_to: "tape" }));
    expect(mode.code).toBe(13);
    expect(mode.stderr).toContain("script_backup_to");
    // A directory others may write into: anyone could choose what runs.
    chmodSync(dir, 0o777);
    const open = await run("validate", ep());
    expect(open.code).toBe(13);
    expect(open.stderr).toContain("must not be writable by group or others");
  });

  test("a phase that is not executable is an error naming it, found before anything runs", async () => {
    allPhases();
    chmodSync(join(dir, "pre-backup-check"), 0o644);
    const r = await run("backup", ep());
    expect(r.code).toBe(13);
    expect(r.stderr).toContain("pre-backup-check");
    expect(r.stderr).toContain("not executable");
    expect(traced()).toEqual([]);
    const v = await run("validate", ep());
    expect(v.code).toBe(13);
    expect(v.stderr).toContain("pre-backup-check");
  });

  test("backup without a backup script is refused; restore without a restore script too", async () => {
    phase("restore");
    const b = await run("backup", ep());
    expect(b.code).toBe(13);
    expect(b.stderr).toContain("holds no backup");
    unlinkSync(join(dir, "restore"));
    phase("backup");
    const r = await run("restore", ep(), new TextEncoder().encode("x"));
    expect(r.code).toBe(13);
    expect(r.stderr).toContain("holds no restore");
  });
});

describe("script backup", () => {
  test("phases in order; stdout is the archive; other output in the task log; values in the environment", async () => {
    allPhases();
    const r = await run("backup", ep());
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe("the archive");
    expect(traced()).toEqual(BACKUP);
    for (const p of BACKUP) {
      expect(r.stderr).toContain(`${p} stderr`);
      expect(r.stderr).toContain(`script: ${p} done`);
      if (p !== "backup") expect(r.stderr).toContain(`${p} stdout`);
    }
    expect(r.stderr).not.toContain("the archive");
    expect(readFileSync(trace + ".env", "utf8").trim()).toBe(`host=db1 password=${SECRET} retries=2 phase=backup`);
    expect(r.stderr).not.toContain(SECRET);
  });

  test("missing optional phases are skipped", async () => {
    phase("backup", "printf only");
    const r = await run("backup", ep());
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe("only");
    expect(traced()).toEqual(["backup"]);
  });

  test("a failing backup fails the task; cleanup and unlock still run", async () => {
    allPhases();
    const r = await run("backup", ep({ fail: "backup" }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("the backup phase failed (exit 3)");
    expect(traced()).toEqual(BACKUP);
  });

  test("a failing check: no backup, no cleanup, but the unlock runs", async () => {
    allPhases();
    const r = await run("backup", ep({ fail: "pre-backup-check" }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("the pre-backup-check phase failed (exit 3)");
    expect(traced()).toEqual(["pre-backup-lock", "pre-backup-check", "post-backup-unlock"]);
  });

  test("a failing lock still gets its unlock (half a lock is a lock)", async () => {
    allPhases();
    const r = await run("backup", ep({ fail: "pre-backup-lock" }));
    expect(r.code).not.toBe(0);
    expect(traced()).toEqual(["pre-backup-lock", "post-backup-unlock"]);
  });

  test("a failing unlock fails the task, even after a good backup", async () => {
    allPhases();
    const r = await run("backup", ep({ fail: "post-backup-unlock" }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("the post-backup-unlock phase failed");
  });

  test("SIGTERM mid-backup: the phase stops, cleanup and unlock run, then the plugin exits", async () => {
    allPhases();
    const proc = spawnScript("backup", ep({ sleep: "30" }));
    const stderr = new Response(proc.stderr).text();
    for (let i = 0; i < 200 && !traced().includes("backup"); i++) await Bun.sleep(25);
    await Bun.sleep(100);
    const t = Date.now();
    proc.kill("SIGTERM");
    const code = await proc.exited;
    expect(code).toBe(143);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(traced()).toEqual(BACKUP);
    const log = await stderr;
    expect(log).toContain("script: backup killed by SIGTERM");
    expect(log).toContain("script: post-backup-unlock done");
  });

  test("the daemon's cancel (SIGTERM to the stage's group, SIGKILL 500 ms later): a quick unlock makes it", async () => {
    allPhases();
    // As src/pipeline/stage.ts kills a stage: the whole group, then SIGKILL after its grace.
    const proc = Bun.spawn([process.execPath, MAIN, "plugin", "script", "backup"], {
      cwd: ROOT, env: { ...process.env, SHIELD_ENDPOINT: JSON.stringify(ep({ sleep: "30" })) } as Record<string, string>,
      stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true,
    });
    const stderr = new Response(proc.stderr).text();
    for (let i = 0; i < 200 && !traced().includes("backup"); i++) await Bun.sleep(25);
    await Bun.sleep(100);
    process.kill(-proc.pid, "SIGTERM");
    const kill = setTimeout(() => { try { process.kill(-proc.pid, "SIGKILL"); } catch { /* gone */ } }, 500);
    await proc.exited;
    clearTimeout(kill);
    expect(traced()).toEqual(BACKUP);
    expect(await stderr).toContain("script: post-backup-unlock done");
  });

  test("file mode: the one file left in $SHIELD_BACKUP_DIR is streamed, then removed with its directory", async () => {
    phase("pre-backup-lock");
    phase("backup", `echo "$SHIELD_BACKUP_DIR" > "$trace_file.dir"\nhead -c 3000000 /dev/zero | tr '\\0' 'z' > "$SHIELD_BACKUP_DIR/db1_2026_01_01_db.tar.gz"\necho "made it"`);
    phase("backup-cleanup", `ls "$SHIELD_BACKUP_DIR" >&2`);
    phase("post-backup-unlock");
    const work = join(base, "work");
    mkdirSync(work);
    const r = await run("backup", ep({ script_backup_to: "file", script_work_dir: work }));
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(3000000);
    expect(r.stdout.every((b) => b === 0x7a)).toBe(true);
    // The backup phase's stdout is not the archive in file mode: it is in the task log.
    expect(r.stderr).toContain("made it");
    const made = readFileSync(trace + ".dir", "utf8").trim();
    expect(made.startsWith(work + "/")).toBe(true);
    expect(existsSync(made)).toBe(false);
    expect(traced()).toEqual(BACKUP.filter((p) => p !== "pre-backup-check"));
  });

  test("file mode: anything but exactly one file fails, and the unlock runs", async () => {
    phase("pre-backup-lock");
    phase("backup", `touch "$SHIELD_BACKUP_DIR/a" "$SHIELD_BACKUP_DIR/b"`);
    phase("post-backup-unlock");
    const r = await run("backup", ep({ script_backup_to: "file" }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("exactly one file");
    expect(r.stdout.length).toBe(0);
    expect(traced()).toEqual(["pre-backup-lock", "backup", "post-backup-unlock"]);
    phase("backup", "true");
    const none = await run("backup", ep({ script_backup_to: "file" }));
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("it left none");
  });
});

describe("script restore", () => {
  const data = new TextEncoder().encode("restore me ".repeat(10000));

  test("the archive reaches the restore phase on stdin; phases in order; output in the task log", async () => {
    allPhases();
    const r = await run("restore", ep(), data);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(traced()).toEqual(RESTORE);
    expect(readFileSync(trace + ".restored", "utf8")).toBe(new TextDecoder().decode(data));
    for (const p of RESTORE) expect(r.stderr).toContain(`${p} stdout`);
  });

  test("file mode: the archive is at $SHIELD_RESTORE_FILE, removed afterwards", async () => {
    phase("pre-restore-lock");
    phase("restore", `echo "$SHIELD_RESTORE_FILE" > "$trace_file.file"\ncp "$SHIELD_RESTORE_FILE" "$trace_file.restored"`);
    phase("post-restore-unlock");
    const r = await run("restore", ep({ script_restore_from: "file" }), data);
    expect(r.code).toBe(0);
    expect(readFileSync(trace + ".restored")).toEqual(Buffer.from(data));
    expect(existsSync(readFileSync(trace + ".file", "utf8").trim())).toBe(false);
    expect(traced()).toEqual(["pre-restore-lock", "restore", "post-restore-unlock"]);
  });

  test("a failing restore: cleanup and unlock run", async () => {
    allPhases();
    const r = await run("restore", ep({ fail: "restore" }), data);
    expect(r.code).not.toBe(0);
    expect(traced()).toEqual(RESTORE);
  });

  test("SIGTERM mid-restore: unlock runs", async () => {
    allPhases();
    phase("restore", "exec sleep 30");
    const proc = Bun.spawn([process.execPath, MAIN, "plugin", "script", "restore"], {
      cwd: ROOT, env: { ...process.env, SHIELD_ENDPOINT: JSON.stringify(ep()) } as Record<string, string>, stdin: "pipe", stdout: "pipe", stderr: "pipe",
    });
    proc.stdin.write(data);
    await proc.stdin.flush();
    for (let i = 0; i < 200 && !traced().includes("restore"); i++) await Bun.sleep(25);
    await Bun.sleep(100);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(143);
    expect(traced()).toEqual(RESTORE);
  });
});

describe("the lifecycle itself", () => {
  test("a phase that ignores SIGTERM is killed after the grace; the unlock still runs", async () => {
    phase("pre-backup-lock");
    phase("backup", "trap '' TERM\nsleep 30 & wait; sleep 30 & wait");
    phase("post-backup-unlock");
    const stop = new AbortController();
    const outcomes: string[] = [];
    const run = runLifecycle({
      kind: "backup", scripts: findScripts(dir, "backup"), env: { PATH: process.env.PATH!, trace_file: trace }, cwd: dir,
      io: () => ({ stdin: "ignore", stdout: "pipe", stderr: "pipe" }), signal: stop.signal, ownGroup: true, stopGraceMs: 300,
      onOutcome: (o) => outcomes.push(`${o.phase}:${o.signal ?? o.code}`),
    });
    for (let i = 0; i < 200 && !traced().includes("backup"); i++) await Bun.sleep(25);
    await Bun.sleep(100);
    const t = Date.now();
    stop.abort(new Error("canceled"));
    await expect(run).rejects.toThrow("the backup phase was killed by SIGKILL");
    expect(Date.now() - t).toBeLessThan(3000);
    expect(outcomes).toEqual(["pre-backup-lock:0", "backup:SIGKILL", "post-backup-unlock:0"]);
    expect(traced()).toEqual(["pre-backup-lock", "backup", "post-backup-unlock"]);
  });
});
