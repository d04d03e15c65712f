// The osb-backup-agent lifecycle (seeds/osb-backup-agent.md): a directory of
// scripts run in fixed phases, shared by the `script` target plugin (index.ts)
// and the agent's osb HTTP API (src/agent/osb/).
//
//   backup:  pre-backup-lock, pre-backup-check, backup, backup-cleanup, post-backup-unlock
//   restore: pre-restore-lock, restore, restore-cleanup, post-restore-unlock
//
// The rules, and why:
// - a phase whose script is missing is skipped (most services need no lock), but
//   the action phase itself (`backup`, `restore`) is required: without it nothing
//   is backed up, and a "successful" empty run must not pass for a backup;
// - a script that exists but is not an executable regular file is an error
//   naming it, found before anything runs: half a lifecycle (locked, then
//   refused) is worse than none;
// - once a lock phase has started, its unlock phase runs whatever happens after
//   (a failed check, a failed backup, a cancel): a service left locked is an
//   outage. A lock phase that failed half way may hold half a lock, so unlock
//   runs then too;
// - once the action phase has started, its cleanup phase runs (it removes what
//   the action left), before the unlock;
// - the first failure is the one reported; a failing unlock fails the run too
//   (the service may still be locked: someone must know).
import { accessSync, constants, statSync } from "node:fs";
import { join } from "node:path";

export const BACKUP_PHASES = ["pre-backup-lock", "pre-backup-check", "backup", "backup-cleanup", "post-backup-unlock"] as const;
export const RESTORE_PHASES = ["pre-restore-lock", "restore", "restore-cleanup", "post-restore-unlock"] as const;
export type Kind = "backup" | "restore";
export type Phase = (typeof BACKUP_PHASES)[number] | (typeof RESTORE_PHASES)[number];

export function phasesOf(kind: Kind): readonly Phase[] {
  return kind === "backup" ? BACKUP_PHASES : RESTORE_PHASES;
}

/** Why a script directory cannot be used, naming the phase. */
export class ScriptProblem extends Error {}

/**
 * The scripts of a lifecycle found in `dir`: phase → path, missing optional
 * phases left out. Throws ScriptProblem for a script that is there but cannot be
 * run, or for a missing action phase. Runs nothing.
 */
export function findScripts(dir: string, kind: Kind): Map<Phase, string> {
  let st;
  try { st = statSync(dir); } catch { throw new ScriptProblem(`${dir} does not exist`); }
  if (!st.isDirectory()) throw new ScriptProblem(`${dir} is not a directory`);
  const found = new Map<Phase, string>();
  for (const phase of phasesOf(kind)) {
    const path = join(dir, phase);
    const s = statSync(path, { throwIfNoEntry: false });
    if (!s) {
      if (phase === kind) throw new ScriptProblem(`${dir} has no "${phase}" script: the ${kind} phase is required`);
      continue;
    }
    if (!s.isFile()) throw new ScriptProblem(`the ${phase} script ${path} is not a regular file`);
    try { accessSync(path, constants.X_OK); } catch { throw new ScriptProblem(`the ${phase} script ${path} is not executable`); }
    found.set(phase, path);
  }
  return found;
}

/** One phase's run, as the caller wired its output. */
export interface PhaseOutcome { phase: Phase; code: number | null; signal: string | null; stdout: string; stderr: string }

/** Where a phase's stdin comes from and its output goes; decided per phase by the caller. */
export interface PhaseIO {
  stdin: ReadableStream<Uint8Array> | "ignore";
  /** A file descriptor to write into directly, or "pipe" to collect (bounded: see LOG_LIMIT). */
  stdout: number | "pipe";
  stderr: number | "pipe";
}

/** What a collected log keeps: a script that prints a gigabyte must not take the agent's memory. */
export const LOG_LIMIT = 1 << 20;

export class PhaseFailed extends Error {
  constructor(readonly phase: Phase, why: string) { super(`the ${phase} phase ${why}`); }
}

