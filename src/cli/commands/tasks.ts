// Tasks: what is running and what just ended (or, with --all, everything; with
// --status, one state), one task with its log, cancel.
import type { Command } from "../command.ts";
import { ApiError, type Api, type Query } from "../client.ts";
import { UsageError } from "../errors.ts";
import { followTask } from "../follow.ts";
import { short } from "../output.ts";
import { KINDS, resolve, resolveUuid } from "../resolve.ts";
import { oneOf, parseInteger } from "../values.ts";

const STATUSES = ["pending", "running", "canceled", "failed", "done"] as const;
/** How many finished tasks plain `list tasks` shows after the live ones. */
const RECENT = 10;
const newestFirst = (a: any, b: any) => (a.requested_at < b.requested_at ? 1 : a.requested_at > b.requested_at ? -1 : 0);

/** Names of a task's job, target and store by UUID (whichever could be read; a deleted one is left out). */
export type Names = Record<string, string>;

/** The names `show task` prints beside the UUIDs: one request for each of the task's job, target and store. */
async function taskNames(api: Api, t: any): Promise<Names> {
  const names: Names = {};
  await Promise.all(([["job_uuid", "/v1/job"], ["target_uuid", "/v1/target"], ["store_uuid", "/v1/store"]] as const).map(async ([key, item]) => {
    if (!t[key]) return;
    try {
      names[t[key]] = (await api.get<any>(`${item}/${t[key]}`)).name;
    } catch (err) {
      // Deleted since (404), or not for this user to see: the UUID alone is printed.
      if (!(err instanceof ApiError)) throw err;
    }
  }));
  return names;
}

/** "orders-nightly (5e2c…)"; the UUID alone when the name is unknown. */
const named = (uuid: string | null, names: Names) => (uuid ? (names[uuid] ? `${names[uuid]} (${uuid})` : uuid) : null);

/** The readable `show task` (its log follows): names first for its job, target and store. */
export function taskDetails(t: any, names: Names = {}): [string, unknown][] {
  return [
    ["UUID", t.uuid], ["Type", t.type], ["Status", t.status], ["Owner", t.owner],
    // requested_by: who filed it (a user, an API token "token:USER/NAME", the scheduler); "-" on tasks older than the field.
    ["Asked by", t.requested_by ?? "-"],
    // A failed task's reason before the rest: it is what the reader came for.
    ...(t.error ? [["Error", t.error] as [string, unknown]] : []),
    ["Job", named(t.job_uuid, names)], ["Archive", t.archive_uuid], ["Target", named(t.target_uuid, names)], ["Store", named(t.store_uuid, names)],
    ["Requested", `${t.requested_at} UTC`],
    // A scheduled backup: the time it was filed for, which may be ahead of when it starts.
    ...(t.due_at ? [["Due", `${t.due_at} UTC (the scheduled time it was filed for)`] as [string, unknown]] : []),
    ["Started", t.started_at && `${t.started_at} UTC`], ["Stopped", t.stopped_at && `${t.stopped_at} UTC`],
    ["Runner", t.runner],
  ];
}

export const taskCommands: Command[] = [
  {
    verb: "list", noun: "task", summary: "List pending and running tasks, then the latest finished ones (--all: every task, newest first)",
    usage: "list tasks [--all] [--status STATUS] [--job JOB] [--archive ARCHIVE] [--limit N]",
    options: [["--all", "every task, newest first"], ["--status STATUS", `only tasks in this state: ${STATUSES.join(", ")}`],
      ["--job JOB", "only tasks of this job (name or UUID)"], ["--archive ARCHIVE", "only tasks of this archive"], ["--limit N", "at most N (100 by default)"]],
    examples: ["shield list tasks", "shield list tasks --status failed", "shield list tasks --all --job orders-nightly", "shield list tasks --status failed --json"],
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
        // The API filters one status at a time; "what is going on" is both, and
        // what just ended (the newest RECENT of the others) shows how it went.
        const [running, pending, latest] = await Promise.all([
          api.get<any[]>("/v1/tasks", { ...q, status: "running" }), api.get<any[]>("/v1/tasks", { ...q, status: "pending" }),
          api.get<any[]>("/v1/tasks", { ...q, limit: Math.min(1000, (q.limit as number | undefined) ?? RECENT) + 100 }),
        ]);
        const live = [...running, ...pending].sort(newestFirst);
        const finished = latest.filter((t) => t.status !== "running" && t.status !== "pending").slice(0, (q.limit as number | undefined) ?? RECENT);
        rows = [...live, ...finished];
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
      ], "(no tasks)");
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
      ctx.out.details(taskDetails(t, await taskNames(ctx.api(), t)));
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
