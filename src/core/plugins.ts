// Targets and stores name a plugin; before one is saved, the plugin checks the
// endpoint (`validate`), so that a mistake shows at once rather than at 4am.
import { PluginFailed, PluginMissing, PluginUnfit, type PluginRegistry, type ResolvedPlugin } from "../pipeline/plugins.ts";
import { InvalidInput } from "./errors.ts";

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
    try {
      await plugins.validate(plugin, v.endpoint);
    } catch (err) {
      if (err instanceof PluginFailed) throw new InvalidInput(`endpoint: ${err.message}`, { endpoint: err.message });
      throw err;
    }
  };
}
