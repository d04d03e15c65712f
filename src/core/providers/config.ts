// What an admin may configure for each provider type, checked once for every way
// a provider arrives (the API, the CLI through it, the first-start file), so the
// rules cannot differ between them. Unknown keys are refused: a misspelt
// `grops` silently ignored would sign people in with the wrong role.
import * as v from "valibot";
import { InvalidInput } from "../errors.ts";
import type { LdapConfig } from "./ldap.ts";
import { isLoopbackUrl, type OidcConfig } from "./oidc.ts";

export const PROVIDER_TYPES = ["ldap", "oidc", "none"] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];
/** Names of the built-in provider and of nothing a provider may be called. */
export const LOCAL = "local";

const Str = v.pipe(v.string("must be a string"), v.trim(), v.nonEmpty("must not be empty"), v.maxLength(1000, "must be at most 1000 characters"));
const Dns = v.array(Str, "must be a list of group DNs");
const Role = v.picklist(["admin", "operator", "viewer"], "must be admin, operator or viewer");

const LdapSchema = v.pipe(
  v.strictObject({
    url: v.pipe(Str, v.regex(/^ldaps?:\/\/[^\s/]+\/?$/i, "must be ldap://host[:port] or ldaps://host[:port]")),
    start_tls: v.optional(v.boolean("must be true or false")),
    ca_file: v.optional(v.pipe(Str, v.startsWith("/", "must be an absolute path"))),
    bind_dn: v.optional(Str),
    bind_password: v.optional(v.pipe(v.string("must be a string"), v.maxLength(1000, "must be at most 1000 characters"))),
    base_dn: Str,
    user_filter: v.optional(v.pipe(Str,
      v.includes("{username}", "must contain the {username} placeholder"),
      v.check((f) => f.startsWith("(") && f.endsWith(")"), "must be an LDAP filter in parentheses, like (uid={username})"))),
    group_base_dn: v.optional(Str),
    groups: v.optional(v.strictObject({ admin: v.optional(Dns), operator: v.optional(Dns), viewer: v.optional(Dns) }, "must be an object with admin, operator and viewer lists")),
    default_role: v.optional(v.nullable(Role)),
    timeout_ms: v.optional(v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(100, "must be at least 100"), v.maxValue(120_000, "must be at most 120000"))),
  }, "must be a JSON object"),
  v.check((c) => !(c.start_tls && c.url.toLowerCase().startsWith("ldaps:")), "start_tls: an ldaps:// URL is TLS already; use ldap:// with start_tls"),
  v.check((c) => c.bind_password === undefined || c.bind_dn !== undefined, "bind_password: needs bind_dn"),
);

const Values = v.array(Str, "must be a list of claim values");
const ClaimName = v.pipe(Str, v.regex(/^[A-Za-z0-9_:.\/-]+$/, "must be a claim name (letters, digits, _ : . / -; dots reach into objects)"));

const issuerUrl = (s: string) => {
  try {
    const u = new URL(s);
    return !u.search && !u.hash && (u.protocol === "https:" || (u.protocol === "http:" && isLoopbackUrl(u)));
  } catch {
    return false;
  }
};

const OidcSchema = v.pipe(
  v.strictObject({
    issuer: v.pipe(Str, v.check(issuerUrl, "must be an https:// URL without query (plain http:// only on 127.0.0.1, ::1 or localhost)")),
    client_id: Str,
    client_secret: v.optional(v.pipe(v.string("must be a string"), v.maxLength(1000, "must be at most 1000 characters"))),
    token_endpoint_auth: v.optional(v.picklist(["basic", "post"], "must be basic or post")),
    scopes: v.optional(v.pipe(v.array(v.pipe(Str, v.regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, "must be a scope without spaces or quotes")), "must be a list of scopes"),
      v.check((s) => s.includes("openid"), "must include openid"))),
    username_claim: v.optional(ClaimName),
    role_claim: v.optional(ClaimName),
    roles: v.optional(v.strictObject({ admin: v.optional(Values), operator: v.optional(Values), viewer: v.optional(Values) }, "must be an object with admin, operator and viewer lists")),
    default_role: v.optional(v.nullable(Role)),
    display_name: v.optional(v.pipe(Str, v.maxLength(60, "must be at most 60 characters"))),
    timeout_ms: v.optional(v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(100, "must be at least 100"), v.maxValue(120_000, "must be at most 120000"))),
  }, "must be a JSON object"),
  v.check((c) => c.token_endpoint_auth === undefined || !!c.client_secret, "token_endpoint_auth: needs client_secret"),
);

const NoneSchema = v.strictObject({}, "must be an empty object: the none provider takes no settings");

export type ProviderConfig = LdapConfig | OidcConfig | Record<string, never>;

export const ProviderName = v.pipe(
  v.string("must be a string"), v.trim(),
  v.regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, "must be 1 to 63 letters, digits, _ or -, starting with a letter or digit"),
  v.check((n) => n.toLowerCase() !== LOCAL, `"${LOCAL}" is the built-in provider`),
);

/** The config checked for its type; throws InvalidInput naming each wrong field (as config.FIELD). */
export function checkConfig(type: ProviderType, config: unknown): ProviderConfig {
  const schema = type === "ldap" ? LdapSchema : type === "oidc" ? OidcSchema : NoneSchema;
  const r = v.safeParse(schema, config, { abortPipeEarly: true });
  if (r.success) return r.output as ProviderConfig;
  const fields: Record<string, string> = {};
  for (const issue of r.issues) {
    const key = ["config", ...(issue.path ?? []).map((p) => String(p.key))].join(".");
    const expectedNever = issue.kind === "schema" && issue.expected === "never";
    const missing = issue.kind === "schema" && issue.received === "undefined";
    fields[key] ??= expectedNever ? "is not a setting of this provider type" : missing ? "is required" : issue.message;
  }
  throw new InvalidInput(`invalid ${type} provider: ${Object.entries(fields).map(([k, m]) => `${k}: ${m}`).join("; ")}`, fields);
}
