// Targets and stores name a plugin; before one is saved, the plugin checks the
// endpoint (`validate`), so that a mistake shows at once rather than at 4am. A
// plugin's `info` also says which endpoint fields are passwords: for the viewer
// redaction and for sealing secrets in the catalog (both by src/secret-names.ts).
import { PluginFailed, PluginMissing, PluginUnfit, type PluginField, type PluginRegistry, type ResolvedPlugin } from "../pipeline/plugins.ts";
import { InvalidInput } from "./errors.ts";
import type { EndpointSealer } from "../catalog/index.ts";
import type { EndpointSecrets } from "../pipeline/endpoint-secrets.ts";
import { fieldTypeError } from "./endpoint-fields.ts";

export function endpointCheck(plugins: PluginRegistry, role: "target" | "store") {
  return async (v: { plugin: string; endpoint: string }): Promise<void> => {
    let plugin: ResolvedPlugin;
    try {
      plugin = await plugins.resolveAs(v.plugin, role);
    } catch (err) {
      // Missing, unfit for the role, or present but its `info` fails: either way the plugin field is what to fix.
      if (err instanceof PluginMissing || err instanceof PluginFailed || err instanceof PluginUnfit) {
        throw new InvalidInput(`plugin: ${err.message}`, { plugin: err.message });
      }
      throw err;
    }
    // The API passes an endpoint only as text holding a JSON object (api/schemas.ts);
    // anything else is left for the plugin's validate to refuse in its own words.
    const wrong = fieldTypeError(v.plugin, plugin.info.fields, parseObject(v.endpoint));
    if (wrong) throw new InvalidInput(`endpoint: ${wrong}`, { endpoint: wrong });
    try {
      await plugins.validate(plugin, v.endpoint);
    } catch (err) {
      if (err instanceof PluginFailed) throw new InvalidInput(`endpoint: ${err.message}`, { endpoint: err.message });
      throw err;
    }
  };
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch { /* not JSON */ }
  return {};
}

/** Top-level endpoint keys a plugin's `info` declares with type "password". */
export type Declared = ReadonlySet<string>;
const NONE: Declared = new Set();

// Asking a plugin its `info` may spawn it; a caller waits for that at most this
// long, then falls back to the name rule (a late answer is still cached for next time).
const INFO_WAIT_MS = 2000;
// Plugins whose `info` is still running after that wait, per registry: calls
// until it settles do not wait again, so a hanging plugin costs one wait, not one per request.
const stalled = new WeakMap<PluginRegistry, Set<string>>();

/**
 * The plugin's password fields, for the rule of src/secret-names.ts: none when it
 * is unknown, broken or slow, or declares no fields (the name rule alone then).
 */
export async function passwordFields(plugins: PluginRegistry | undefined, name: string): Promise<Declared> {
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
 * What the catalog seals endpoints with (see src/catalog/endpoints.ts): the
 * master key's EndpointSecrets, judging each endpoint by its plugin's password
 * fields and the name rule.
 */
export function endpointSealer(secrets: EndpointSecrets, plugins: PluginRegistry | undefined): EndpointSealer {
  return {
    seal: async (endpoint, plugin) => secrets.seal(endpoint, await passwordFields(plugins, plugin)),
    check: (endpoint) => { secrets.open(endpoint); },
  };
}