export interface LifecycleOptions {
  kind: Kind;
  scripts: Map<Phase, string>;
  /** The whole environment of every script (nothing else is inherited). */
  env: Record<string, string>;
  cwd: string;
  io(phase: Phase): PhaseIO;
  /** Told when a phase starts (the osb API's `state`) and ends. */
  onPhase?(phase: Phase): void;
  onOutcome?(o: PhaseOutcome): void;
  /**
   * Run after the action phase succeeded, before its cleanup (the file-mode
   * backup streams the archive here; a restore prepares nothing after).
   */
  afterAction?(): Promise<void>;
  /** Aborting stops the running phase (SIGTERM) and skips to cleanup and unlock. */
  signal?: AbortSignal;
  /**
   * Each phase in a process group of its own, which a stop signals whole (what
   * the script started goes too). The plugin leaves this off: its scripts stay in
   * the stage's group, which the daemon's cancel and the guard signal whole, and a
   * group of their own would outlive a daemon that died. The osb agent, which no
   * such group covers, turns it on.
   */
  ownGroup?: boolean;
  /** How long a stopped phase has after SIGTERM before SIGKILL (a script that ignores SIGTERM must not hold the unlock back forever). */
  stopGraceMs?: number;
}

const STOP_GRACE_MS = 10_000;

/**
 * Runs the lifecycle to its end; resolves when every phase it ran succeeded,
 * rejects with the first failure only after the cleanup and unlock owed have run.
 */
export async function runLifecycle(o: LifecycleOptions): Promise<void> {
  const all = phasesOf(o.kind);
  const lock = all[0]!;
  const unlock = all[all.length - 1]!;
  const cleanup = all[all.length - 2]!;
  const middle = all.slice(1, -2); // [check,] action
  let failure: unknown;
  let locked = false;
  let acted = false;
  const run = async (phase: Phase, owed = false) => {
    const path = o.scripts.get(phase);
    if (!path) return;
    o.onPhase?.(phase);
    // An owed phase (cleanup, unlock) is not stopped by the cancel: it is what the cancel must not skip.
    const outcome = await runPhase(phase, path, o, owed ? undefined : o.signal);
    o.onOutcome?.(outcome);
    if (outcome.signal) throw new PhaseFailed(phase, `was killed by ${outcome.signal}`);
    if (outcome.code !== 0) throw new PhaseFailed(phase, `failed (exit ${outcome.code})`);
  };
  try {
    if (o.signal?.aborted) throw o.signal.reason;
    if (o.scripts.has(lock)) { locked = true; await run(lock); }
    for (const phase of middle) {
      if (o.signal?.aborted) throw o.signal.reason;
      if (phase === o.kind) acted = true;
      await run(phase);
      if (phase === o.kind) await o.afterAction?.();
    }
  } catch (err) {
    failure = err;
  }
  // What is owed runs even after a cancel: it is what the cancel must not skip.
  for (const [phase, owed] of [[cleanup, acted], [unlock, locked]] as const) {
    if (!owed) continue;
    try { await run(phase, true); } catch (err) { failure ??= err; }
  }
  if (failure !== undefined) throw failure;
}

