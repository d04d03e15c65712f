// Jobs: a target, a store, a schedule and a retention policy together; plus pause,
// unpause, paused (for scripts: exit 0 if paused, 1 if not) and run (--follow).
import type { Command, Ctx } from "../command.ts";
import type { Query } from "../client.ts";
import { CliError, EXIT, UsageError } from "../errors.ts";
import { followOrReport } from "../follow.ts";
import { createBody, editBody, formSpecs, type Field } from "../form.ts";
import { formatBytes, formatDuration, short } from "../output.ts";
import { ask } from "../prompt.ts";
import { KINDS, resolve, resolveUuid, type Kind } from "../resolve.ts";
import { oneOf, parseInteger } from "../values.ts";
import { whoami } from "./session.ts";

/** What `--schedule` takes for a job without a schedule (run by hand only). */
const NO_SCHEDULE = ["", "none"];

/**
 * A job's reference to a target, store, schedule or policy: a name or UUID prefix,
 * resolved. `optional` (the schedule): "" or "none" is null, no such thing.
 */
function reference(key: "target" | "store" | "schedule" | "retention", kind: Kind, optional = false): Field {
  const none = (t: string) => optional && NO_SCHEDULE.includes(t.trim().toLowerCase());
  return {
    key, flag: key, question: kind.name[0]!.toUpperCase() + kind.name.slice(1) + (optional ? " (none: run by hand only)" : ""),
    required: !optional, remote: true,
    parse: (t, ctx) => (none(t) ? null : resolveUuid(ctx.api(), kind, t)),
    from: (o) => o[`${key}_uuid`],
    async ask(ctx, _body, was) {
      const all = await ctx.api().get<any[]>(kind.list);
      process.stderr.write(`${kind.plural[0]!.toUpperCase() + kind.plural.slice(1)}: ${all.map((o) => o.name).join(", ") || "(none yet)"}\n`);
      const current = all.find((o) => o.uuid === was)?.name ?? (optional && was === null ? "none" : undefined);
      for (;;) {
        const answer = await ask(this.question, { required: !optional, default: current });
        if (none(answer)) return null;
        try {
          return await resolveUuid(ctx.api(), kind, answer);
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          process.stderr.write(`  ${err.message.split("\n").join("\n  ")}\n`);
        }
      }
    },
  };
}

const FIELDS: Field[] = [
  { key: "name", flag: "name", question: "Name", required: true },
  { key: "summary", flag: "summary", question: "Summary", required: false },
  reference("target", KINDS.target),
  reference("store", KINDS.store),
  reference("schedule", KINDS.schedule, true),
  reference("retention", KINDS.retention),
  { key: "priority", flag: "priority", question: "Priority (0 highest to 100)", required: false, noPrompt: true, parse: (t) => parseInteger(t, "--priority", 0, 100) },
  { key: "compression", flag: "compression", question: "Compression (zstd, gzip, none)", required: false, noPrompt: true, parse: (t) => oneOf(t, "--compression", ["zstd", "gzip", "none"]) },
  { key: "paused", flag: "paused", question: "Start paused", required: false, boolean: true, createOnly: true, fallback: false },
  // STORE:POLICY,STORE:POLICY (names or UUIDs); "" for none.
  {
    key: "copies", flag: "copies", question: "Copies (STORE:POLICY, comma-separated)", required: false, noPrompt: true, remote: true,
    parse: async (t, ctx) => {
      const out = [];
      for (const item of t.split(",").map((x) => x.trim()).filter(Boolean)) {
        const [store, policy, extra] = item.split(":");
        if (!store || !policy || extra !== undefined) throw new UsageError(`--copies: each copy is STORE:POLICY (names or UUIDs), not "${item}"`);
        out.push({ store: await resolveUuid(ctx.api(), KINDS.store, store), retention: await resolveUuid(ctx.api(), KINDS.retention, policy) });
      }
      return out;
    },
  },
  { key: "run_window", flag: "window", question: "Run window (HH:MM-HH:MM; empty: any time)", required: false, noPrompt: true },
];

