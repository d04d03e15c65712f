// `--follow`: polls GET /v1/task/:uuid, prints only the log text not printed yet,
// keeps a progress line on the terminal, and ends with the task's outcome as the
// exit code. The log goes to stdout, or to stderr with --json (stdout then holds
// the final task JSON).
import type { Ctx } from "./command.ts";
import { EXIT } from "./errors.ts";
import { short } from "./output.ts";

const POLL_MS = 500;
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
        const line = `task ${short(uuid)} ${task.status} · ${secs} s${lastProgress ? ` · ${lastProgress}` : ""}`;
        if (live) { err.write(`\r\x1b[K${line}`); progressShown = true; }
        else if (task.status !== lastStatus) err.write(`${line}\n`);
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
