// Endpoints in the browser. A plugin's `info` lists the fields of its endpoint;
// the forms are built from them, and each value is sent as src/endpoint-fields.ts
// says (the text typed, unless the field's type says otherwise). Secrets (as
// src/secret-names.ts judges them: fields of type "password", and keys named like
// one) never leave the server: the views get an EndpointView without their values,
// password inputs are always empty. On edit, an empty password input keeps the
// stored value and the "clear" box beside it stores an empty one.
import type { Errors, EndpointView, PluginView } from "../../views/types.ts";
import { JSON_INPUT, clearInput, fieldInput } from "../../views/endpoints.tsx";
import { fieldProblem, fieldText, fieldValue, fieldsOf } from "../endpoint-fields.ts";
import { isSecretField } from "../secret-names.ts";
import type { ApiClient } from "./client.ts";
import type { Form } from "./forms.ts";

/** Lists are typed one item a line, in a text area. */
const TYPING = { lines: true };

export function pluginView(p: { name: string; info: Record<string, any> }): PluginView {
  const features = p.info?.features ?? {};
  const fields = fieldsOf(p.info);
  return {
    name: p.name,
    title: typeof p.info?.name === "string" ? p.info.name : p.name,
    target: features.target === "yes",
    store: features.store === "yes",
    fields,
  };
}

export async function listPlugins(api: ApiClient, role: "target" | "store"): Promise<PluginView[]> {
  const all = await api.get<{ name: string; info: Record<string, any> }[]>("/v1/plugins");
  return all.map(pluginView).filter((p) => p[role]);
}

/** undefined when the plugin is missing or broken: the page then falls back to JSON. */
export async function findPlugin(api: ApiClient, name: string): Promise<PluginView | undefined> {
  if (!name) return undefined;
  const r = await api.send<{ name: string; info: Record<string, any> }>("GET", `/v1/plugin/${encodeURIComponent(name)}`);
  return r.ok ? pluginView(r.data) : undefined;
}

export function parseEndpoint(json: string): Record<string, unknown> {
  try {
    const v = JSON.parse(json);
    return v && typeof v === "object" && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

export function isSecret(plugin: PluginView | undefined, key: string): boolean {
  return isSecretField(plugin?.fields.find((f) => f.name === key), key);
}

function display(v: unknown): string | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (Array.isArray(v)) return v.map(String).join(", ");
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** What a page may show of an endpoint: every field, a secret only as set or not set. */
export function endpointView(plugin: PluginView | undefined, pluginName: string, endpointJson: string | null): EndpointView {
  const ep = parseEndpoint(endpointJson ?? "{}");
  const lines = (plugin?.fields ?? []).map((f) => {
    const secret = isSecretField(f, f.name);
    return { name: f.name, title: f.title, secret, value: secret ? (display(ep[f.name]) ? "set" : undefined) : display(ep[f.name]) };
  });
  const known = new Set(lines.map((l) => l.name));
  for (const [k, v] of Object.entries(ep)) {
    if (known.has(k)) continue;
    const secret = isSecret(plugin, k);
    lines.push({ name: k, title: k, secret, value: secret ? (display(v) ? "set" : undefined) : display(v) });
  }
  return { plugin: pluginName, lines };
}

/** The values an edit form starts with: never a secret's. */
export function formValues(plugin: PluginView | undefined, endpointJson: string | null): Record<string, string> {
  const ep = parseEndpoint(endpointJson ?? "{}");
  const out: Record<string, string> = {};
  for (const f of plugin?.fields ?? []) {
    if (f.type === "password") continue;
    const v = fieldText(f, ep[f.name], TYPING);
    if (v !== undefined) out[fieldInput(f.name)] = v;
  }
  return out;
}

/** Which secrets are stored, so the form can say "leave empty to keep". */
export function storedSecrets(plugin: PluginView | undefined, endpointJson: string | null): string[] {
  const ep = parseEndpoint(endpointJson ?? "{}");
  return Object.keys(ep).filter((k) => isSecret(plugin, k) && display(ep[k]) !== undefined);
}

/**
 * The endpoint a submitted form describes. `existing` is the stored endpoint when
 * editing with the same plugin: its secrets stay unless a new value is typed, and
 * keys the form does not show (set through the API) stay as they were.
 */
export function endpointFromForm(form: Form, plugin: PluginView | undefined, existing?: Record<string, unknown>): { endpoint?: Record<string, unknown>; errors: Errors } {
  if (!plugin || plugin.fields.length === 0) {
    const raw = (form[JSON_INPUT] ?? "").trim();
    if (raw === "") return { endpoint: existing ?? {}, errors: {} };
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      return { errors: { [JSON_INPUT]: `is not valid JSON: ${(err as Error).message}` } };
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return { errors: { [JSON_INPUT]: 'must be a JSON object, like {"host": "db1"}' } };
    return { endpoint: parsed as Record<string, unknown>, errors: {} };
  }
  const out: Record<string, unknown> = {};
  const errors: Errors = {};
  const names = new Set(plugin.fields.map((f) => f.name));
  for (const [k, v] of Object.entries(existing ?? {})) if (!names.has(k)) out[k] = v;
  for (const f of plugin.fields) {
    const raw = form[fieldInput(f.name)] ?? "";
    if (f.type === "bool") {
      // A checkbox left unticked is not sent at all: that is false, not "the default".
      out[f.name] = raw === "on" || raw === "true";
      continue;
    }
    if (f.type === "password") {
      const stored = existing?.[f.name];
      // Empty keeps a stored password, unless "clear" is ticked; with none stored, an empty one is saved.
      const keep = raw === "" && form[clearInput(f.name)] !== "on" && stored !== undefined && stored !== null && stored !== "";
      out[f.name] = keep ? stored : raw;
      continue;
    }
    const problem = fieldProblem(f, raw);
    if (problem) {
      errors[fieldInput(f.name)] = `${f.name} ${problem}`;
      continue;
    }
    const value = fieldValue(f, raw, TYPING);
    // Left empty: the plugin's default applies.
    if (value !== undefined) out[f.name] = value;
  }
  return Object.keys(errors).length ? { errors } : { endpoint: out, errors: {} };
}

/**
 * The API reports a bad endpoint as one message under `endpoint`, in the plugin's
 * words, which name the offending key in quotes: shown next to that key's input.
 */
export function placeErrors(fields: Record<string, string>, plugin: PluginView | undefined): Errors {
  const errors: Errors = { ...fields };
  const msg = fields.endpoint;
  if (msg) {
    const quoted = [...msg.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    const hit = plugin?.fields.find((f) => quoted.includes(f.name));
    if (hit) {
      delete errors.endpoint;
      errors[fieldInput(hit.name)] = msg;
    } else if (!plugin || plugin.fields.length === 0) {
      delete errors.endpoint;
      errors[JSON_INPUT] = msg;
    }
  }
  return errors;
}
