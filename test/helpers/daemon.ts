// The compiled dist/shield, run as a user would: a real process on a free port.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "./services.ts";

export const SHIELD_BIN = resolve(import.meta.dir, "../../dist/shield");

/** `npm test` builds first; a bare `bun test` builds here if the binary is missing. */
export function ensureBinary(): string {
  if (!existsSync(SHIELD_BIN)) {
    const r = spawnSync("bun", ["run", "build"], { cwd: resolve(import.meta.dir, "../.."), stdio: "inherit", env: { ...process.env, PATH: `${resolve(import.meta.dir, "../../node_modules/.bin")}:${process.env.PATH}` } });
    if (r.status !== 0) throw new Error("npm run build failed");
  }
  return SHIELD_BIN;
}

export function runShield(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(ensureBinary(), args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface DaemonProcess {
  url: string;
  dir: string;
  proc: ChildProcess;
  stderr(): string;
  /** SIGTERM, then wait for the exit; returns the exit code. */
  stop(): Promise<number | null>;
}

/** `cwd` and `port`: a restart of a daemon on the same data and address. */
export async function startShieldDaemon(opts: { args?: string[]; env?: Record<string, string>; cwd?: string; port?: number } = {}): Promise<DaemonProcess> {
  const dir = opts.cwd ?? mkdtempSync(join(tmpdir(), "shield-test-daemon-"));
  const port = opts.port ?? await freePort();
  const proc = spawn(ensureBinary(), ["daemon", "--listen", `127.0.0.1:${port}`, ...(opts.args ?? [])], {
    cwd: dir, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  proc.stdout!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((res) => proc.on("exit", (code) => res(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`shield daemon exited with ${proc.exitCode}: ${err}`);
    try {
      // Health answers 200 only once all is up (503 before); the log line says so too.
      if ((await fetch(`${url}/v1/health`)).ok && err.includes('"msg":"shield daemon listening"')) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`shield daemon did not answer within 15 s: ${err}`);
    }
    await Bun.sleep(20);
  }
  return {
    url, dir, proc,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      const code = await exited;
      if (!opts.cwd) rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * For tests of what a change to the sources shows (the web UI): rebuild when any
 * source is newer than the binary, so a stale dist/shield is never what is tested.
 */
export function ensureFreshBinary(): string {
  const root = resolve(import.meta.dir, "../..");
  const built = existsSync(SHIELD_BIN) ? statSync(SHIELD_BIN).mtimeMs : 0;
  const newer = ["src", "views", "plugins"].some((d) =>
    readdirSync(join(root, d), { recursive: true }).some((f) => statSync(join(root, d, String(f))).mtimeMs > built));
  if (newer) rmSync(SHIELD_BIN, { force: true });
  return ensureBinary();
}
