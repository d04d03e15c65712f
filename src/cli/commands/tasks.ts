// Tasks: what is running (or, with --all, what ran), one task with its log, cancel.
import type { Command } from "../command.ts";
import type { Query } from "../client.ts";
import { UsageError } from "../errors.ts";
import { followTask } from "../follow.ts";
import { short } from "../output.ts";
import { KINDS, resolve, resolveUuid } from "../resolve.ts";
import { oneOf, parseInteger } from "../values.ts";

const STATUSES = ["pending", "running", "canceled", "failed", "done"] as const;

/** The readable `show task` (its log follows). */
export function taskDetails(t: any): [string, unknown][] {
  return [
    ["UUID", t.uuid], ["Type", t.type], ["Status", t.status], ["Owner", t.owner],
    // requested_by: who filed it (a user, an API token "token:USER/NAME", the scheduler); "-" on tasks older than the field.
    ["Asked by", t.requested_by ?? "-"],
    ["Job", t.job_uuid], ["Archive", t.archive_uuid], ["Target", t.target_uuid], ["Store", t.store_uuid],
    ["Requested", `${t.requested_at} UTC`],
    // A scheduled backup: the time it was filed for, which may be ahead of when it starts.
    ...(t.due_at ? [["Due", `${t.due_at} UTC (the scheduled time it was filed for)`] as [string, unknown]] : []),
    ["Started", t.started_at && `${t.started_at} UTC`], ["Stopped", t.stopped_at && `${t.stopped_at} UTC`],
    ["Runner", t.runner],
    // A failed task's reason in one line, before the log that tells the whole story.
    ...(t.error ? [["Error", t.error] as [string, unknown]] : []),
  ];
}

export const taskCommands: Command[] = [
  {
    verb: "list", noun: "task", summary: "List pending and running tasks (--all: every task, newest first)",
    usage: "list tasks [--all] [--status STATUS] [--job JOB] [--archive ARCHIVE] [--limit N]",
    options: [["--all", "finished tasks too"], ["--status STATUS", STATUSES.join(", ")],
      ["--job JOB", "only tasks of this job (name or UUID)"], ["--archive ARCHIVE", "only tasks of this archive"], ["--limit N", "at most N (100 by default)"]],
    examples: ["shield list tasks", "shield list tasks --all --job orders-nightly", "shield list tasks --status failed --json"],
    specs: [{ name: "all", flag: true }, { name: "status" }, { name: "job" }, { name: "archive" }, { name: "limit" }],
    async run(ctx) {
      const api = ctx.api();
      const q: Query = {};
      if (ctx.has("job")) q.job = await resolveUuid(api, KINDS.job, ctx.str("job")!);
      if (ctx.has("archive")) q.archive = await resolveUuid(api, KINDS.archive, ctx.str("archive")!);
      if (ctx.has("limit")) q.limit = parseInteger(ctx.str("limit")!, "--limit", 1, 1000);
      if (ctx.has("status") && ctx.flag("all")) throw new UsageError("--all and --status exclude each other");
      let rows: any[];
      if (ctx.has("status")) rows = await api.get<any[]>("/v1/tasks", { ...q, status: oneOf(ctx.str("status")!, "--status", STATUSES) });
      else if (ctx.flag("all")) rows = await api.get<any[]>("/v1/tasks", q);
      else {
        // The API filters one status at a time; "what is going on" is both.
        const [running, pending] = await Promise.all([api.get<any[]>("/v1/tasks", { ...q, status: "running" }), api.get<any[]>("/v1/tasks", { ...q, status: "pending" })]);
        rows = [...running, ...pending].sort((a, b) => (a.requested_at < b.requested_at ? 1 : a.requested_at > b.requested_at ? -1 : 0));
      }
      if (ctx.json) return ctx.out.data(rows);
      const jobs = new Map((await api.get<any[]>("/v1/jobs")).map((j) => [j.uuid, j.name]));
      const targets = new Map((await api.get<any[]>("/v1/targets")).map((t) => [t.uuid, t.name]));
      ctx.out.table(rows, [
        { title: "UUID", value: (t) => short(t.uuid) }, { title: "Type", value: (t) => t.type }, { title: "Status", value: (t) => t.status },
        { title: "Owner", value: (t) => t.owner }, { title: "Job", value: (t) => (t.job_uuid ? jobs.get(t.job_uuid) ?? short(t.job_uuid) : null) },
        { title: "Target", value: (t) => (t.target_uuid ? targets.get(t.target_uuid) ?? short(t.target_uuid) : null) },
        { title: "Archive", value: (t) => short(t.archive_uuid) },
        { title: "Requested (UTC)", value: (t) => t.requested_at }, { title: "Stopped (UTC)", value: (t) => t.stopped_at },
      ], ctx.flag("all") || ctx.has("status") ? "(no tasks)" : "(no pending or running tasks; --all shows finished ones)");
    },
  },
  {
    verb: "show", noun: "task", summary: "Show one task, with its log", usage: "show task TASK [--follow]", args: ["TASK"],
    options: [["--follow", "keep printing the log until the task ends; exit with its outcome"]],
    examples: ["shield show task 5e2c", "shield show task 5e2c --follow", "shield show task 5e2c --json | jq -r .log"],
    specs: [{ name: "follow", short: "f", flag: true }],
    async run(ctx) {
      const t = await resolve(ctx.api(), KINDS.task, ctx.arg(0));
      if (ctx.flag("follow")) return followTask(ctx, t.uuid);
      if (ctx.json) return ctx.out.data(t);
      ctx.out.details(taskDetails(t));
      ctx.out.line("Log:");
      ctx.out.write(t.log ? t.log.replace(/^/gm, "  ").replace(/ +$/, "") : "  (empty)\n");
    },
  },
  {
    verb: "cancel", noun: "task", summary: "Cancel a pending or running task", usage: "cancel task TASK [-y]", args: ["TASK"],
    examples: ["shield cancel task 5e2c", "shield cancel task 5e2c -y"],
    async run(ctx) {
      const t = await resolve(ctx.api(), KINDS.task, ctx.arg(0));
      await ctx.confirm(`Cancel ${t.type} task ${t.uuid} (${t.status})?`);
      ctx.report(await ctx.api().delete(`/v1/task/${t.uuid}`), `canceled task ${t.uuid}`);
    },
  },
];
