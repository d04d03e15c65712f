// What /proc says of a process that a signal cannot tell (Linux).
import { readFileSync } from "node:fs";

/**
 * The process has exited but its parent has not reaped it yet (a zombie, or dying):
 * it runs nothing any more. False where /proc cannot tell (gone, or not Linux).
 */
export function exitedUnreaped(pid: number): boolean {
  try {
    // The command name (field 2) may hold spaces and parentheses: the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return /^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}
