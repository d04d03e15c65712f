// Retention rules in the CLI: the --keep-* flags of create/edit retention policy,
// and `shield preview retention [POLICY] --job JOB [--keep-* ...]`, which shows
// what the policy (with the rules given in place of its own) keeps and expires.
import type { Command } from "../command.ts";
import type { Query } from "../client.ts";
import { UsageError } from "../errors.ts";
import { formatDuration, short } from "../output.ts";
import { KINDS, resolve, resolveUuid } from "../resolve.ts";
import { parseDuration, parseInteger } from "../values.ts";

export const RULE_FLAGS = [
  { key: "keep_last", flag: "keep-last", question: "Keep the last N archives" },
  { key: "keep_hourly", flag: "keep-hourly", question: "Keep the newest archive of the last N hours that have one" },
  { key: "keep_daily", flag: "keep-daily", question: "… of the last N days" },
  { key: "keep_weekly", flag: "keep-weekly", question: "… of the last N weeks (ISO, Monday to Sunday)" },
  { key: "keep_monthly", flag: "keep-monthly", question: "… of the last N months" },
  { key: "keep_yearly", flag: "keep-yearly", question: "… of the last N years" },
  { key: "keep_within", flag: "keep-within", question: "Keep every archive taken within D of the newest (30d, 12h; 0 for none)" },
] as const;

/** A --keep-* flag's text → the API value: a count, or keep_within's seconds. */
export function parseRule(key: string, flag: string, text: string): number {
  if (key === "keep_within") return text.trim() === "0" ? 0 : parseDuration(text, `--${flag}`);
  return parseInteger(text, `--${flag}`, 0, 100_000);
}

/** "last 3, daily 7, within 30d", or "none (expiry only)". */
export function describeRules(o: Record<string, number>): string {
  const parts = RULE_FLAGS.filter((r) => o[r.key]).map((r) => `${r.key.slice(5)} ${r.key === "keep_within" ? formatDuration(o[r.key]!) : o[r.key]}`);
  return parts.length ? parts.join(", ") : "none (expiry only)";
}

export const retentionPreviewCommands: Command[] = [{
  verb: "preview", noun: "retention policy", summary: "Show which of a job's archives a retention policy keeps, by which rule, and which it expires",
  usage: `preview retention [POLICY] --job JOB ${RULE_FLAGS.map((r) => `[--${r.flag} ${r.key === "keep_within" ? "D" : "N"}]`).join(" ")}`,
  args: ["POLICY?"],
  options: [["POLICY", "a saved policy (name or UUID); left out: a new policy with only the rules given"], ["--job JOB", "whose archives (name or UUID; required)"],
    ...RULE_FLAGS.map((r) => [`--${r.flag} ${r.key === "keep_within" ? "D" : "N"}`, `${r.question} (in place of the policy's own)`] as [string, string])],
  examples: ["shield preview retention month --job orders-nightly", "shield preview retention month --job orders-nightly --keep-daily 7 --keep-monthly 12",
    "shield preview retention --job orders-nightly --keep-last 3 --keep-within 30d --json"],
  specs: [{ name: "job" }, ...RULE_FLAGS.map((r) => ({ name: r.flag }))],
  async run(ctx) {
    if (!ctx.has("job")) throw new UsageError("--job is required: the preview is of one job's archives");
    const q: Query = {};
    for (const r of RULE_FLAGS) if (ctx.has(r.flag)) q[r.key] = parseRule(r.key, r.flag, ctx.str(r.flag)!);
    const api = ctx.api();
    q.job = await resolveUuid(api, KINDS.job, ctx.str("job")!);
    const policy = ctx.args[0] ? (await resolve(api, KINDS.retention, ctx.args[0])).uuid : undefined;
    const p = await api.get<any>(policy ? `/v1/retention/${policy}/preview` : "/v1/retention/preview", q);
    if (ctx.json) return ctx.out.data(p);
    ctx.out.table(p.archives, [
      { title: "UUID", value: (a: any) => short(a.uuid) }, { title: "Taken (UTC)", value: (a: any) => a.taken_at },
      { title: "Action", value: (a: any) => a.action }, { title: "Kept by", value: (a: any) => a.kept_by.join(", ") },
    ], "(the job has no valid archives)");
    ctx.out.line(`rules: ${describeRules(p.rules)}; periods in ${p.zone}`);
    ctx.out.line(`keeps ${p.keep}, expires ${p.expire} of ${p.keep + p.expire} archives of job ${p.job_name}; ` +
      `${p.newly_expired} of them the job's current policy keeps` +
      (p.force_needed ? ` — more than ${Math.round(p.max_purge_share * 100)}%: saving these rules needs --force` : ""));
  },
}];
