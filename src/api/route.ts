// One place where a /v1 route is declared: its path, who may call it, the valibot
// schemas of its parameters, query and body, and what it answers. `route()`
// registers the Hono handler (authentication, permission, validation) and keeps
// the declaration for the OpenAPI document, so the two cannot drift apart.
import type { Context, Hono } from "hono";
import * as v from "valibot";
import { Forbidden, InvalidInput, TooManyAttempts, Unauthenticated, UNKNOWN_ADDRESS, type Core, type Principal } from "../core/index.ts";
import { allows, roleFor, type Permission } from "../core/access.ts";
import { redactEndpoints, revealEndpoints } from "./redact.ts";
import { attemptedName, auditBefore, auditFailedSignIn, auditRefusal, type AuditDecl } from "./audit.ts";

type Schema = v.GenericSchema;
type Out<S> = S extends Schema ? v.InferOutput<S> : undefined;

export interface RouteSpec<P extends Schema | undefined, Q extends Schema | undefined, B extends Schema | undefined> {
  method: "get" | "post" | "put" | "delete";
  /** Hono syntax: /v1/job/:uuid */
  path: string;
  /** A name for generated clients and the reference page's links (listJobs, restoreArchive); unique. */
  operationId?: string;
  tag: string;
  summary: string;
  description?: string;
  /** `public` needs no credentials at all. */
  permission: Permission | "public";
  params?: P;
  query?: Q;
  body?: B;
  /** A request body the route accepts, for the OpenAPI document (checked against `body` there). */
  example?: unknown;
  /** A body may be left out entirely (run, restore): it is then read as `{}`. */
  bodyOptional?: boolean;
  status?: 200 | 201;
  response: Schema | "text";
  /** Statuses besides 200/400/401/403 worth documenting. */
  errors?: (404 | 409 | 503)[];
  /**
   * What the route changes, for the audit trail (./audit.ts): required of every
   * route but GETs, so that a new route cannot forget it; `{ none: why }` for a
   * POST that changes nothing (a connection test, a preview).
   */
  audit?: AuditDecl;
}

export interface Input<P, Q, B> {
  c: Context;
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
  /** Undefined only on public routes. */
  user: Principal;
}

export interface Router {
  app: Hono;
  core: Core;
  specs: RouteSpec<any, any, any>[];
}

export function route<P extends Schema | undefined = undefined, Q extends Schema | undefined = undefined, B extends Schema | undefined = undefined>(
  router: Router,
  spec: RouteSpec<P, Q, B>,
  handler: (input: Input<P, Q, B>) => Promise<unknown> | unknown,
): void {
  if (spec.method !== "get" && !spec.audit) throw new Error(`${spec.method.toUpperCase()} ${spec.path} declares no audit: say what it changes, or { none: why }`);
  const audit = spec.audit && "type" in spec.audit ? spec.audit : undefined;
  router.specs.push(spec);
  router.app[spec.method](spec.path, async (c) => {
    let user = undefined as unknown as Principal;
    if (spec.permission !== "public") {
      user = await authenticate(router.core, c);
      if (!allows(user.role, spec.permission)) {
        throw new Forbidden(`${spec.method.toUpperCase()} ${spec.path} needs the ${roleFor(spec.permission)} role; user "${user.name}" is ${user.role}`);
      }
    }
    const params = validate("path", spec.params, c.req.param());
    if (spec.method === "get") refuseUnknownQuery(spec, c);
    const query = validate("query", spec.query, c.req.query());
    const body = spec.body ? validate("body", spec.body, await readJson(c, spec.bodyOptional ?? false)) : undefined;
    const recordChange = audit && (await auditBefore(router.core, audit, { params, body, user }, clientAddress(c)));
    let result: unknown;
    try {
      result = await handler({ c, params, query, body, user } as Input<P, Q, B>);
    } catch (err) {
      if (audit) await auditRefusal(router.core, audit, { params, body, user }, err, clientAddress(c));
      throw err;
    }
    if (recordChange) await recordChange(result);
    if (result instanceof Response) return result;
    // Endpoint secrets are for those who edit endpoints: here, for every route at
    // once, so a new route answering endpoints cannot forget it (see redact.ts).
    // Public routes (health, pubkey, the OpenAPI document) answer no endpoints.
    if (user) {
      result = allows(user.role, "operate") ? revealEndpoints(result, router.core.secrets) : await redactEndpoints(result, router.core.plugins);
    }
    return c.json(result as object, spec.status ?? 200);
  });
}

