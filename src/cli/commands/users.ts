// Users (admins only) and API tokens (each user's own). Passwords are asked for
// without echo, or read from stdin with --password-stdin: never taken from argv.
import type { Command, Ctx } from "../command.ts";
import { UsageError } from "../errors.ts";
import { short } from "../output.ts";
import { newPassword } from "../prompt.ts";
import { KINDS, resolve } from "../resolve.ts";
import { oneOf } from "../values.ts";
import { passwordOf } from "./session.ts";

const ROLES = ["admin", "operator", "viewer"] as const;

/** "3600", "90m", "12h", "30d" → seconds. */
function seconds(text: string): number {
  const m = /^\s*(\d+)\s*([smhd]?)\s*$/i.exec(text);
  if (!m) throw new UsageError(`--expires-in must be a duration like 3600, 90m, 12h or 30d (got "${text}")`);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[(m[2] || "s").toLowerCase()]!;
}

const password = (ctx: Ctx, question: string) => passwordOf(ctx, () => newPassword(question));

export const userCommands: Command[] = [
  {
    verb: "list", noun: "user", summary: "List users (admins only)", usage: "list users", examples: ["shield list users"],
    async run(ctx) {
      ctx.out.list(await ctx.api().get<any[]>("/v1/users"), [{ title: "UUID", value: (u) => short(u.uuid) }, { title: "Name", value: (u) => u.name }, { title: "Role", value: (u) => u.role }, { title: "Provider", value: (u) => u.provider }, { title: "Created (UTC)", value: (u) => u.created_at }]);
    },
  },
  {
    verb: "show", noun: "user", summary: "Show a user (admins only)", usage: "show user USER", args: ["USER"], examples: ["shield show user alice"],
    async run(ctx) {
      ctx.out.show(await resolve(ctx.api(), KINDS.user, ctx.arg(0)), (u) => [["UUID", u.uuid], ["Name", u.name], ["Role", u.role], ["Provider", u.provider], ["Created", `${u.created_at} UTC`]]);
    },
  },
  {
    verb: "create", noun: "user", summary: "Create a user (admins only)",
    usage: "create user --name NAME --role admin|operator|viewer [--password-stdin]",
    options: [["--name NAME", "the user's name (required)"], ["--role ROLE", "admin, operator or viewer (required)"],
      ["--password-stdin", "read the password from the first line of stdin; else it is asked for, twice, without echo"]],
    examples: ["shield create user --name alice --role operator", "printf '%s\\n' \"$PW\" | shield create user --name ci --role viewer --password-stdin"],
    specs: [{ name: "name" }, { name: "role" }, { name: "password-stdin", flag: true }],
    async run(ctx) {
      const missing = ["name", "role"].filter((f) => !ctx.has(f));
      if (missing.length && !ctx.interactive) throw new UsageError(`missing ${missing.map((f) => `--${f}`).join(", ")} (there is no terminal to ask on)`);
      const name = ctx.str("name") ?? (await ctx.ask("name", "Name", { required: true }));
      const role = oneOf(ctx.str("role") ?? (await ctx.ask("role", "Role (admin, operator, viewer)", { required: true, check: (r) => (ROLES.includes(r as any) ? undefined : "admin, operator or viewer") })), "--role", ROLES);
      const r = await ctx.api().post<any>("/v1/users", { name, role, password: await password(ctx, `Password for ${name}`) });
      ctx.report(r, `created user ${name} (${role}, ${r.uuid})`);
    },
  },
  {
    verb: "edit", noun: "user", summary: "Change a user's role or password (admins only)",
    usage: "edit user USER [--role ROLE] [--password | --password-stdin]", args: ["USER"],
    options: [["--role ROLE", "admin, operator or viewer"], ["--password", "ask for a new password (twice, without echo)"], ["--password-stdin", "read the new password from stdin"]],
    examples: ["shield edit user alice --role viewer", "shield edit user alice --password"],
    specs: [{ name: "role" }, { name: "password", flag: true }, { name: "password-stdin", flag: true }],
    async run(ctx) {
      const u = await resolve(ctx.api(), KINDS.user, ctx.arg(0));
      const body: Record<string, string> = {};
      if (ctx.has("role")) body.role = oneOf(ctx.str("role")!, "--role", ROLES);
      if (ctx.flag("password") || ctx.flag("password-stdin")) body.password = await password(ctx, `New password for ${u.name}`);
      if (!Object.keys(body).length) throw new UsageError("nothing to change: give --role, --password or --password-stdin");
      ctx.report(await ctx.api().put(`/v1/user/${u.uuid}`, body), `updated user ${u.name}`);
    },
  },
  {
    verb: "delete", noun: "user", summary: "Delete a user and their tokens (admins only)", usage: "delete user USER [-y]", args: ["USER"],
    examples: ["shield delete user alice"],
    async run(ctx) {
      const u = await resolve(ctx.api(), KINDS.user, ctx.arg(0));
      await ctx.confirm(`Delete user "${u.name}" (${u.role}) and their tokens?`);
      ctx.report(await ctx.api().delete(`/v1/user/${u.uuid}`), `deleted user ${u.name}`);
    },
  },
  {
    verb: "list", noun: "token", summary: "List your API tokens (names only: tokens are shown once)", usage: "list tokens",
    examples: ["shield list tokens"],
    async run(ctx) {
      ctx.out.list(await ctx.api().get<any[]>("/v1/auth/tokens"), [{ title: "UUID", value: (t) => short(t.uuid) }, { title: "Name", value: (t) => t.name }, { title: "Created (UTC)", value: (t) => t.created_at }, { title: "Last used (UTC)", value: (t) => t.last_used_at }, { title: "Role", value: (t) => t.role ?? "" }, { title: "Expires (UTC)", value: (t) => t.expires_at ?? "" }], "(no tokens)");
    },
  },
  {
    verb: "create", noun: "token", summary: "Create an API token for scripts; it is printed this once",
    usage: "create token --name NAME [--role ROLE] [--expires-in D]",
    options: [["--name NAME", "what the token is for (required)"], ["--role ROLE", "limit the token to a role below yours: operator or viewer"],
      ["--expires-in D", "the token stops working after D: seconds, or a number with m, h or d (90d)"]],
    examples: ["shield create token --name nightly-script", "SHIELD_TOKEN=$(shield create token --name ci --json | jq -r .token)",
      "shield create token --name dashboard --role viewer --expires-in 30d"],
    specs: [{ name: "name" }, { name: "role" }, { name: "expires-in" }],
    async run(ctx) {
      const name = ctx.str("name") ?? (await ctx.ask("name", "Token name", { required: true }));
      const body: Record<string, unknown> = { name };
      if (ctx.has("role")) body.role = oneOf(ctx.str("role")!, "--role", ROLES);
      if (ctx.has("expires-in")) body.expires_in = seconds(ctx.str("expires-in")!);
      const r = await ctx.api().post<any>("/v1/auth/tokens", body);
      // The one place a secret is printed: the user asked for it, and the core never shows it again.
      if (ctx.json) return ctx.out.data(r);
      ctx.out.line(r.token);
      process.stderr.write(`created token ${name} (${r.uuid}); it is shown this once: keep it, e.g. in SHIELD_TOKEN\n`);
    },
  },
  {
    verb: "delete", noun: "token", summary: "Revoke one of your API tokens", usage: "delete token TOKEN [-y]", args: ["TOKEN"],
    examples: ["shield delete token nightly-script", "shield revoke token 1f2e"],
    async run(ctx) {
      const t = await resolve(ctx.api(), KINDS.token, ctx.arg(0));
      await ctx.confirm(`Revoke token "${t.name}" (${t.uuid})?`);
      ctx.report(await ctx.api().delete(`/v1/auth/token/${t.uuid}`), `revoked token ${t.name}`);
    },
  },
];
