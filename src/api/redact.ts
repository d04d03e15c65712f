// What a viewer may see of an endpoint. Target and store endpoints hold the
// credentials the plugins connect with (the postgres target's `pg_password`, an
// S3 store's `secret_access_key`). Operators and admins edit endpoints, so they
// read them whole; a viewer only reads, and gets every secret value replaced by
// REDACTED. route() applies this to every answer given to a caller who may not
// operate, so no route can forget it: any object in the answer with an
// `endpoint`, `store_endpoint` or `target_endpoint` is redacted, judged by the
// plugin named beside it (`plugin`, `store_plugin`, `target_plugin`).
import type { PluginField, PluginRegistry } from "../pipeline/plugins.ts";
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

// Key names that hold secrets by convention, for plugins that declare no fields
// (or cannot be asked) and for secrets declared carelessly. Over-redacting only costs a viewer a harmless value; so
// anything mentioning a password, secret, token or credential goes, and `key`
// as a whole word at the end (key, api_key, storage_account_key, sshKey) but not
// in the middle (access_key_id, key_id, keyspace are names, not secrets).
const SECRET_WORD = /pass|pwd|secret|token|credential|private|auth/i;
const SECRET_KEY_END = /(?:^|[_\-.])key$|apikey$/i;
const CAMEL_KEY_END = /[a-z0-9]Key$/;

export function looksSecret(name: string): boolean {
  return SECRET_WORD.test(name) || SECRET_KEY_END.test(name) || CAMEL_KEY_END.test(name);
}

/** Keys the plugin's `info` declares with type "password". */
type Declared = ReadonlySet<string>;
const NONE: Declared = new Set();

/**
 * Redacts one endpoint (the API's string holding a JSON object). A key is secret
 * when the plugin declares it a password, or when its name looks like a secret's:
 * the name rule stands in for plugins that declare nothing (or cannot be asked),
 * and also catches a secret a plugin declared carelessly as a plain string.
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
  return JSON.stringify(Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, declared.has(k) ? REDACTED : byName(k, v)])));
}

/** The name rule, into nested objects and arrays too (a plugin's own shape is opaque to us). */
function byName(key: string, value: unknown): unknown {
  if (looksSecret(key)) return REDACTED;
  if (Array.isArray(value)) return value.map((x) => byName("", x));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, byName(k, v)]));
  return value;
}

// Asking a plugin its `info` may spawn it; an answer waits for that at most this
// long, then falls back to the name rule (a late answer is still cached for next time).
const INFO_WAIT_MS = 2000;
// Plugins whose `info` is still running after that wait, per registry: answers
// until it settles do not wait again, so a hanging plugin costs one wait, not one per request.
const stalled = new WeakMap<PluginRegistry, Set<string>>();

/** The plugin's password fields; none when it is unknown, broken or slow, or declares no fields. */
async function declaredFields(plugins: PluginRegistry | undefined, name: string): Promise<Declared> {
  if (!plugins || !name) return NONE;
  let waiting = stalled.get(plugins);
  if (!waiting) stalled.set(plugins, (waiting = new Set()));
  if (waiting.has(name)) return NONE;
  let timer: Timer | undefined;
  try {
    const resolving = plugins.resolve(name);
    const p = await Promise.race([resolving, new Promise<undefined>((res) => { timer = setTimeout(res, INFO_WAIT_MS); })]);
    if (!p) {
      waiting.add(name);
      resolving.then(() => waiting.delete(name), () => waiting.delete(name));
      return NONE;
    }
    // `fields` comes from the plugin's own output (possibly a plugin written for the
    // original Shield, whose fields also carry "mode"): trust only well-formed entries.
    const fields: unknown = p.info.fields;
    if (!Array.isArray(fields)) return NONE;
    return new Set((fields as Partial<PluginField>[]).flatMap((f) => (f && typeof f.name === "string" && f.type === "password" ? [f.name] : [])));
  } catch {
    return NONE; // missing or broken plugin: the name rule alone
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The answer as a viewer may see it: a copy with every endpoint in it redacted.
 * The plugins named in it are asked first, each once however many rows name it;
 * the copy is then made without awaiting per row, each endpoint redacted once
 * however many rows show it (the jobs of one target), and a long list lets the
 * event loop turn as it goes (rows.ts).
 */
export async function redactEndpoints<T>(answer: T, plugins: PluginRegistry | undefined): Promise<T> {
  const names = new Set<string>();
  const collect = (value: unknown): void => {
    if (Array.isArray(value)) { for (const x of value) collect(x); return; }
    if (!value || typeof value !== "object") return;
    const obj = value as Record<string, unknown>;
    for (const [ep, plugin] of ENDPOINT_KEYS) if (obj[ep] !== undefined) names.add(pluginKey(obj[plugin]));
    for (const v of Object.values(obj)) if (v && typeof v === "object") collect(v);
  };
  collect(answer);
  const declared = new Map(await Promise.all([...names].map(async (n) => [n, await declaredFields(plugins, n)] as const)));

  const redacted = new Map<string, string>();
  const redactOnce = (endpoint: string, plugin: unknown) => {
    const key = `${pluginKey(plugin)}\n${endpoint}`;
    let r = redacted.get(key);
    if (r === undefined) redacted.set(key, (r = redactEndpoint(endpoint, declared.get(pluginKey(plugin)) ?? NONE)));
    return r;
  };
  const copy = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(copy);
    if (!value || typeof value !== "object") return value;
    const obj = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = v && typeof v === "object" ? copy(v) : v;
    for (const [ep, plugin] of ENDPOINT_KEYS) {
      const e = obj[ep];
      if (typeof e === "string") out[ep] = redactOnce(e, obj[plugin]);
      // No shape answers an endpoint as an object today; one that did would still be redacted.
      else if (e && typeof e === "object") out[ep] = JSON.parse(redactOnce(JSON.stringify(e), obj[plugin]));
    }
    return out;
  };
  return (Array.isArray(answer) ? await mapRows(answer, copy) : copy(answer)) as T;
}

const pluginKey = (name: unknown) => (typeof name === "string" ? name : "");
