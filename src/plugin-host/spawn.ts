// Running a plugin's short actions (info, validate, test) as processes: what
// environment a plugin sees, how this binary runs its built-ins, and a run to
// completion that a signal (a deadline, a cancel) ends with the whole process group.
import { constants } from "node:os";
import { PluginFailed } from "./info.ts";

/**
 * The daemon's environment variables a plugin may see. An allowlist: the daemon's
 * own secrets (SHIELD_MASTER_KEY, the catalog's PGPASSWORD, ...) must never leak
 * into a plugin, where they could also silently change what a pg_dump connects to.
 */
const PASSED_ENV = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR|TERM)$/;

export function pluginEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && PASSED_ENV.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** How the running executable starts itself again (for built-in plugins). */
export function selfCommand(): string[] {
  // A compiled binary's entry point lives in Bun's embedded filesystem.
  return Bun.main.startsWith("/$bunfs/") || Bun.main === process.execPath ? [process.execPath] : [process.execPath, Bun.main];
}

export interface Ran { stdout: string; stderr: string; code: number }

/**
 * Runs a short plugin action to completion, collecting its output. `label` names
 * it in errors, never argv (which may hold an endpoint and its secrets). A plugin
 * that cannot start is a PluginFailed; when `signal` aborts, the process and
 * whatever it started are killed and the call rejects with the signal's reason.
 * A plugin killed by a signal not ours reads as exit 128 + the signal (a crash).
 */
export async function runPlugin(label: string, argv: string[], opts: { env?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Ran> {
  opts.signal?.throwIfAborted();
  let proc;
  try {
    proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: opts.env ?? pluginEnv(), detached: true });
  } catch (err) {
    throw new PluginFailed(`cannot run ${label}: ${(err as Error).message}`, 3, "");
  }
  const kill = () => { try { process.kill(-proc.pid, "SIGKILL"); } catch { /* gone */ } };
  opts.signal?.addEventListener("abort", kill, { once: true });
  try {
    const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    opts.signal?.throwIfAborted();
    const signalled = proc.signalCode ? 128 + (signalNumber(String(proc.signalCode)) ?? 0) : undefined;
    return { stdout, stderr, code: signalled ?? proc.exitCode ?? 1 };
  } finally {
    opts.signal?.removeEventListener("abort", kill);
  }
}

function signalNumber(name: string): number | undefined {
  return (constants.signals as Record<string, number>)[name];
}
