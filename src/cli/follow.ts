// `--follow`: polls GET /v1/task/:uuid, prints only the log text not printed yet,
// keeps a progress bar on the terminal (the task's `progress`: the same words as the
// web page's bar), and ends with the task's outcome as the exit code. Not on a
// terminal, the progress is plain lines: one per phase, then one every few seconds. The log goes to stdout, or to stderr with --json (stdout then holds
// the final task JSON).
import type { Ctx } from "./command.ts";
import { EXIT } from "./errors.ts";
import { short } from "./output.ts";
import { progressText, type ProgressView } from "../../views/format.ts";

const POLL_MS = 500;
/** Not on a terminal: a progress line this often at most (besides one per phase). */
const PLAIN_EVERY_MS = 5000;
const BAR_WIDTH = 24;

/** "[#########...............] " for a known percentage; nothing without one. */
export function bar(p: ProgressView): string {
  if (p.percent === null) return "";
  const filled = Math.round((p.percent / 100) * BAR_WIDTH);
  return `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] `;
}
const FINISHED = ["done", "failed", "canceled"];

/** A task just filed: with --follow, a line saying what it is and then the task followed; else reported with how to look at it. */
export async function followOrReport(ctx: Ctx, r: { task_uuid: string }, what: string, scheduled: string): Promise<number | void> {
  if (ctx.flag("follow")) {
    process.stderr.write(`${what}: task ${r.task_uuid}\n`);
    return followTask(ctx, r.task_uuid);
  }
  ctx.report(r, `${scheduled}: task ${r.task_uuid} (shield show task ${short(r.task_uuid)})`);
}

export async function followTask(ctx: Ctx, uuid: string): Promise<number> {
  const api = ctx.api();
  const err = process.stderr;
  const live = !!err.isTTY;
  const logOut = (s: string) => (ctx.json ? err.write(s) : process.stdout.write(s));
  const started = Date.now();
  let printed = 0;
  let lastStatus = "";
  let progressShown = false;
  let lastProgress = "";
  let plainPhase = "";
  let plainAt = 0;

  const clearProgress = () => {
    if (progressShown) { err.write("\r\x1b[K"); progressShown = false; }
  };
  let interrupted = false;
  const onSigint = () => { interrupted = true; };
  process.on("SIGINT", onSigint);
  try {
    for (;;) {
      const task = await api.get<any>(`/v1/task/${uuid}`);
      const log: string = task.log ?? "";
      if (log.length > printed) {
        clearProgress();
        logOut(log.slice(printed));
        printed = log.length;
        const at = log.lastIndexOf("progress: ");
        if (at >= 0) lastProgress = log.slice(at + "progress: ".length).split("\n")[0]!;
      }
      const finished = FINISHED.includes(task.status);
      if (!finished) {
        const secs = Math.round((Date.now() - started) / 1000);
        const p: ProgressView | null = task.progress ?? null;
        // A daemon that does not run the task has no live progress: the log's last progress line then.
        const words = p ? `${bar(p)}${progressText(p)}` : lastProgress;
        const line = `task ${short(uuid)} ${task.status} · ${secs} s${words ? ` · ${words}` : ""}`;
        if (live) { err.write(`\r\x1b[K${line.slice(0, Math.max(20, (err.columns ?? 200) - 1))}`); progressShown = true; }
        else if (task.status !== lastStatus || (p && (p.phase !== plainPhase || Date.now() - plainAt >= PLAIN_EVERY_MS))) {
          err.write(`${line}\n`);
          if (p) { plainPhase = p.phase; plainAt = Date.now(); }
        }
      } else {
        clearProgress();
        err.write(`task ${short(uuid)} ${task.status}${task.archive_uuid && task.type === "backup" && task.status === "done" ? `: archive ${task.archive_uuid}` : ""}\n`);
        if (ctx.json) ctx.out.data(task);
        return task.status === "done" ? EXIT.OK : task.status === "canceled" ? EXIT.TASK_CANCELED : EXIT.TASK_FAILED;
      }
      lastStatus = task.status;
      for (let waited = 0; waited < POLL_MS && !interrupted; waited += 50) await Bun.sleep(50);
      if (interrupted) {
        clearProgress();
        err.write(`stopped following; the task goes on (shield show task ${short(uuid)}, shield cancel task ${short(uuid)})\n`);
        return EXIT.INTERRUPTED;
      }
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
}
