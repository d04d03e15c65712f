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

// A pipe holds 64 KiB by default: the stages on either side of one wake each other
// every 64 KiB (pg_dump and zstd, zstd and the store's guard). A stage's pipes were
// Bun's socketpairs once, which buffer more, and the agent's pipes measured less CPU
// at 1 MiB (bench/DATAPATH.md, "The pipes' size"). 1 MiB is the kernel's default
// pipe-max-size for an unprivileged process. The kernel also bounds what one user's
// pipes hold in all (fs.pipe-user-pages-soft, 64 MiB by default; root is exempt): a
// local backup holds about three of these, so past some twenty tasks at once as an
// unprivileged user, later pipes are made small (the README's --workers says so).
// Nothing fails then; those tasks only run slower.
const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;
const PIPE_SIZE = 1 << 20;

/**
 * Widens the pipe (a FIFO, any end of it) to 1 MiB with fcntl(F_SETPIPE_SZ). Where that
 * cannot be done (no glibc, another OS, a lower limit, not a pipe), it stays as it is:
 * only slower.
 */
export function widenPipe(fd: number): void {
  libc()?.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE);
}

/** The size of the pipe `fd` is an end of (fcntl(F_GETPIPE_SZ)); 0 where it cannot be asked (not a pipe, no glibc). */
export function pipeSize(fd: number): number {
  return Math.max(0, libc()?.fcntl(fd, F_GETPIPE_SZ, 0) ?? 0);
}
