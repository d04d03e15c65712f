// A FIFO alone in a new directory of its own (mode 0600). The daemon makes one for
// a stage's guard to read, a guard for its stage's held input; whoever ends up
// owning it removes the directory.
//
// Bun has no mkfifo of its own. libc's is called through bun:ffi: the daemon makes
// two FIFOs per backup, and running the mkfifo tool for each was two process
// starts, each blocking the daemon's event loop, on the path from the run request
// to the first byte (bench/DATAPATH.md, "Fixed cost (issue 20)"). Where libc cannot
// be loaded (not glibc, FFI unavailable) or the call fails, the mkfifo tool runs
// instead, and its words say why it failed.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { libc } from "../libc.ts";

/** The mkfifo tool; undefined when it made the FIFO, else why not. */
function mkfifoTool(path: string): string | undefined {
  try {
    const mk = Bun.spawnSync(["mkfifo", "-m", "600", path], { stderr: "pipe" });
    if (mk.exitCode !== 0) return mk.stderr?.toString().trim() || `exit ${mk.exitCode}`;
    return undefined;
  } catch (err) {
    return (err as Error).message; // not installed
  }
}

/** Throws, saying why, when the FIFO cannot be made. */
export function makeFifo(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), "shield-stage-"));
  const path = join(dir, "input");
  let why: string | undefined;
  if (libc()?.mkfifo(path, 0o600)) {
    // Exactly 0600 whatever the umask (as `mkfifo -m 600`); the directory is 0700 anyway.
    try { chmodSync(path, 0o600); } catch (err) { why = (err as Error).message; }
  } else {
    why = mkfifoTool(path);
  }
  if (!why) return { dir, path };
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`cannot make a FIFO with mkfifo: ${why}`);
}
