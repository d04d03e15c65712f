// A FIFO alone in a new directory of its own (mode 0600, made with mkfifo: Bun has
// no mkfifo of its own). The daemon makes one for a stage's guard to read, a guard
// for its stage's held input; whoever ends up owning it removes the directory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Throws, saying why, when mkfifo fails or is missing. */
export function makeFifo(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), "shield-stage-"));
  const path = join(dir, "input");
  let why: string | undefined;
  try {
    const mk = Bun.spawnSync(["mkfifo", "-m", "600", path], { stderr: "pipe" });
    if (mk.exitCode !== 0) why = mk.stderr?.toString().trim() || `exit ${mk.exitCode}`;
  } catch (err) {
    why = (err as Error).message; // not installed
  }
  if (!why) return { dir, path };
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`cannot make a FIFO with mkfifo: ${why}`);
}
