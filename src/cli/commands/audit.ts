// The audit trail (admins): who changed what, when and from where.
import type { Command } from "../command.ts";
import type { Query } from "../client.ts";
import { short } from "../output.ts";
import { parseInteger } from "../values.ts";

/** The changed fields in one cell: "role: viewer → operator, password: ********". */
export function changesText(changes: Record<string, { from?: unknown; to?: unknown }>): string {
  const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  return Object.entries(changes).map(([k, c]) =>
    "from" in c && "to" in c ? `${k}: ${text(c.from)} → ${text(c.to)}` : "to" in c ? `${k}: ${text(c.to)}` : `${k} (was ${text(c.from)})`).join(", ");
}

export const auditCommands: Command[] = [
  {
    verb: "list", noun: "audit", summary: "The audit trail, newest first: who changed what, when, from where (admins only)",
    usage: "list audit [--user USER] [--type TYPE] [--object UUID] [--action ACTION] [--since TIME] [--until TIME] [--limit N] [--offset N]",
    options: [
      ["--user USER", "one user's entries (a name, also one tried in a failed sign-in, or a UUID)"],
      ["--type TYPE", "one kind of object: target, store, schedule, \"retention policy\", job, archive, task, user, token, \"auth provider\"..."],
      ["--object UUID", "one object's entries (an auth provider's or agent's name)"],
      ["--action ACTION", "create, update, delete, run, restore, cancel, sign-in, sign-in-failed..."],
      ["--since TIME", "from this time (UTC: 2026-12-01 or 2026-12-01 08:00:00)"], ["--until TIME", "to this time (a day: to its end)"],
      ["--limit N", "at most N entries (100 by default, 1000 at most)"], ["--offset N", "skip the N newest"],
    ],
    examples: ["shield list audit", "shield list audit --action restore --since 2026-12-01", "shield list audit --action sign-in-failed --json"],
    specs: [{ name: "user" }, { name: "type" }, { name: "object" }, { name: "action" }, { name: "since" }, { name: "until" }, { name: "limit" }, { name: "offset" }],
    async run(ctx) {
      const q: Query = {};
      for (const k of ["user", "type", "object", "action", "since", "until"]) if (ctx.has(k)) q[k] = ctx.str(k)!;
      if (ctx.has("limit")) q.limit = parseInteger(ctx.str("limit")!, "--limit", 1, 1000);
      if (ctx.has("offset")) q.offset = parseInteger(ctx.str("offset")!, "--offset", 0, 1e9);
      const rows = await ctx.api().get<any[]>("/v1/audit", q);
      if (ctx.json) return ctx.out.data(rows);
      ctx.out.table(rows, [
        { title: "Time (UTC)", value: (e) => e.at },
        { title: "User", value: (e) => (e.token ? `${e.user} (token ${e.token})` : e.user) },
        { title: "From", value: (e) => e.address },
        { title: "Action", value: (e) => e.action },
        { title: "Object", value: (e) => `${e.object_type}${e.object_name ? ` ${e.object_name}` : ""}${e.object_uuid && e.object_uuid !== e.object_name ? ` (${short(e.object_uuid)})` : ""}` },
        { title: "Changes", value: (e) => changesText(e.changes) },
      ], "(no entries)");
    },
  },
];