async function runPhase(phase: Phase, path: string, o: LifecycleOptions, signal: AbortSignal | undefined): Promise<PhaseOutcome> {
  const io = o.io(phase);
  const feed = io.stdin instanceof ReadableStream ? io.stdin : undefined;
  let proc;
  try {
    proc = Bun.spawn([path], {
      cwd: o.cwd,
      env: { ...o.env, SHIELD_PHASE: phase },
      stdin: feed ? "pipe" : "ignore",
      stdout: io.stdout, stderr: io.stderr,
      detached: o.ownGroup === true,
    });
  } catch (err) {
    throw new PhaseFailed(phase, `could not be started: ${(err as Error).message}`);
  }
  const signalPhase = (sig: NodeJS.Signals) => {
    try { if (o.ownGroup) process.kill(-proc.pid, sig); else proc.kill(sig); } catch { /* gone */ }
  };
  let escalate: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    signalPhase("SIGTERM");
    escalate = setTimeout(() => signalPhase("SIGKILL"), o.stopGraceMs ?? STOP_GRACE_MS);
  };
  signal?.addEventListener("abort", stop);
  try {
    // A script may leave something running that holds its output open (a service
    // it restarted): the logs end a moment after the script does, not with that.
    const exited = proc.exited.then(() => Bun.sleep(OUTPUT_GRACE_MS));
    const out = proc.stdout instanceof ReadableStream ? collect(proc.stdout, exited) : Promise.resolve("");
    const err = proc.stderr instanceof ReadableStream ? collect(proc.stderr, exited) : Promise.resolve("");
    let fed: Promise<void> = Promise.resolve();
    if (feed) {
      const sink = proc.stdin as import("bun").FileSink;
      fed = (async () => {
        const reader = feed.getReader();
        // A script that exits stops the feed: our input may never end (a cancel).
        const gone = proc.exited.then(() => null);
        try {
          for (;;) {
            const next = await Promise.race([reader.read(), gone]);
            if (next === null) throw new Error("it exited before the end of its input");
            const { done, value } = next;
            if (done) break;
            const n = sink.write(value);
            if (typeof n !== "number") await n;
            await sink.flush();
          }
          await sink.end();
        } catch (e) {
          // The script stopped reading (it exited) or our input failed: a script
          // must never see a clean end of a stream that was cut, so stop it.
          proc.kill("SIGTERM");
          reader.cancel().catch(() => {});
          throw e;
        }
      })();
    }
    const [code, stdout, stderr, fedResult] = await Promise.all([proc.exited, out, err, fed.then(() => undefined, (e) => e as Error)]);
    if (fedResult && !proc.signalCode && code === 0) throw new PhaseFailed(phase, `did not take all of its input: ${fedResult.message}`);
    return { phase, code: proc.signalCode ? null : code, signal: proc.signalCode ? String(proc.signalCode) : null, stdout, stderr };
  } finally {
    signal?.removeEventListener("abort", stop);
    clearTimeout(escalate);
  }
}

const OUTPUT_GRACE_MS = 1000;

async function collect(stream: ReadableStream<Uint8Array>, giveUp: Promise<void>): Promise<string> {
  const dec = new TextDecoder();
  let text = "";
  let cut = false;
  const reader = stream.getReader();
  void giveUp.then(() => reader.cancel().catch(() => {}));
  for (;;) {
    let next;
    try { next = await reader.read(); } catch { break; }
    if (next.done) break;
    if (text.length < LOG_LIMIT) text += dec.decode(next.value, { stream: true });
    else cut = true;
  }
  return cut || text.length > LOG_LIMIT ? text.slice(0, LOG_LIMIT) + "\n[… cut: the log was longer than 1 MiB]\n" : text;
}

/** An environment variable's name: what a script can read back with $NAME. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Names a script's environment may not be given from outside: they would change what runs, not what it reads. */
const RESERVED_ENV = /^(PATH|IFS|ENV|BASH_ENV|SHELLOPTS|BASHOPTS|PS4|CDPATH|GLOBIGNORE|HOME|TMPDIR|LD_.*|DYLD_.*|SHIELD_.*|PYTHON.*|PERL.*|RUBY.*|NODE_.*|GCONV_PATH|LOCPATH|MALLOC_.*|BASH_FUNC_.*)$/;

/** Why `name` (from an endpoint or a request) cannot be given to the scripts as a variable, or undefined. */
export function envNameProblem(name: string): string | undefined {
  if (!ENV_NAME.test(name)) return "cannot be an environment variable's name (letters, digits and _, not starting with a digit)";
  if (RESERVED_ENV.test(name)) return "names an environment variable that changes how the scripts run; it cannot be set from outside";
  return undefined;
}

/** What every script sees of the plugin's own environment: enough to find its tools, nothing of Shield's. */
export function baseEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME"]) if (env[k] !== undefined) out[k] = env[k]!;
  out.PATH ??= "/usr/local/bin:/usr/bin:/bin";
  return out;
}