/**
 * The request's principal. A refused user name and password is a failed sign-in
 * for the audit trail, with the name tried; a refused token names nobody and is
 * not one (a web page left open past its session would fill the trail).
 */
async function authenticate(core: Core, c: Context): Promise<Principal> {
  const header = c.req.header("authorization");
  try {
    return await core.users.authenticate(header, clientAddress(c));
  } catch (err) {
    const name = (err instanceof Unauthenticated || err instanceof TooManyAttempts) ? attemptedName(header) : undefined;
    if (name !== undefined) await auditFailedSignIn(core, name, clientAddress(c), err instanceof TooManyAttempts ? "too many failed sign-ins" : (err as Error).message);
    throw err;
  }
}

/**
 * A GET route answers only to the query parameters it declares: `?limt=10` or
 * `?stauts=failed` would otherwise be ignored silently and answer something else
 * than was asked (a whole list, unfiltered). Checked here, once for every route,
 * rather than by a strict schema per route, so a route without a query schema
 * refuses them too.
 */
function refuseUnknownQuery(spec: RouteSpec<any, any, any>, c: Context): void {
  const declared = spec.query && "entries" in spec.query ? (spec.query as { entries: Record<string, unknown> }).entries : {};
  const unknown = [...new Set(new URL(c.req.url).searchParams.keys())].filter((key) => !Object.hasOwn(declared, key));
  if (!unknown.length) return;
  const words = "is not a parameter of this request";
  const known = Object.keys(declared);
  const hint = known.length ? ` (it takes ${known.join(", ")})` : " (it takes none)";
  // fromEntries: a parameter named __proto__ becomes a field like any other.
  throw new InvalidInput(
    `invalid query parameter${unknown.length > 1 ? "s" : ""}: ${unknown.map((k) => `${k}: ${words}`).join("; ")}${hint}`,
    Object.fromEntries(unknown.map((k) => [k, words])),
  );
}

/**
 * What the daemon's server gives the API with each request (Hono's env): the
 * client's IP address, for the sign-in throttle and the audit trail. The web UI
 * passes on its browser's. Never a header the client wrote: the peer's address,
 * or what a proxy named by --trusted-proxy says (src/daemon/client-address.ts).
 */
export interface ApiEnv { clientAddress?: string }

export function clientAddress(c: Context): string {
  const a = (c.env as ApiEnv | undefined)?.clientAddress;
  return typeof a === "string" && a ? a : UNKNOWN_ADDRESS;
}

async function readJson(c: Context, optional: boolean): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") {
    if (optional) return {};
    throw new InvalidInput("request body is empty; send a JSON object");
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new InvalidInput(`request body is not valid JSON: ${(err as Error).message}`);
  }
  // valibot's object schemas let arrays through (they are objects to JavaScript).
  if (Array.isArray(body)) throw new InvalidInput("request body: must be a JSON object, not an array");
  return body;
}

function validate<S extends Schema | undefined>(where: "path" | "query" | "body", schema: S, value: unknown): Out<S> {
  if (!schema) return undefined as Out<S>;
  const result = v.safeParse(schema, value, { abortPipeEarly: true });
  if (result.success) return result.output as Out<S>;
  const fields: Record<string, string> = {};
  let whole: string | undefined;
  for (const issue of result.issues) {
    const key = issue.path?.map((p) => String(p.key)).join(".");
    if (!key) { whole = describe(issue); continue; }
    fields[key] ??= describe(issue);
  }
  const parts = Object.entries(fields).map(([k, m]) => `${k}: ${m}`);
  const what = where === "body" ? "request body" : where === "query" ? "query parameter" : "path parameter";
  if (whole) throw new InvalidInput(`${what}: ${whole}`);
  const plural = parts.length > 1 && where !== "body" ? "s" : "";
  throw new InvalidInput(`invalid ${what}${plural}: ${parts.join("; ")}`, fields);
}

/** valibot's words for missing and unknown keys are about the schema; say them in the user's terms. */
function describe(issue: v.BaseIssue<unknown>): string {
  if (issue.kind === "schema" && issue.received === "undefined" && issue.expected?.startsWith('"')) return "is required";
  if (issue.kind === "schema" && issue.expected === "never") return "is not a field of this request";
  if (issue.kind === "schema" && issue.expected === "Object") return `must be a JSON object, not ${issue.received}`;
  return issue.message;
}
