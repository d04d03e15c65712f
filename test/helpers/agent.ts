// `shield agent` as a separate process (the compiled dist/shield) on its own port
// and data directory, for the tests of the agent channel.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary } from "./daemon.ts";
import { freePort } from "./services.ts";

export interface AgentProcess {
  address: string;
  port: number;
  dir: string;
  proc: ChildProcess;
  output(): string;
  /** SIGTERM (or the signal given), then wait for the exit; returns the exit code or signal. */
  stop(signal?: NodeJS.Signals): Promise<number | string | null>;
}

/**
 * `wrap`: a command prefix (`ip netns exec NS`); `host`: the address to listen on (default 127.0.0.1);
 * `dials`: an agent behind NAT (args hold --core and --name): no --listen, started once connected to the core.
 */
export async function startAgentProcess(args: string[], opts: { dir?: string; port?: number; keepDir?: boolean; wrap?: string[]; host?: string; dials?: boolean; env?: Record<string, string> } = {}): Promise<AgentProcess> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "shield-test-agent-"));
  const port = opts.port ?? await freePort();
  const host = opts.host ?? "127.0.0.1";
  // The data port: any free one (port + 1 may be taken here), unless the test names it, or the
  // agent has a namespace of its own (where the default, port + 1, is free: tested as it ships).
  const dataPort = opts.dials || opts.wrap || args.includes("--data-port") ? [] : ["--data-port", "0"];
  const argv = [...(opts.wrap ?? []), ensureBinary(), "agent", ...(opts.dials ? [] : ["--listen", `${host}:${port}`]), ...dataPort, "--data-dir", dir, ...args];
  const proc = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stderr!.on("data", (d) => (out += d));
  proc.stdout!.on("data", (d) => (out += d));
  const exited = new Promise<number | string | null>((res) => proc.on("exit", (code, signal) => res(code ?? signal)));
  const deadline = Date.now() + 15_000;
  const started = opts.dials ? '"msg":"connected to the core"' : '"msg":"shield agent listening"';
  while (!out.includes(started)) {
    if (proc.exitCode !== null) throw new Error(`shield agent exited with ${proc.exitCode}: ${out}`);
    if (Date.now() > deadline) { proc.kill("SIGKILL"); throw new Error(`shield agent did not start within 15 s: ${out}`); }
    await Bun.sleep(20);
  }
  return {
    address: `${host}:${port}`, port, dir, proc, output: () => out,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const r = await exited;
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
      return r;
    },
  };
}
