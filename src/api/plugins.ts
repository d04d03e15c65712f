import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { PluginName } from "./schemas.ts";
import { PluginBroken } from "../core/plugins.ts";

export const PluginJson = v.object({
  name: v.pipe(v.string(), v.description("what targets and stores call it")),
  source: v.pipe(v.string(), v.description('"builtin", or the path of the executable')),
  info: v.pipe(v.record(v.string(), v.unknown()), v.description("what the plugin's `info` printed: name, author, version, features, fields")),
});
const PluginParam = v.object({ name: PluginName });

export function pluginRoutes(router: Router): void {
  const { plugins } = router.core;
  route(router, {
    method: "get", operationId: "listPlugins", path: "/v1/plugins", tag: "plugins", permission: "read",
    summary: "List plugins, with what their `info` says", response: v.array(PluginJson),
  }, () => plugins.list());

  route(router, {
    method: "get", operationId: "showPlugin", path: "/v1/plugin/:name", tag: "plugins", permission: "read", params: PluginParam,
    summary: "Show a plugin: features and the fields of its endpoint", response: PluginJson, errors: [404],
  }, async ({ params, c }) => {
    try {
      return await plugins.get(params.name);
    } catch (err) {
      // Installed but broken: the operator needs the plugin's own words, not a bare 500.
      if (err instanceof PluginBroken) return c.json({ error: err.message }, 502);
      throw err;
    }
  });
}