const job = (ctx: Ctx) => resolve(ctx.api(), KINDS.job, ctx.arg(0));

/** "done 2024-01-01 04:00:00, 12s, 3.1 MiB" or "FAILED 2024-01-01 04:00:00, 2s": the last run in one cell. */
function lastRunCell(r: any): string {
  if (!r) return "never";
  const figures = [r.duration === null ? "" : formatDuration(r.duration), r.size === null ? "" : formatBytes(r.size)].filter(Boolean);
  return [`${r.status === "failed" ? "FAILED" : r.status} ${r.stopped_at}`, ...figures].join(", ");
}

/** A failed last run's error, cut to fit a table cell (show job prints it whole). */
function errorCell(r: any): string | null {
  if (r?.status !== "failed" || !r.error) return null;
  return r.error.length > 60 ? `${r.error.slice(0, 59)}…` : r.error;
}

const percent = (rate: number | null | undefined) => (rate === null || rate === undefined ? "-" : `${Math.round(rate * 100)}%`);

/** The job's health, as `show job` prints it (keys short enough to keep the details aligned as before). */
function healthDetails(o: any): [string, unknown][] {
  const r = o.last_run;
  const w = o.window;
  const pairs: [string, unknown][] = [
    ["Last run", r ? `${r.status === "failed" ? "FAILED" : r.status} at ${r.stopped_at} UTC` +
      `${r.duration === null ? "" : `, ran ${formatDuration(r.duration)}`}${r.size === null ? "" : `, ${formatBytes(r.size)}`} (task ${short(r.task_uuid)})` : "never"],
  ];
  if (r?.error) pairs.push(["Last error", r.error]);
  pairs.push(["Next run", o.next_run ? `${o.next_run} UTC` : o.paused ? "- (paused)" : o.schedule_uuid === null ? "- (no schedule: run by hand)" : "- (the schedule never runs again)"]);
  if (w) {
    const days = formatDuration(w.seconds);
    pairs.push([`Runs (${days})`, w.runs ? `${w.runs}, ${w.failures} failed: ${percent(w.success_rate)} succeeded` : "none"]);
    if (w.median_duration !== null) pairs.push(["Median", `ran ${formatDuration(Math.round(w.median_duration))}, ${formatBytes(w.median_size)}`]);
    if (w.size_trend_per_day !== null) pairs.push(["Size trend", `${w.size_trend_per_day < 0 ? "-" : "+"}${formatBytes(Math.abs(w.size_trend_per_day))} a day`]);
  }
  return pairs;
}

export function jobDetails(o: any): [string, unknown][] {
  return [
    ["UUID", o.uuid], ["Name", o.name], ["Summary", o.summary], ["Paused", o.paused],
    ["Target", `${o.target_name} (${o.target_plugin}, ${o.target_uuid})`],
    ["Store", `${o.store_name} (${o.store_plugin}, ${o.store_uuid})`],
    ["Schedule", o.schedule_uuid === null ? "(none: runs only when asked)" : `${o.schedule_name}: ${o.schedule} (${o.schedule_uuid})`],
    ["Retention", `${o.retention_name}: ${formatDuration(o.expiry)} (${o.retention_uuid})`],
    ["Priority", o.priority], ["Compression", o.compression], ["Agent", o.agent || "(none: the core runs the plugin)"],
    ["Copies", (o.copies ?? []).length ? o.copies.map((c: any) => `store ${c.store}, policy ${c.retention}`).join("; ") : "(none)"],
    ["Run window", o.run_window || "(any time)"],
    ...healthDetails(o),
  ];
}

