// The processes of a pipeline, read from /proc: each one's CPU seconds, named by what
// it is (processKind), summed over a process tree while it runs (TreeCpu). Used by
// bench/datapath.ts and bench/agent.ts to say where a backup's CPU goes.
import { readdirSync, readFileSync } from "node:fs";

/** The children of every thread of `pid` (none once it is gone). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const s = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (s) out.push(...s.split(/\s+/).map(Number));
    }
  } catch { /* gone */ }
  return out;
}

/** The numeric fields of /proc/PID/stat from the state on (proc(5) field 3 at index 0); throws once the process is gone. */
function statFields(pid: number): number[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
}

const TICK = 100;

/** CPU seconds of a process itself (utime + stime) and of the children it has reaped (cutime + cstime). */
export function cpuSeconds(pid: number): { self: number; children: number } {
  const f = statFields(pid);
  return { self: (f[11]! + f[12]!) / TICK, children: (f[13]! + f[14]!) / TICK };
}

/** utime + stime (seconds) and start time (clock ticks since boot) of a process; undefined once it is gone. */
export function procStat(pid: number): { cpu: number; start: number } | undefined {
  try {
    const f = statFields(pid);
    return { cpu: (f[11]! + f[12]!) / TICK, start: f[19]! };
  } catch {
    return undefined;
  }
}

/**
 * What kind of process of a pipeline this is: the daemon, a guard (named by what it runs:
 * a plugin's action in-process, or the command it starts; "+ seal" when it seals the
 * stream), or a tool by its name (pg_dump, zstd, openssl, ...).
 */
export function processKind(pid: number): string {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return "?";
  }
  const name = argv[0]?.split("/").pop() ?? "?";
  if (!name.startsWith("shield")) return name;
  if (argv[1] === "daemon") return "shield daemon";
  if (argv[1] === "agent") return "shield agent"; // its flags name ports and directories that change from run to run
  if (argv[1] !== "guard") return `shield ${argv.slice(1, 4).join(" ")}`;
  const dash = argv.indexOf("--");
  const flags = dash < 0 ? argv.slice(2) : argv.slice(2, dash);
  const rest = dash < 0 ? [] : argv.slice(dash + 1);
  const inProcess = flags.indexOf("--in-process");
  const tool = rest[0]?.split("/").pop() ?? "?";
  // A plugin's action in a process of its own: `shield plugin NAME ACTION`.
  const what = inProcess >= 0 ? `${flags[inProcess + 1]} ${rest[0] ?? ""} in-process` : tool.startsWith("shield") ? rest.slice(1, 4).join(" ") : tool;
  return `guard: ${what.trim()}${flags.includes("--seal") ? " + seal" : ""}`;
}

/**
 * CPU seconds of each kind of process (processKind) in the tree under `root`, root
 * included, sampled from /proc/PID/stat every `every` ms: for a process that was there
 * at the first sample (unless `fresh`: the whole tree is new), what it used since. A
 * process that exits between two samples loses what it used after the last one; the
 * caller compares the sum with the tree's exact rusage.
 */
export class TreeCpu {
  private readonly seen = new Map<string, { kind: string; base: number; last: number }>();
  private readonly timer: ReturnType<typeof setInterval>;
  private first = true;
  constructor(private readonly root: number, private readonly fresh: boolean, every = 50) {
    this.tick();
    this.first = false;
    this.timer = setInterval(() => this.tick(), every);
  }
  private tick(): void {
    const todo = [this.root];
    while (todo.length) {
      const pid = todo.pop()!;
      const st = procStat(pid);
      if (st) {
        const key = `${pid}:${st.start}`;
        const p = this.seen.get(key);
        // Named again at each look: a shell's fork is "bash" until it execs its tool.
        // (Not once it is exiting: a zombie has no command line.)
        if (p) {
          p.last = st.cpu;
          const kind = processKind(pid);
          if (kind !== "?") p.kind = kind;
        }
        else this.seen.set(key, { kind: processKind(pid), base: this.first && !this.fresh ? st.cpu : 0, last: st.cpu });
      }
      todo.push(...childrenOf(pid));
    }
  }
  stop(): Map<string, number> {
    clearInterval(this.timer);
    this.tick();
    const kinds = new Map<string, number>();
    for (const p of this.seen.values()) kinds.set(p.kind, (kinds.get(p.kind) ?? 0) + p.last - p.base);
    return kinds;
  }
}
