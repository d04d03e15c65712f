// Plugins as the API sees them, through the core: listed and shown, asked which
// endpoint fields are passwords (for the viewer redaction), and, before a target
// or store is saved, asked to check the endpoint (`validate`), so that a mistake
// shows at once rather than at 4am. The API never holds the plugin host itself.
// The password fields also decide what the catalog seals (src/secret-names.ts).
import { PluginFailed, PluginMissing, PluginUnfit, type Bound, type PluginRegistry, type ResolvedPlugin } from "../plugin-host/index.ts";
import { passwordFields } from "../secret-names.ts";
import { InvalidInput, NotFound } from "./errors.ts";
import type { EndpointSealer } from "../catalog/index.ts";
import type { EndpointSecrets } from "../pipeline/endpoint-secrets.ts";

/** What a plugin name may be: a file name that cannot climb out of its directory. */
export { PLUGIN_NAME } from "../plugin-host/index.ts";

/** A plugin as /v1/plugins shows it. */
export interface PluginView { name: string; source: string; info: Record<string, unknown> }

/** The plugin is installed but its `info` fails: the operator needs its own words (the API answers 502). */
export class PluginBroken extends Error {}

const view = (p: ResolvedPlugin): PluginView => ({ name: p.name, source: p.source, info: p.info });

export function pluginRules(plugins: PluginRegistry | undefined) {
  return {
    /** Every plugin that answers `info`; none when no plugins are configured. */
    async list(): Promise<PluginView[]> {
      return plugins ? (await plugins.list()).map(view) : [];
    },
    /** One plugin; NotFound when there is none of that name, PluginBroken when it does not answer. */
    async get(name: string): Promise<PluginView> {
      try {
        if (!plugins) throw new PluginMissing("no plugins are configured");
        return view(await plugins.resolve(name));
      } catch (err) {
        if (err instanceof PluginMissing) throw new NotFound("plugin", name, "name");
        if (err instanceof PluginFailed) throw new PluginBroken(err.message);
        throw err;
      }
    },
    /**
     * The plugin's password fields, if its `info` answers within a short wait
     * (the registry's infoWithin); none otherwise: the name rule alone then.
     */
    passwordFields: (name: string): Promise<Declared> => declaredPasswords(plugins, name),
  };
}
export type PluginRules = ReturnType<typeof pluginRules>;
import { fieldTypeError } from "./endpoint-fields.ts";

/** Runs a target's `validate` on the agent it names (src/agent/directory.ts). */
export interface AgentValidator {
  run(agent: string, op: "validate", plugin: string, endpoint: string): Promise<{ code: number; stdout: string; stderr: string }>;
}

export function endpointCheck(plugins: PluginRegistry, role: "target" | "store", agents?: AgentValidator) {
  return async (v: { plugin: string; endpoint: string; agent?: string }): Promise<void> => {
    // A target on an agent is checked by its plugin there, which may be one the core
    // does not have. An agent that does not answer yet (not installed, down) leaves the
    // check to the core's plugin of that name: the target can be defined first, and
    // its tasks fail until the agent answers.
    if (role === "target" && v.agent && agents) {
      const r = await agents.run(v.agent, "validate", v.plugin, v.endpoint).catch(() => undefined);
      if (r) {
        const words = (r.stdout + r.stderr).trim() || `exit ${r.code}`;
        if (r.code === 0) return;
        if (/no plugin named|cannot be used as a target/.test(words)) throw new InvalidInput(`plugin: on agent ${v.agent}: ${words}`, { plugin: `on agent ${v.agent}: ${words}` });
        const message = `plugin ${v.plugin} on agent ${v.agent} says the endpoint is invalid: ${words}`;
        throw new InvalidInput(`endpoint: ${message}`, { endpoint: message });
      }
    }
    let bound: Bound;
    try {
      bound = await plugins.bind(role, v);
    } catch (err) {
      // Missing, unfit for the role, or present but its `info` fails: either way the plugin field is what to fix.
      if (err instanceof PluginMissing || err instanceof PluginFailed || err instanceof PluginUnfit) {
        throw new InvalidInput(`plugin: ${err.message}`, { plugin: err.message });
      }
      throw err;
    }
    // The API passes an endpoint only as text holding a JSON object (api/schemas.ts);
    // anything else is left for the plugin's validate to refuse in its own words.
    const wrong = fieldTypeError(v.plugin, bound.plugin.info.fields, parseObject(v.endpoint));
    if (wrong) throw new InvalidInput(`endpoint: ${wrong}`, { endpoint: wrong });
    try {
      await bound.validate();
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

/**
 * The plugin's password fields, for the rule of src/secret-names.ts, if its `info`
 * answers within the registry's short wait (infoWithin); none when it is unknown,
 * broken or slow, or declares no fields (the name rule alone then).
 */
export async function declaredPasswords(plugins: PluginRegistry | undefined, name: string): Promise<Declared> {
  return passwordFields(plugins && name ? await plugins.infoWithin(name) : undefined);
}

/**
 * What the catalog seals endpoints with (see src/catalog/endpoints.ts): the
 * master key's EndpointSecrets, judging each endpoint by its plugin's password
 * fields and the name rule.
 */
export function endpointSealer(secrets: EndpointSecrets, plugins: PluginRegistry | undefined): EndpointSealer {
  return {
    seal: async (endpoint, plugin) => secrets.seal(endpoint, await declaredPasswords(plugins, plugin)),
    check: (endpoint) => { secrets.open(endpoint); },
  };
}