async function listQuery(ctx: Ctx): Promise<Query> {
  if (ctx.flag("paused") && ctx.flag("unpaused")) throw new UsageError("--paused and --unpaused exclude each other");
  const api = ctx.api();
  const q: Query = {};
  if (ctx.flag("paused")) q.paused = "t";
  if (ctx.flag("unpaused")) q.paused = "f";
  for (const [flag, kind] of [["target", KINDS.target], ["store", KINDS.store], ["schedule", KINDS.schedule], ["retention", KINDS.retention]] as const) {
    if (ctx.has(flag)) q[flag] = await resolveUuid(api, kind, ctx.str(flag)!);
  }
  if (ctx.has("retention-policy")) q.retention = await resolveUuid(api, KINDS.retention, ctx.str("retention-policy")!);
  return q;
}

export const jobCommands: Command[] = [
  {
    verb: "list", noun: "job", summary: "List jobs, with their last and next run",
    usage: "list jobs [--paused|--unpaused] [--target T] [--store S] [--schedule S] [--retention R]",
    options: [["--paused / --unpaused", "only paused, or only active, jobs"], ["--target T", "only jobs of this target (name or UUID)"],
      ["--store S", "only jobs into this store"], ["--schedule S", "only jobs on this schedule"], ["--retention R", "only jobs under this retention policy (also --retention-policy)"]],
    examples: ["shield list jobs", "shield list jobs --unpaused --target orders-db", "shield list jobs --json | jq -r '.[].name'"],
    specs: [{ name: "paused", flag: true }, { name: "unpaused", flag: true }, { name: "target" }, { name: "store" }, { name: "schedule" }, { name: "retention" }, { name: "retention-policy" }],
    async run(ctx) {
      ctx.out.list(await ctx.api().get<any[]>("/v1/jobs", await listQuery(ctx)), [
        { title: "UUID", value: (o) => short(o.uuid) }, { title: "Name", value: (o) => o.name }, { title: "Paused", value: (o) => o.paused },
        { title: "Target", value: (o) => o.target_name }, { title: "Store", value: (o) => o.store_name },
        { title: "Schedule", value: (o) => o.schedule ?? "(none)" }, { title: "Retention", value: (o) => formatDuration(o.expiry) },
        { title: "Last run (UTC)", value: (o) => lastRunCell(o.last_run) },
        { title: "Next run (UTC)", value: (o) => o.next_run ?? (o.paused ? "- (paused)" : "-") },
        { title: "OK (30d)", value: (o) => percent(o.window?.success_rate) },
        { title: "Last error", value: (o) => errorCell(o.last_run) },
      ], "(no jobs)");
    },
  },
  {
    verb: "show", noun: "job", summary: "Show one job, with its last run, next run and how its runs went", usage: "show job JOB", args: ["JOB"],
    examples: ["shield show job orders-nightly", "shield show job af0b --json"],
    async run(ctx) { ctx.out.show(await job(ctx), jobDetails); },
  },
  {
    verb: "create", noun: "job", summary: "Create a job",
    usage: "create job --name NAME --target T --store S [--schedule S|none] --retention R [--summary S] [--paused] [--priority 0-100] [--compression zstd|gzip|none] [--copies STORE:POLICY,...] [--window HH:MM-HH:MM]",
    options: [["--name NAME", "the job's name (required)"], ["--summary TEXT", "what it is for"],
      ["--target T", "the target to back up: name or UUID (required)"], ["--store S", "where archives go (required)"],
      ["--schedule S", "when it runs; left out (or none), the job runs only when asked (shield run job)"], ["--retention R", "how long archives are kept (required)"],
      ["--paused", "create it paused"], ["--priority N", "0 (highest) to 100; 50 by default"], ["--compression C", "zstd (default), gzip or none"],
      ["--copies STORE:POLICY,...", "also copy each archive to these stores, each kept by its own retention policy; \"\" for none"],
      ["--window HH:MM-HH:MM", "scheduled runs due outside this window (the daemon's zone) wait for its start; \"\" for any time"]],
    examples: [
      "shield create job --name orders-nightly --target orders-db --store local --schedule nightly --retention month",
      "shield create job --name orders-adhoc --target orders-db --store local --schedule none --retention month",
      "shield create job     # on a terminal: asks, listing the targets, stores, schedules and policies",
    ],
    specs: formSpecs(FIELDS),
    async run(ctx) {
      const body = await createBody(ctx, FIELDS);
      const r = await ctx.api().post<any>("/v1/jobs", body);
      ctx.report(r, `created job ${body.name} (${r.uuid})${body.paused ? ", paused" : ""}${body.schedule ? "" : ", without a schedule: it runs only when asked (shield run job)"}`);
    },
  },
  {
    verb: "edit", noun: "job", summary: "Change a job (pause and unpause have their own commands)",
    usage: "edit job JOB [--name N] [--summary S] [--target T] [--store S] [--schedule S] [--retention R] [--priority N] [--compression C] [--copies C] [--window W] [--force]",
    options: [["--name, --summary, --target, --store, --schedule, --retention, --priority, --compression, --copies, --window", "as for create job; what is not given stays"],
      ["--force", "confirm a --retention that purges more than --retention-max-purge-share of the job's archives at once"]],
    examples: ["shield edit job orders-nightly --schedule weekly", "shield edit job orders-nightly --schedule none", "shield edit job orders-nightly --retention quarter --summary 'kept longer'"],
    specs: [...formSpecs(FIELDS.filter((f) => !f.createOnly)), { name: "force", flag: true }], args: ["JOB"],
    async run(ctx) {
      const current = await job(ctx);
      const body = await editBody(ctx, FIELDS, current);
      if (ctx.flag("force")) body.force = true;
      const r = await ctx.api().put<any>(`/v1/job/${current.uuid}`, body);
      ctx.report(r, `updated job ${body.name} (${current.uuid})`);
    },
  },
  {
    verb: "delete", noun: "job", summary: "Delete a job (its archives stay until they expire)", usage: "delete job JOB [-y]", args: ["JOB"],
    examples: ["shield delete job orders-adhoc", "shield delete job af0b -y"],
    async run(ctx) {
      const o = await job(ctx);
      await ctx.confirm(`Delete job "${o.name}" (${o.uuid})?`);
      ctx.report(await ctx.api().delete(`/v1/job/${o.uuid}`), `deleted job ${o.name} (${o.uuid})`);
    },
  },
  ...(["pause", "unpause"] as const).map((action): Command => ({
    verb: action, noun: "job", summary: action === "pause" ? "Pause a job: the scheduler skips it" : "Unpause a job",
    usage: `${action} job JOB`, args: ["JOB"], examples: [`shield ${action} job orders-nightly`],
    async run(ctx) {
      const o = await job(ctx);
      ctx.report(await ctx.api().post(`/v1/job/${o.uuid}/${action}`), `${action}d job ${o.name}`);
    },
  })),
  {
    verb: "paused", noun: "job", summary: "Tell whether a job is paused: exit 0 if it is, 1 if it is not",
    usage: "paused job JOB", args: ["JOB"],
    examples: ["shield paused job orders-nightly", "if shield paused job orders-nightly >/dev/null; then shield unpause job orders-nightly; fi"],
    async run(ctx) {
      const o = await job(ctx);
      ctx.report(o, `job ${o.name} is ${o.paused ? "paused" : "not paused"}`);
      return o.paused ? EXIT.OK : EXIT.USAGE;
    },
  },
  {
    verb: "run", noun: "job", summary: "Run a job now (an ad hoc backup)",
    usage: "run job JOB [--follow]",
    options: [["--follow", "print the task's log as it runs; exit 0 when it is done, 4 if it failed, 5 if canceled"]],
    examples: ["shield run job orders-nightly", "shield run job orders-nightly --follow", "shield run job orders-nightly --json | jq -r .task_uuid"],
    specs: [{ name: "follow", short: "f", flag: true }], args: ["JOB"],
    async run(ctx) {
      const o = await job(ctx);
      const me = await whoami(ctx);
      const r = await ctx.api().post<any>(`/v1/job/${o.uuid}/run`, { owner: me.name });
      return followOrReport(ctx, r, `backup of job ${o.name}`, `scheduled a backup of job ${o.name}`);
    },
  },
];
