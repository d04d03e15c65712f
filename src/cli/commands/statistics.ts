// `shield statistics`: what the stores hold and how fast they grow, per target,
// and the jobs whose last backup failed (GET /v1/statistics).
import type { Command } from "../command.ts";
import { formatBytes } from "../output.ts";
import { UsageError } from "../errors.ts";

const perDay = (n: number) => `${n < 0 ? "-" : "+"}${formatBytes(Math.abs(n))}`;

export const statisticsCommands: Command[] = [{
  verb: "statistics", summary: "What the stores hold and how fast they grow; the failing jobs",
  usage: "statistics [--window D]",
  options: [["--window D", "the growth is measured over this long: 30d (default), 7d, 12h"]],
  examples: ["shield statistics", "shield statistics --window 7d", "shield statistics --json | jq '.failing_jobs[].name'"],
  specs: [{ name: "window" }],
  async run(ctx) {
    const window = ctx.str("window");
    if (window !== undefined && !/^\d+[smhd]?$/.test(window)) throw new UsageError(`--window must be a duration like 30d, 12h or 90m (got "${window}")`);
    const s = await ctx.api().get<any>("/v1/statistics", window === undefined ? {} : { window });
    if (ctx.json) return ctx.out.data(s);
    const out = ctx.out;
    out.line(`${s.totals.archives} archives held, ${formatBytes(s.totals.bytes)}; ${s.totals.jobs} jobs, ${s.totals.failing_jobs} failing`);
    const r = s.runs;
    out.line(r.runs ? `Backups in the window: ${r.runs}, ${r.failures} failed (${Math.round(r.success_rate * 100)}% succeeded)` : "No backup ended in the window.");
    out.line();
    out.table(s.stores, [
      { title: "Store", value: (o: any) => o.name ?? `(deleted ${o.uuid.slice(0, 8)})` }, { title: "Plugin", value: (o: any) => o.plugin },
      { title: "Archives", value: (o: any) => o.archives }, { title: "Size", value: (o: any) => formatBytes(o.bytes) },
      { title: "Added/day", value: (o: any) => perDay(o.added_per_day) }, { title: "Growth/day", value: (o: any) => perDay(o.growth_per_day) },
    ], "(no stores)");
    out.line();
    out.table(s.targets, [
      { title: "Target", value: (o: any) => o.name ?? `(deleted ${o.uuid.slice(0, 8)})` }, { title: "Plugin", value: (o: any) => o.plugin },
      { title: "Archives", value: (o: any) => o.archives }, { title: "Size", value: (o: any) => formatBytes(o.bytes) },
      { title: "Last taken (UTC)", value: (o: any) => o.last_taken_at },
    ], "(no targets)");
    out.line();
    if (!s.failing_jobs.length) out.line("No job's last backup failed.");
    else {
      out.line("Failing jobs (their last backup failed):");
      out.table(s.failing_jobs, [
        { title: "Job", value: (o: any) => o.name }, { title: "Failed (UTC)", value: (o: any) => o.failed_at },
        { title: "Task", value: (o: any) => o.task_uuid.slice(0, 8) }, { title: "Error", value: (o: any) => o.error },
      ]);
    }
  },
}];
