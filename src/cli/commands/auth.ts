// Auth providers and everyone's sessions (admins only). A provider's settings come
// from a JSON or YAML file (--config-file), the shape of the API's `config`; the
// LDAP service account's password (--bind-password-stdin) and the OIDC client
// secret (--client-secret-stdin) are read from stdin, never from argv, and never
// shown back (the core answers ********).
import type { Command, Ctx } from "../command.ts";
import { UsageError } from "../errors.ts";
import { short } from "../output.ts";
import { KINDS, resolve } from "../resolve.ts";
import { oneOf } from "../values.ts";
import { secretFromStdin } from "./session.ts";

const TYPES = ["ldap", "oidc", "none"] as const;

async function configFrom(ctx: Ctx, required: boolean): Promise<Record<string, unknown> | undefined> {
  const path = ctx.str("config-file");
  let config: unknown;
  if (path) {
    const file = Bun.file(path);
    if (!(await file.exists())) throw new UsageError(`--config-file: no such file ${path}`);
    const text = await file.text();
    try {
      config = /\.ya?ml$/i.test(path) ? Bun.YAML.parse(text) : JSON.parse(text);
    } catch (err) {
      throw new UsageError(`--config-file ${path}: not valid ${/\.ya?ml$/i.test(path) ? "YAML" : "JSON"}: ${(err as Error).message}`);
    }
    if (!config || typeof config !== "object" || Array.isArray(config)) throw new UsageError(`--config-file ${path}: must hold an object of settings`);
  } else if (required) {
    throw new UsageError("give the provider's settings with --config-file FILE (JSON or YAML)");
  }
  if (ctx.flag("bind-password-stdin") && ctx.flag("client-secret-stdin")) throw new UsageError("give --bind-password-stdin or --client-secret-stdin, not both (stdin holds one line)");
  if (ctx.flag("bind-password-stdin")) {
    config = { ...(config as object | undefined), bind_password: await secretFromStdin("--bind-password-stdin") };
  }
  if (ctx.flag("client-secret-stdin")) {
    config = { ...(config as object | undefined), client_secret: await secretFromStdin("--client-secret-stdin") };
  }
  return config as Record<string, unknown> | undefined;
}

const configOptions: [string, string][] = [
  ["--config-file FILE", "the settings, JSON or YAML. ldap: url, base_dn, bind_dn, user_filter, group_base_dn, groups {admin, operator, viewer}, default_role, start_tls, ca_file, timeout_ms. " +
    "oidc: issuer, client_id, scopes, username_claim, role_claim, roles {admin, operator, viewer}, default_role, display_name, token_endpoint_auth, timeout_ms"],
  ["--bind-password-stdin", "ldap: read the service account's bind_password from the first line of stdin"],
  ["--client-secret-stdin", "oidc: read the client_secret from the first line of stdin"],
];

