// What a caller may see of an endpoint. Target and store endpoints hold the
// credentials the plugins connect with (the postgres target's `pg_password`, an
// S3 store's `secret_access_key`); the catalog keeps those values sealed with the
// master key (src/pipeline/endpoint-secrets.ts). Operators and admins edit
// endpoints, so they read them whole: revealEndpoints opens the sealed values. A
// viewer only reads, and gets every secret value replaced by REDACTED. route()
// applies one or the other to every answer, so no route can forget it: any object
// in the answer with an `endpoint`, `store_endpoint` or `target_endpoint` is
// treated, judged by the plugin named beside it (`plugin`, `store_plugin`, `target_plugin`).
import { isSealed, type EndpointSecrets } from "../pipeline/endpoint-secrets.ts";
import type { Declared, PluginRules } from "../core/plugins.ts";
import { log } from "../log.ts";
import { looksSecret, mapSecrets } from "../secret-names.ts";
import { mapRows } from "./rows.ts";

/** What a secret value reads as to a viewer: fixed, so it says nothing about the secret (not even its length). */
export const REDACTED = "********";

/** For the OpenAPI descriptions of the routes that answer endpoints. */
export const REDACTION_NOTE =
  `For the viewer role, endpoint values that are secret are replaced by "${REDACTED}": ` +
  `fields the plugin's \`info\` declares with type "password", and keys named like a secret ` +
  "(containing pass, pwd, secret, token, credential, private or auth, or ending in key: api_key, secret_access_key, but not access_key_id), " +
  "also inside nested objects. An endpoint that is not a JSON object is replaced whole. Operators and admins get endpoints whole.";

/** Endpoint keys of the /v1 JSON shapes, each with the key naming its plugin. */
const ENDPOINT_KEYS: readonly (readonly [endpoint: string, plugin: string])[] = [
  ["endpoint", "plugin"], ["store_endpoint", "store_plugin"], ["target_endpoint", "target_plugin"],
];

// The rule lives in src/secret-names.ts; kept here for the tests that name it.
export { looksSecret };

const NONE: Declared = new Set();

/**
 * Redacts one endpoint (the API's string holding a JSON object): every value the
 * rule of src/secret-names.ts calls secret, and any value still sealed by the
 * catalog (a field declared a password by a plugin that cannot be asked now).
 */
export function redactEndpoint(endpoint: string, declared: Declared): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(endpoint);
  } catch {
    // Not ours to guess which part of unparseable text is secret: none of it is shown.
    return REDACTED;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return REDACTED;
  const sealed = (v: unknown): unknown => {
    if (isSealed(v)) return REDACTED;
    if (Array.isArray(v)) return v.map(sealed);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sealed(x)]));
    return v;
  };
  return JSON.stringify(sealed(mapSecrets(parsed as Record<string, unknown>, declared, () => REDACTED)));
}

/**
 * `answer` with `treat` applied to every endpoint in it (see ENDPOINT_KEYS), given
 * the plugin named beside it. Copy on change: an object is copied only if an
 * endpoint in it (or below it) was treated into another value, and the parts
 * without endpoints (a job's last_run, window, drill) are the caller's own. Synchronous:
 * a list of thousands of rows costs one pass, not a promise per object.
 */
function mapEndpoints<T>(answer: T, treat: (endpoint: string, plugin: string) => string): T {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      const items = value.map(walk);
      return items.some((x, i) => x !== value[i]) ? items : value;
    }
    if (!value || typeof value !== "object") return value;
    const obj = value as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    const set = (k: string, v: unknown) => {
      if (v === obj[k]) return;
      out ??= { ...obj };
      out[k] = v;
    };
    for (const k in obj) {
      const v = obj[k];
      if (v && typeof v === "object") set(k, walk(v));
    }
    for (const [ep, plugin] of ENDPOINT_KEYS) {
      const e = obj[ep];
      const p = typeof obj[plugin] === "string" ? (obj[plugin] as string) : "";
      if (typeof e === "string") set(ep, treat(e, p));
      // No shape answers an endpoint as an object today; one that did would still be treated.
      else if (e && typeof e === "object") set(ep, JSON.parse(treat(JSON.stringify(e), p)));
    }
    return out ?? obj;
  };
  return walk(answer) as T;
}

/**
 * The answer as a viewer may see it: a copy with every endpoint in it redacted.
 * Each plugin is asked once per answer, however many rows name it.
 */
export async function redactEndpoints<T>(answer: T, plugins: PluginRules | undefined): Promise<T> {
  const names = new Set<string>();
  mapEndpoints(answer, (e, plugin) => { names.add(plugin); return e; });
  const declared = new Map(await Promise.all([...names].map(async (n) => [n, plugins ? await plugins.passwordFields(n) : NONE] as const)));
  // Each endpoint is redacted once however many rows show it (the jobs of one target).
  const redacted = new Map<string, string>();
  const redactOnce = (e: string, plugin: string) => {
    const key = `${plugin}\n${e}`;
    let r = redacted.get(key);
    if (r === undefined) redacted.set(key, (r = redactEndpoint(e, declared.get(plugin)!)));
    return r;
  };
  // A long list lets the event loop turn as it goes (rows.ts).
  if (Array.isArray(answer)) return (await mapRows(answer, (row) => mapEndpoints(row, redactOnce))) as T;
  return mapEndpoints(answer, redactOnce);
}

/**
 * The answer as an operator or admin sees it: every sealed endpoint value opened.
 * A value that does not open (sealed under another master key, damaged) is shown
 * as REDACTED: the endpoint still reads, and its other values can be fixed.
 */
export function revealEndpoints<T>(answer: T, secrets: EndpointSecrets | undefined): T {
  if (!secrets) return answer;
  // Each endpoint opened once however many rows show it: a list of 1,000 jobs names ~50 targets and stores.
  const opened = new Map<string, string>();
  return mapEndpoints(answer, (e) => {
    let o = opened.get(e);
    if (o !== undefined) return o;
    try {
      o = secrets.open(e).endpoint;
    } catch (err) {
      log.warn("an endpoint secret does not open with this master key; shown redacted", { error: (err as Error).message });
      o = secrets.open(e, REDACTED).endpoint;
    }
    opened.set(e, o);
    return o;
  });
}
