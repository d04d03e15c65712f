// The compiled CLI against a real daemon: `shield ...` as a user runs it, with its
// own config directory and no connection settings inherited from the environment.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary, type DaemonProcess } from "./daemon.ts";

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON. */
  json(): any;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  /** Written to stdin, then closed. */
  input?: string;
  timeoutMs?: number;
}

/** Runs dist/shield with a clean environment: SHIELD_CORE/SHIELD_TOKEN only as given. */
export async function shield(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("SHIELD_")) env[k] = v;
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env[k] = v; else delete env[k];
  const proc = Bun.spawn([ensureBinary(), ...args], {
    env, stdin: opts.input === undefined ? "ignore" : new Blob([opts.input]), stdout: "pipe", stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
  const [stdout, stderr, status] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return {
    status, stdout, stderr,
    json() {
      try { return JSON.parse(stdout); } catch { throw new Error(`not JSON (exit ${status}): ${stdout}\nstderr: ${stderr}`); }
    },
  };
}

/** A CLI bound to one daemon with one token, and an empty config directory of its own. */
export function cliFor(d: DaemonProcess, token: string) {
  const config = mkdtempSync(join(tmpdir(), "shield-test-cli-config-"));
  const env = { SHIELD_CORE: d.url, SHIELD_TOKEN: token, XDG_CONFIG_HOME: config };
  return {
    config,
    run: (args: string[], opts: CliOptions = {}) => shield(args, { ...opts, env: { ...env, ...opts.env } }),
    cleanup: () => rmSync(config, { recursive: true, force: true }),
  };
}

/** An admin API token, made with the admin's password over the API itself. */
export async function adminToken(d: DaemonProcess, password: string, name = "cli-tests"): Promise<string> {
  const r = await fetch(`${d.url}/v1/auth/tokens`, {
    method: "POST", body: JSON.stringify({ name }),
    headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString("base64")}`, "content-type": "application/json" },
  });
  if (!r.ok) throw new Error(`cannot make a token: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { token: string }).token;
}
