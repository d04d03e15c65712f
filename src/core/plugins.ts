// Targets and stores name a plugin; before one is saved, the plugin checks the
// endpoint (`validate`), so that a mistake shows at once rather than at 4am.
import { PluginFailed, PluginMissing, PluginUnfit, type PluginRegistry, type ResolvedPlugin } from "../pipeline/plugins.ts";
import { InvalidInput } from "./errors.ts";
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
