// A private moto_server (an S3 emulator) for the gpbackup plugin tests (to be folded into test/helpers/s3.ts), on a free
// port in a temporary directory; stopped when the process exits. Minimal on
// purpose: the s3 engineer's test/helpers/s3.ts is the full harness, and the lead
// points these tests at it once both are merged.
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, requireOrSkip } from "./services.ts";

export const motoAvailable = requireOrSkip("moto_server", Bun.which("moto_server") !== null, "moto_server on PATH (pip install 'moto[server]')");

export interface Moto { port: number; url: string; /** The server's process (benchmarks read its CPU time). */ pid: number; stop(): void }

function listening(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => { s.destroy(); res(true); });
    s.once("error", () => res(false));
  });
}

let shared: Promise<Moto> | undefined;

/** The moto_server shared by the tests of this process. */
export function startMoto(): Promise<Moto> {
  return (shared ??= launch());
}

async function launch(): Promise<Moto> {
  const dir = mkdtempSync(join(tmpdir(), "shield-test-moto-"));
  const port = await freePort();
  const proc: Subprocess = Bun.spawn(["moto_server", "-H", "127.0.0.1", "-p", String(port)], {
    cwd: dir, env: { PATH: process.env.PATH!, HOME: dir }, stdin: "ignore", stdout: "ignore", stderr: "ignore",
  });
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", stop);
  for (let i = 0; i < 300; i++) {
    if (await listening(port)) return { port, url: `http://127.0.0.1:${port}`, pid: proc.pid, stop };
    if (proc.exitCode !== null) break;
    await Bun.sleep(100);
  }
  stop();
  throw new Error(`moto_server did not listen on ${port}`);
}