export const authCommands: Command[] = [
  {
    verb: "list", noun: "provider", summary: "List the auth providers (admins only)", usage: "list providers", examples: ["shield list providers"],
    async run(ctx) {
      ctx.out.list(await ctx.api().get<any[]>("/v1/auth/providers"), [
        { title: "Name", value: (p) => p.name }, { title: "Type", value: (p) => p.type },
        { title: "Where", value: (p) => (p.type === "ldap" ? String(p.config.url) : p.type === "oidc" ? String(p.config.issuer) : p.builtin ? "built in" : "") },
        { title: "Added (UTC)", value: (p) => p.created_at ?? "" },
      ]);
    },
  },
  {
    verb: "show", noun: "provider", summary: "Show an auth provider's settings (admins only; secrets as ********)", usage: "show provider NAME", args: ["NAME"],
    examples: ["shield show provider corp"],
    async run(ctx) {
      const p = await ctx.api().get<any>(`/v1/auth/provider/${encodeURIComponent(ctx.arg(0))}`);
      ctx.out.show(p, (x) => [["Name", x.name], ["Type", x.type], ...Object.entries(x.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)] as [string, string])]);
    },
  },
  {
    verb: "create", noun: "provider", summary: "Add an auth provider (admins only)",
    usage: "create provider --name NAME --type ldap|oidc|none [--config-file FILE] [--bind-password-stdin | --client-secret-stdin]",
    options: [["--name NAME", "the provider's name (required)"], ["--type TYPE", "ldap, oidc, or none (everyone is admin; loopback daemons only)"], ...configOptions],
    examples: ["shield create provider --name corp --type ldap --config-file corp-ldap.yaml",
      "printf '%s\\n' \"$BIND_PW\" | shield create provider --name corp --type ldap --config-file corp-ldap.yaml --bind-password-stdin",
      "printf '%s\\n' \"$CLIENT_SECRET\" | shield create provider --name sso --type oidc --config-file sso.yaml --client-secret-stdin",
      "shield create provider --name lab --type none"],
    specs: [{ name: "name" }, { name: "type" }, { name: "config-file" }, { name: "bind-password-stdin", flag: true }, { name: "client-secret-stdin", flag: true }],
    async run(ctx) {
      const name = ctx.str("name");
      if (!name) throw new UsageError("missing --name");
      const type = oneOf(ctx.str("type") ?? "", "--type", TYPES);
      const config = (await configFrom(ctx, type !== "none")) ?? {};
      ctx.report(await ctx.api().post("/v1/auth/providers", { name, type, config }), `added ${type} provider ${name}`);
    },
  },
  {
    verb: "edit", noun: "provider", summary: "Replace an auth provider's settings (admins only; the bind password or client secret is kept unless given)",
    usage: "edit provider NAME --config-file FILE [--bind-password-stdin | --client-secret-stdin]", args: ["NAME"], options: configOptions,
    examples: ["shield edit provider corp --config-file corp-ldap.yaml", "printf '%s\\n' \"$NEW_SECRET\" | shield edit provider sso --client-secret-stdin"],
    specs: [{ name: "config-file" }, { name: "bind-password-stdin", flag: true }, { name: "client-secret-stdin", flag: true }],
    async run(ctx) {
      const name = ctx.arg(0);
      let config = await configFrom(ctx, false);
      if (!config) throw new UsageError("nothing to change: give --config-file, --bind-password-stdin or --client-secret-stdin");
      // Only the password given: the stored settings with it.
      if (!ctx.str("config-file")) config = { ...(await ctx.api().get<any>(`/v1/auth/provider/${encodeURIComponent(name)}`)).config, ...config };
      ctx.report(await ctx.api().put(`/v1/auth/provider/${encodeURIComponent(name)}`, { config }), `updated provider ${name}`);
    },
  },
  {
    verb: "delete", noun: "provider", summary: "Remove an auth provider (admins only); its users can no longer sign in", usage: "delete provider NAME [-y]", args: ["NAME"],
    examples: ["shield delete provider corp"],
    async run(ctx) {
      const name = ctx.arg(0);
      await ctx.confirm(`Remove auth provider "${name}"? Its users can no longer sign in.`);
      ctx.report(await ctx.api().delete(`/v1/auth/provider/${encodeURIComponent(name)}`), `removed provider ${name}`);
    },
  },
  {
    verb: "list", noun: "session", summary: "List every user's sessions and API tokens (admins only)", usage: "list sessions [--user USER]",
    options: [["--user USER", "only this user's"]], examples: ["shield list sessions", "shield list sessions --user alice"],
    specs: [{ name: "user" }],
    async run(ctx) {
      const user = ctx.str("user");
      const query = user ? { user: (await resolve(ctx.api(), KINDS.user, user)).uuid } : undefined;
      ctx.out.list(await ctx.api().get<any[]>("/v1/auth/sessions", query), [
        { title: "UUID", value: (s) => short(s.uuid) }, { title: "User", value: (s) => s.user.name }, { title: "Provider", value: (s) => s.user.provider },
        { title: "Name", value: (s) => s.name }, { title: "Role", value: (s) => s.role ?? "" }, { title: "Created (UTC)", value: (s) => s.created_at },
        { title: "Last used (UTC)", value: (s) => s.last_used_at }, { title: "Expires (UTC)", value: (s) => s.expires_at ?? "" },
      ], "(no sessions)");
    },
  },
  {
    verb: "delete", noun: "session", summary: "Revoke any user's session or API token (admins only)", usage: "delete session SESSION [-y]", args: ["SESSION"],
    examples: ["shield delete session 1f2e", "shield revoke session 1f2e"],
    async run(ctx) {
      const s = await resolve(ctx.api(), KINDS.session, ctx.arg(0));
      await ctx.confirm(`Revoke ${s.user.name}'s session "${s.name}" (${s.uuid})?`);
      ctx.report(await ctx.api().delete(`/v1/auth/session/${s.uuid}`), `revoked ${s.user.name}'s session ${s.name}`);
    },
  },
];
