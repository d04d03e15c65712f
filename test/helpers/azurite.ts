// A private Azurite (Microsoft's Azure Storage emulator, from npm) for the tests:
// its blob service alone, on its own port and data directory, shared by every
// test file of one `bun test` run and stopped when the run ends (preload.ts).
//
// Telemetry is off (--disableTelemetry): otherwise Azurite reports to an outside
// host at start, which this kind of machine cannot reach. --loose and
// --skipApiVersionCheck let an SDK newer than the emulator talk to it.
import type { Subprocess } from "bun";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect } from "node:net";
import { freePort, requireOrSkip } from "./services.ts";

const BIN = resolve(import.meta.dir, "../../node_modules/.bin/azurite-blob");
/** Azurite's well-known development account (documented by Microsoft, not a secret). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const nodeFound = Bun.which("node") !== null;
/** True when the Azure tests can run; false (after a loud warning) when they skip. */
export const azuriteAvailable = requireOrSkip("Azurite", existsSync(BIN) && nodeFound, "node and node_modules/.bin/azurite-blob (npm ci installs azurite)");

export interface Azurite {
  port: number;
  /** The blob service's URL for the development account. */
  url: string;
  /** Azurite's own output (for a failing test's message). */
  log(): string;
  stop(): void;
}

let shared: Azurite | undefined;
let starting: Promise<Azurite> | undefined;

/** The private Azurite shared by every test file of the run. */
export function startAzurite(): Promise<Azurite> {
  return (starting ??= launch().then((a) => (shared = a)));
}

/** Stops the shared Azurite, if this process started one. */
export function stopAzurite(): void {
  shared?.stop();
  shared = undefined;
  starting = undefined;
}

function listening(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => { s.destroy(); res(true); });
    s.once("error", () => res(false));
  });
}

/** A new Azurite on its own port and directory (a test wanting one of its own starts it). */
export async function launch(): Promise<Azurite> {
  const dir = mkdtempSync(join(tmpdir(), "shield-test-azurite-"));
  const port = await freePort();
  let output = "";
  const proc: Subprocess = Bun.spawn([
    BIN, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", dir,
    "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent",
  ], {
    // Its own environment: no AZURITE_DB (it would use that database), no AZURITE_ACCOUNTS from the caller.
    env: { PATH: process.env.PATH!, HOME: dir },
    stdin: "ignore", stdout: "pipe", stderr: "pipe",
  });
  const collect = async (s: ReadableStream<Uint8Array>) => { for await (const c of s) output += new TextDecoder().decode(c); };
  void collect(proc.stdout as ReadableStream<Uint8Array>);
  void collect(proc.stderr as ReadableStream<Uint8Array>);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  // For scripts (bench) that are not under `bun test`, whose preload stops the shared one.
  process.on("exit", stop);
  const deadline = Date.now() + 30_000;
  while (!(await listening(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      stop();
      throw new Error(`Azurite did not start on port ${port}: ${output.trim()}`);
    }
    await Bun.sleep(100);
  }
  return { port, url: `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`, log: () => output, stop };
}
