// Who runs a task: each daemon process is one runner, with a random id per start
// (a restarted daemon is a new runner, even with the same pid), and its host and
// pid for people reading a task.
//
// Whether another runner is dead is decided two ways (see Supervisor.recover):
// - its heartbeat went stale (older than the grace): works across machines, and
//   is the only rule that is always safe, but costs the grace;
// - it ran on this very machine and its pid is gone. That makes a daemon that
//   crashed and is restarted on the same host fail its dead tasks at once, as
//   before heartbeats existed, instead of a minute later. A pid means something
//   only within one PID namespace of one kernel boot, so the runner records
//   that "pid space" (the boot id and the PID namespace's inode, from /proc) and
//   the rule applies only when it equals ours. Two containers sharing a hostname
//   have different pid spaces, so neither mistakes the other's pids for its own;
//   where /proc cannot tell (not Linux) the space is null and only staleness counts.
//   A pid reused by an unrelated process merely looks alive: the task then waits
//   out the grace, never the reverse.
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";
import type { Runner } from "../catalog/index.ts";
import { exitedUnreaped } from "../process-state.ts";

export function pidSpace(): string | null {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const ns = readlinkSync("/proc/self/ns/pid"); // e.g. "pid:[4026531836]"
    return boot && ns ? `${boot} ${ns}` : null;
  } catch {
    return null;
  }
}

/** A new runner for this process (the supervisor makes one when it starts). */
export function newRunner(): Runner {
  return { id: crypto.randomUUID(), host: hostname(), pid: process.pid, pidSpace: pidSpace() };
}

/** How a task's runner is shown: "host pid 1234". */
export function runnerLabel(t: { runnerHost: string | null; runnerPid: number | null }): string | null {
  return t.runnerHost === null ? null : `${t.runnerHost} pid ${t.runnerPid}`;
}

/** True when the runner certainly died: it ran in our pid space and its process is gone. */
export function deadHere(t: { runnerPid: number | null; runnerPidSpace: string | null }, ours: string | null): boolean {
  if (ours === null || t.runnerPidSpace !== ours || t.runnerPid === null) return false;
  return !processExists(t.runnerPid);
}

function processExists(pid: number): boolean {
  try {
    // Signal 0 only checks: ESRCH means no such process; EPERM means it exists but is not ours.
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
  // A zombie (killed, not yet reaped by its parent) runs nothing: count it as gone.
  return !exitedUnreaped(pid);
}
