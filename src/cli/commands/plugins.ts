// Plugins: what is installed, what each can do, and the fields of its endpoint.
import type { Command } from "../command.ts";

const features = (p: any) => ["target", "store"].filter((f) => p.info?.features?.[f] === "yes").join(", ") || "-";

export const pluginCommands: Command[] = [
  {
    verb: "list", noun: "plugin", summary: "List the plugins the core can run", usage: "list plugins",
    examples: ["shield list plugins", "shield list plugins --json"],
    async run(ctx) {
      ctx.out.list(await ctx.api().get<any[]>("/v1/plugins"), [
        { title: "Name", value: (p) => p.name }, { title: "Can be", value: features },
        { title: "Version", value: (p) => p.info?.version }, { title: "Source", value: (p) => p.source },
      ], "(no plugins)");
    },
  },
  {
    verb: "show", noun: "plugin", summary: "Show a plugin and the fields of its endpoint", usage: "show plugin NAME", args: ["NAME"],
    examples: ["shield show plugin postgres", "shield show plugin fs --json"],
    async run(ctx) {
      const p = await ctx.api().get<any>(`/v1/plugin/${encodeURIComponent(ctx.arg(0))}`);
      if (ctx.json) return ctx.out.data(p);
      ctx.out.details([["Name", p.name], ["Can be", features(p)], ["Version", p.info?.version], ["Author", p.info?.author], ["Source", p.source]]);
      const fields: any[] = Array.isArray(p.info?.fields) ? p.info.fields : [];
      ctx.out.line("\nEndpoint fields:");
      ctx.out.table(fields, [
        { title: "Field", value: (f) => f.name }, { title: "Type", value: (f) => f.type }, { title: "Required", value: (f) => !!f.required },
        { title: "Default", value: (f) => f.default }, { title: "Help", value: (f) => f.help },
      ], "(the plugin does not describe its endpoint)");
    },
  },
];
