// Notification channels (admins only) and restore drills, verb noun style.
// Secret settings (an SMTP password, a webhook's secret, a chat webhook's URL,
// which carries its token) never come from argv: --settings-stdin reads them as
// a JSON object from stdin; --setting KEY=VALUE takes the others.
import type { Command, Ctx } from "../command.ts";
import { UsageError } from "../errors.ts";
import { short } from "../output.ts";
import { resolve, resolveUuid, KINDS, type Kind } from "../resolve.ts";

const CHANNEL: Kind = {
  name: "notification channel", plural: "notifications", list: "/v1/notifications", item: "/v1/notification", named: true,
  describe: (o: any) => `${o.name} (${o.kind})`,
};
const KIND_NAMES = ["webhook", "slack", "discord", "mattermost", "teams", "email", "ping"];
/** Settings given only on stdin: the same keys the core seals (src/notify/channels.ts). */
const SECRET_SETTINGS = (kind: string) => (kind === "email" ? ["password"] : kind === "webhook" ? ["secret", "url"] : ["url"]);

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** A setting's value: a number for port, a list (comma-separated) for to, else the text. */
function settingValue(key: string, value: string): unknown {
  if (key === "port" && /^\d+$/.test(value)) return Number(value);
  if (key === "to") return value.split(",").map((s) => s.trim()).filter(Boolean);
  return value;
}

async function settingsOf(ctx: Ctx, kind: string): Promise<Record<string, unknown> | undefined> {
  let settings: Record<string, unknown> | undefined;
  if (ctx.flag("settings-stdin")) {
    const text = await readStdin();
    try {
      settings = JSON.parse(text);
    } catch {
      throw new UsageError("--settings-stdin: stdin is not a JSON object");
    }
    if (!settings || typeof settings !== "object" || Array.isArray(settings)) throw new UsageError("--settings-stdin: stdin is not a JSON object");
  }
  for (const kv of ctx.strs("setting")) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UsageError(`--setting takes KEY=VALUE (got "${kv}")`);
    const key = kv.slice(0, eq);
    if (SECRET_SETTINGS(kind).includes(key)) {
      throw new UsageError(`--setting ${key}=...: "${key}" is a secret of a ${kind} channel; give it on stdin with --settings-stdin (a JSON object), never in argv`);
    }
    (settings ??= {})[key] = settingValue(key, kv.slice(eq + 1));
  }
  return settings;
}

async function rules(ctx: Ctx): Promise<{ events?: string[]; jobs?: string[] }> {
  const out: { events?: string[]; jobs?: string[] } = {};
  const events = ctx.strs("event");
  if (events.length) out.events = events;
  const jobs = ctx.strs("job");
  if (jobs.length) out.jobs = await Promise.all(jobs.map((j) => resolveUuid(ctx.api(), KINDS.job, j)));
  return out;
}

const SETTING_HELP: [string, string][] = [
  ["--setting KEY=VALUE", "a setting that is no secret (repeatable): webhook url is secret; email host, port, tls (tls|starttls|none), user, from, to (comma-separated)"],
  ["--settings-stdin", "read settings as a JSON object from stdin: how secrets are given (email password, webhook secret and url, chat webhook url)"],
  ["--event EVENT", "an event to tell of (repeatable): backup.failed, backup.succeeded, restore.finished, purge.failed, drill.failed, drill.succeeded, job.overdue, ...; default: the failures"],
  ["--job JOB", "tell only of this job (repeatable); default: every job"],
];

