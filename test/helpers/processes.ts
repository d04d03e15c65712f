// The processes of a test's pipelines, as /proc shows them (Linux).
import { readdirSync, readFileSync } from "node:fs";

/** Every live (not zombie) descendant of a process, from /proc. */
export function descendants(root: number): { pid: number; cmd: string }[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const st = stat(Number(name));
    if (st && st.state !== "Z") parent.set(Number(name), st.ppid);
  }
  const found: { pid: number; cmd: string }[] = [];
  const walk = (pid: number) => {
    for (const [child, ppid] of parent) if (ppid === pid) { found.push({ pid: child, cmd: cmdline(child) }); walk(child); }
  };
  walk(root);
  return found;
}

export function stat(pid: number): { state: string; ppid: number } | undefined {
  try {
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const [state, ppid] = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

export function cmdline(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim(); } catch { return "?"; }
}

/** Alive and not a zombie (a container's init may leave zombies unreaped). */
export const alive = (pid: number) => { const s = stat(pid); return !!s && s.state !== "Z"; };
