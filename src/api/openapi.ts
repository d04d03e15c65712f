// The OpenAPI 3.1 document, built from the route declarations and their valibot schemas.
import { toJsonSchema, type ConversionConfig } from "@valibot/to-json-schema";
import * as v from "valibot";
import type { RouteSpec } from "./route.ts";
import * as S from "./schemas.ts";
import * as agents from "./agents.ts";
import * as connections from "./connections.ts";
import * as drills from "./drills.ts";
import * as gpbackup from "./gpbackup.ts";
import * as notifications from "./notifications.ts";
import * as plugins from "./plugins.ts";
import { REDACTED } from "./redact.ts";
import { VERSION } from "../version.ts";

const ERROR_TEXT: Record<number, string> = {
  400: "Invalid input: `error` says what is wrong; `fields` names each bad field",
  401: "Missing or wrong credentials",
  403: "Your role does not allow this",
  404: "No such object",
  409: "Refused: the object is in use, the name is taken, or its state does not allow it",
  503: "The daemon is starting: try again in a moment (Retry-After); `ready` is false",
  429: "Too many failed sign-ins from this address (HTTP Basic): wait the seconds the Retry-After header says",
};

const OBJECT_TYPES = new Set(["object", "strict_object", "loose_object", "object_with_rest"]);

/**
 * The object shapes schemas.ts names, under the names a reader of the document
 * sees (TaskJson is "Task"): each is written once in components/schemas and
 * referred to wherever a route uses it, instead of an inlined copy per route.
 * Named by export (of schemas.ts, or of the route module that owns the shape),
 * so a new shape gets its component by being exported there.
 */
function namedSchemas(): Record<string, v.GenericSchema> {
  const named: Record<string, v.GenericSchema> = {};
  const exported = { ...agents, ...connections, ...drills, ...gpbackup, ...notifications, ...plugins, ...S };
  for (const [name, value] of Object.entries(exported)) {
    const s = value as { kind?: unknown; type?: unknown };
    if (!s || typeof s !== "object" || s.kind !== "schema" || !OBJECT_TYPES.has(String(s.type))) continue;
    // Path and query shapes are written out as parameters, never referred to.
    if (/(Query|Param)$/.test(name)) continue;
    const short = name.replace(/Json$/, "");
    named[short in exported || short in named || short === "" ? name : short] = value as v.GenericSchema;
  }
  return named;
}

// Transforms (string → number for query flags) have no JSON Schema; document the input side.
// Made on first use: the route modules it names are loaded by then.
let conversion: ConversionConfig | undefined;
const CONVERSION = (): ConversionConfig => (conversion ??= {
  errorMode: "ignore", typeMode: "input", definitions: namedSchemas(),
  overrideRef: ({ referenceId }) => `#/components/schemas/${referenceId}`,
});

function bare(js: Record<string, unknown>): object {
  const { $schema: _s, $defs: _d, ...rest } = js;
  return rest;
}

function schema(s: v.GenericSchema): object {
  return bare(toJsonSchema(s, CONVERSION()) as Record<string, unknown>);
}

/** components/schemas: each named shape once, its own named parts as references. */
function components(): Record<string, object> {
  const js = toJsonSchema(S.ErrorBody, CONVERSION()) as { $defs?: Record<string, Record<string, unknown>> };
  return Object.fromEntries(Object.entries(js.$defs ?? {}).map(([k, d]) => [k, bare(d)]));
}

/**
 * A route's example body, refused here if the route itself would refuse it: an
 * example a reader copies must work. Every route with a body has one (test/api/openapi.test.ts).
 */
function checkedExample(s: RouteSpec<any, any, any>): unknown {
  if (s.example === undefined) return undefined;
  const r = v.safeParse(s.body as v.GenericSchema, s.example);
  if (!r.success) throw new Error(`the example body of ${s.method.toUpperCase()} ${s.path} is invalid: ${r.issues.map((i) => i.message).join("; ")}`);
  return s.example;
}

/** The fallback operationId of a route that declares none: method and path, camel-cased (getJobUuidHistory). */
function derivedOperationId(method: string, path: string): string {
  const words = path.replace(/^\/v1\//, "").split(/[^A-Za-z0-9]+/).filter(Boolean);
  return method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

export interface DocumentOptions {
  /** Where the API is served, as a client reaches it (servers[0].url); "/" when unknown. */
  serverUrl?: string;
}

export function openApiDocument(specs: RouteSpec<any, any, any>[], opts: DocumentOptions = {}): object {
  const paths: Record<string, Record<string, object>> = {};
  const errorContent = { "application/json": { schema: schema(S.ErrorBody) } };
  for (const s of specs) {
    const path = s.path.replace(/:(\w+)/g, "{$1}");
    const parameters: object[] = [];
    for (const [where, sch] of [["path", s.params], ["query", s.query]] as const) {
      if (!sch) continue;
      const js = schema(sch) as { properties?: Record<string, object>; required?: string[] };
      for (const [name, p] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: where, required: where === "path" || (js.required ?? []).includes(name), schema: p });
      }
    }
    const responses: Record<string, object> = {
      [String(s.status ?? 200)]: s.response === "text"
        ? { description: "OK", content: { "text/plain": { schema: { type: "string" } } } }
        : { description: "OK", content: { "application/json": { schema: schema(s.response) } } },
    };
    const errors = new Set<number>(s.permission === "public" ? [] : [401, 403, 429]);
    // A GET refuses query parameters it does not declare (route.ts), so every GET can answer 400.
    if (s.params || s.query || s.body || s.method === "get") errors.add(400);
    for (const e of s.errors ?? []) errors.add(e);
    for (const e of [...errors].sort()) responses[String(e)] = { description: ERROR_TEXT[e], content: errorContent };
    paths[path] ??= {};
    const example = s.body ? checkedExample(s) : undefined;
    paths[path][s.method] = {
      operationId: s.operationId ?? derivedOperationId(s.method, s.path),
      tags: [s.tag],
      summary: s.summary,
      ...(s.description ? { description: s.description } : {}),
      ...(s.permission === "public" ? { security: [] } : { "x-shield-role": s.permission }),
      ...(parameters.length ? { parameters } : {}),
      ...(s.body ? {
        requestBody: {
          required: !s.bodyOptional,
          content: { "application/json": { schema: schema(s.body), ...(example !== undefined ? { example } : {}) } },
        },
      } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Shield /v1 API",
      version: VERSION,
      description: "Backup and restore of data systems into stores. Roles: viewer reads; operator also changes jobs, targets, stores, schedules and policies and runs backups and restores; admin also manages users. " +
        `Viewers get target and store endpoints with their secret values replaced by "${REDACTED}". ` +
        "A GET with a query parameter it does not list is refused with 400 naming it. " +
        "While the daemon starts, every request but GET /v1/health is answered 503 with Retry-After.",
    },
    // Relative by default: the document is served by the daemon it describes, so "/" is that daemon.
    servers: [{ url: opts.serverUrl ?? "/", description: "This Shield daemon" }],
    components: {
      schemas: components(),
      securitySchemes: { basic: { type: "http", scheme: "basic" }, token: { type: "http", scheme: "bearer" } },
    },
    security: [{ basic: [] }, { token: [] }],
    paths,
  };
}