export const notificationCommands: Command[] = [
  {
    verb: "list", noun: "notification", summary: "List notification channels (admins only)", usage: "list notifications", examples: ["shield list notifications"],
    async run(ctx) {
      ctx.out.list(await ctx.api().get<any[]>("/v1/notifications"), [
        { title: "UUID", value: (c) => short(c.uuid) }, { title: "Name", value: (c) => c.name }, { title: "Kind", value: (c) => c.kind },
        { title: "Events", value: (c) => c.events.join(", ") }, { title: "Jobs", value: (c) => (c.jobs.length ? String(c.jobs.length) : "all") },
      ], "(no notification channels)");
    },
  },
  {
    verb: "show", noun: "notification", summary: "Show a notification channel (secrets redacted)", usage: "show notification CHANNEL", args: ["CHANNEL"],
    examples: ["shield show notification ops-mail"],
    async run(ctx) {
      ctx.out.show(await resolve(ctx.api(), CHANNEL, ctx.arg(0)), (c) => [
        ["UUID", c.uuid], ["Name", c.name], ["Kind", c.kind], ["Events", c.events.join(", ")], ["Jobs", c.jobs.length ? c.jobs.join(", ") : "(every job)"],
        ...Object.entries(c.settings as Record<string, unknown>).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)] as [string, string]),
      ]);
    },
  },
  {
    verb: "create", noun: "notification", summary: "Create a notification channel (admins only)",
    usage: "create notification --name NAME --kind KIND [--setting KEY=VALUE ...] [--settings-stdin] [--event EVENT ...] [--job JOB ...]",
    options: [["--name NAME", "the channel's name (required)"], ["--kind KIND", `${KIND_NAMES.join(", ")} (required)`], ...SETTING_HELP],
    examples: [
      "shield create notification --name chat --kind slack --settings-stdin < slack-webhook.json",
      "echo '{\"url\":\"https://hooks.slack.com/services/T/B/X\"}' | shield create notification --name chat --kind slack --settings-stdin",
      "echo '{\"password\":\"...\"}' | shield create notification --name ops-mail --kind email --setting host=smtp.example.com --setting port=587 --setting user=shield --setting from=shield@example.com --setting to=ops@example.com --settings-stdin",
    ],
    specs: [{ name: "name" }, { name: "kind" }, { name: "setting", repeatable: true }, { name: "settings-stdin", flag: true }, { name: "event", repeatable: true }, { name: "job", repeatable: true }],
    async run(ctx) {
      const name = ctx.str("name"), kind = ctx.str("kind");
      if (!name || !kind) throw new UsageError(`missing ${[!name && "--name", !kind && "--kind"].filter(Boolean).join(", ")}`);
      if (!KIND_NAMES.includes(kind)) throw new UsageError(`--kind must be one of ${KIND_NAMES.join(", ")} (got "${kind}")`);
      const r = await ctx.api().post<any>("/v1/notifications", { name, kind, settings: (await settingsOf(ctx, kind)) ?? {}, ...(await rules(ctx)) });
      ctx.report(r, `created notification channel ${name} (${kind}, ${r.uuid}); try it with: shield test notification ${name}`);
    },
  },
  {
    verb: "edit", noun: "notification", summary: "Change a notification channel's settings or rules (admins only)",
    usage: "edit notification CHANNEL [--name NAME] [--setting KEY=VALUE ...] [--settings-stdin] [--event EVENT ...] [--job JOB ...]", args: ["CHANNEL"],
    options: [["--name NAME", "a new name"], ...SETTING_HELP],
    examples: ["shield edit notification ops-mail --event backup.failed --event drill.failed", "shield edit notification ops-mail --setting port=465 --setting tls=tls"],
    specs: [{ name: "name" }, { name: "setting", repeatable: true }, { name: "settings-stdin", flag: true }, { name: "event", repeatable: true }, { name: "job", repeatable: true }],
    async run(ctx) {
      const c = await resolve(ctx.api(), CHANNEL, ctx.arg(0));
      const given = await settingsOf(ctx, c.kind);
      // What is not given stays: the stored settings (secrets redacted, which keeps them) under the new ones.
      const body: Record<string, unknown> = { ...(await rules(ctx)) };
      if (given) body.settings = { ...c.settings, ...given };
      if (ctx.has("name")) body.name = ctx.str("name");
      if (!Object.keys(body).length) throw new UsageError("nothing to change: give --name, --setting, --settings-stdin, --event or --job");
      ctx.report(await ctx.api().put(`/v1/notification/${c.uuid}`, body), `updated notification channel ${c.name}`);
    },
  },
  {
    verb: "delete", noun: "notification", summary: "Delete a notification channel and what it is still owed", usage: "delete notification CHANNEL [-y]", args: ["CHANNEL"],
    examples: ["shield delete notification chat"],
    async run(ctx) {
      const c = await resolve(ctx.api(), CHANNEL, ctx.arg(0));
      await ctx.confirm(`Delete notification channel "${c.name}" (${c.kind})?`);
      ctx.report(await ctx.api().delete(`/v1/notification/${c.uuid}`), `deleted notification channel ${c.name}`);
    },
  },
  {
    verb: "test", noun: "notification", summary: "Send a test message through a notification channel now", usage: "test notification CHANNEL", args: ["CHANNEL"],
    examples: ["shield test notification ops-mail"],
    async run(ctx) {
      const c = await resolve(ctx.api(), CHANNEL, ctx.arg(0));
      const r = await ctx.api().post<any>(`/v1/notification/${c.uuid}/test`, {});
      if (ctx.json) return ctx.out.data(r);
      if (r.sent) { ctx.out.line(`sent a test message through ${c.name}`); return; }
      process.stderr.write(`shield: the test message through ${c.name} was not delivered: ${r.error}\n`);
      return 3;
    },
  },
  {
    verb: "list", noun: "delivery", summary: "List notification deliveries, newest first (admins only)",
    usage: "list deliveries [--status pending|delivered|failed] [--channel CHANNEL]",
    options: [["--status STATUS", "pending (with the next attempt), delivered or failed (given up)"], ["--channel CHANNEL", "one channel's"]],
    examples: ["shield list deliveries --status pending"],
    specs: [{ name: "status" }, { name: "channel" }],
    async run(ctx) {
      const query: Record<string, string> = {};
      if (ctx.has("status")) query.status = ctx.str("status")!;
      if (ctx.has("channel")) query.channel = await resolveUuid(ctx.api(), CHANNEL, ctx.str("channel")!);
      ctx.out.list(await ctx.api().get<any[]>("/v1/notifications/deliveries", query), [
        { title: "Created", value: (d) => new Date(d.created_at * 1000).toISOString().slice(0, 19).replace("T", " ") },
        { title: "Event", value: (d) => d.event }, { title: "Status", value: (d) => d.status }, { title: "Attempts", value: (d) => String(d.attempts) },
        { title: "Task", value: (d) => (d.task_uuid ? short(d.task_uuid) : "") }, { title: "Last error", value: (d) => d.last_error ?? "" },
      ], "(no deliveries)");
    },
  },
];

