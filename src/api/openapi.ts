// The OpenAPI 3.1 document, built from the route declarations and their valibot schemas.
import { toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";
import type { RouteSpec } from "./route.ts";
import { ErrorBody } from "./schemas.ts";
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

function schema(s: v.GenericSchema): object {
  // Transforms (string → number for query flags) have no JSON Schema; document the input side.
  return toJsonSchema(s, { errorMode: "ignore", typeMode: "input" }) as object;
}

export function openApiDocument(specs: RouteSpec<any, any, any>[]): object {
  const paths: Record<string, Record<string, object>> = {};
  const errorContent = { "application/json": { schema: schema(ErrorBody) } };
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
    paths[path][s.method] = {
      tags: [s.tag],
      summary: s.summary,
      ...(s.description ? { description: s.description } : {}),
      ...(s.permission === "public" ? { security: [] } : { "x-shield-role": s.permission }),
      ...(parameters.length ? { parameters } : {}),
      ...(s.body ? { requestBody: { required: !s.bodyOptional, content: { "application/json": { schema: schema(s.body) } } } } : {}),
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
    components: {
      securitySchemes: { basic: { type: "http", scheme: "basic" }, token: { type: "http", scheme: "bearer" } },
    },
    security: [{ basic: [] }, { token: [] }],
    paths,
  };
}