const ms = (n: number | null) => (n === null ? "-" : `${(n / 1000).toFixed(1)} s`);

export const drillCommands: Command[] = [
  {
    verb: "show", noun: "drill", summary: "Show a job's restore drill and its last outcome (with the measured RTO)", usage: "show drill JOB", args: ["JOB"],
    examples: ["shield show drill nightly-db"],
    async run(ctx) {
      const job = await resolve(ctx.api(), KINDS.job, ctx.arg(0));
      const r = await ctx.api().get<any>(`/v1/job/${job.uuid}/drill`);
      if (ctx.json) return ctx.out.data(r);
      if (!r.drill) { ctx.out.line(`job ${job.name} has no drill (shield edit drill ${job.name} --target SCRATCH --schedule SCHEDULE)`); return; }
      ctx.out.show(r, (x) => [
        ["Scratch target", x.drill.target_uuid], ["Schedule", x.drill.schedule_uuid],
        ["Next", x.drill.next_due_at ? new Date(x.drill.next_due_at * 1000).toISOString() : "-"],
        ["Last", x.last ? (x.last.ok ? "ok" : `FAILED: ${x.last.error}`) : "(never ran)"],
        ...(x.last ? [["RTO", ms(x.last.rto_ms)], ["Verified", x.last.verify]] as [string, string][] : []),
      ]);
    },
  },
  {
    verb: "edit", noun: "drill", summary: "Set a job's restore drill: a scratch target and a schedule", usage: "edit drill JOB --target SCRATCH --schedule SCHEDULE", args: ["JOB"],
    options: [["--target TARGET", "the scratch target restored into, then emptied: of the job's plugin, and no job's target"], ["--schedule SCHEDULE", "when the drill runs"]],
    examples: ["shield edit drill nightly-db --target scratch-db --schedule weekly"],
    specs: [{ name: "target" }, { name: "schedule" }],
    async run(ctx) {
      const job = await resolve(ctx.api(), KINDS.job, ctx.arg(0));
      if (!ctx.has("target") || !ctx.has("schedule")) throw new UsageError("give --target and --schedule");
      const target = await resolveUuid(ctx.api(), KINDS.target, ctx.str("target")!);
      const schedule = await resolveUuid(ctx.api(), KINDS.schedule, ctx.str("schedule")!);
      ctx.report(await ctx.api().put(`/v1/job/${job.uuid}/drill`, { target, schedule }), `set the drill of job ${job.name}`);
    },
  },
  {
    verb: "delete", noun: "drill", summary: "Remove a job's restore drill (its history stays)", usage: "delete drill JOB [-y]", args: ["JOB"],
    examples: ["shield delete drill nightly-db"],
    async run(ctx) {
      const job = await resolve(ctx.api(), KINDS.job, ctx.arg(0));
      await ctx.confirm(`Remove the drill of job "${job.name}"?`);
      ctx.report(await ctx.api().delete(`/v1/job/${job.uuid}/drill`), `removed the drill of job ${job.name}`);
    },
  },
  {
    verb: "run", noun: "drill", summary: "Run a job's restore drill now", usage: "run drill JOB", args: ["JOB"],
    examples: ["shield run drill nightly-db"],
    async run(ctx) {
      const job = await resolve(ctx.api(), KINDS.job, ctx.arg(0));
      const r = await ctx.api().post<any>(`/v1/job/${job.uuid}/drill/run`, {});
      ctx.report(r, `filed drill task ${r.task_uuid} for job ${job.name}`);
    },
  },
  {
    verb: "list", noun: "drill", summary: "A job's drill history, newest first", usage: "list drills JOB", args: ["JOB"],
    examples: ["shield list drills nightly-db"],
    async run(ctx) {
      const job = await resolve(ctx.api(), KINDS.job, ctx.arg(0));
      ctx.out.list(await ctx.api().get<any[]>(`/v1/job/${job.uuid}/drills`), [
        { title: "Finished (UTC)", value: (r) => new Date(r.finished_at * 1000).toISOString().slice(0, 19).replace("T", " ") },
        { title: "Outcome", value: (r) => (r.ok ? "ok" : "FAILED") }, { title: "RTO", value: (r) => ms(r.rto_ms) },
        { title: "Verified", value: (r) => (r.ok ? r.verify : r.error ?? "") }, { title: "Task", value: (r) => short(r.task_uuid) },
      ], "(no drills yet)");
    },
  },
];
