// "Test connection": runs a target's or store's plugin `test` action (a live check:
// can connect; a store can write and delete), for an endpoint being edited or one
// saved. Saving still runs `validate` only; a saved one's last test is remembered
// here, in memory, so that lists can mark one whose last test failed. Why not a
// column: a test result is a hint about now, not a fact worth a catalog write and a
// migration; a restarted daemon shows no mark until the next test.
import { PluginFailed, PluginMissing, PluginUnfit, type PluginRegistry } from "../plugin-host/index.ts";
import type { Catalog } from "../catalog/index.ts";
import type { EndpointSecrets } from "../pipeline/endpoint-secrets.ts";
import { InvalidInput, NotFound } from "./errors.ts";
import { maskSecrets, secretsOf } from "../supervisor/tasklog.ts";

export type Role = "target" | "store";

/** What a test said. */
export interface TestResult {
  ok: boolean;
  /** The plugin's words, a line each (its output, or why it failed). */
  lines: string[];
  /** Epoch seconds. */
  at: number;
}

const linesOf = (words: string) => words.split("\n").map((l) => l.trimEnd()).filter(Boolean);

export function connectionRules(catalog: Catalog, plugins: PluginRegistry | undefined, secrets: EndpointSecrets | undefined) {
  const last = new Map<string, TestResult>();

  /** Runs the plugin's `test`; a plugin that is missing or unfit is bad input (400), a failing test an answer. */
  async function run(role: Role, v: { plugin: string; endpoint: string; agent?: string | null }, extraSecrets?: string[]): Promise<TestResult> {
    const at = Math.floor(Date.now() / 1000);
    if (!plugins) throw new InvalidInput("plugin: no plugins are configured", { plugin: "no plugins are configured" });
    // Its plugin runs on the agent, whose link carries backups and restores only (not `test`):
    // a test from here would say whether this host can connect, which is not the question.
    if (role === "target" && v.agent) {
      throw new InvalidInput(`agent: a target on an agent (${v.agent}) cannot be tested from the core yet; run a backup to check it`, { agent: "cannot be tested from the core yet" });
    }
    let bound;
    try {
      bound = await plugins.bind(role, v);
    } catch (err) {
      if (err instanceof PluginMissing || err instanceof PluginFailed || err instanceof PluginUnfit) throw new InvalidInput(`plugin: ${err.message}`, { plugin: err.message });
      throw err;
    }
    // A plugin may echo what it was given: its words are masked as a task log is.
    const hidden = [...new Set([...(extraSecrets ?? []), ...secretsOf(v.endpoint)])].sort((a, b) => b.length - a.length);
    const said = (words: string) => linesOf(maskSecrets(words, hidden));
    try {
      const words = said(await bound.test());
      return { ok: true, lines: words.length ? words : ["ok"], at };
    } catch (err) {
      if (err instanceof PluginFailed) return { ok: false, lines: said(err.message), at };
      throw err;
    }
  }

  return {
    /** Tests an endpoint not saved (a form being filled in). Nothing is remembered. */
    unsaved: (role: Role, v: { plugin: string; endpoint: string; agent?: string | null }) => run(role, v),
    /** Tests a saved target or store with its stored endpoint (secrets opened for the plugin alone); remembers the result. */
    async saved(role: Role, uuid: string): Promise<TestResult> {
      const row = role === "target" ? await catalog.targets.get(uuid) : await catalog.stores.get(uuid);
      if (!row) throw new NotFound(role, uuid);
      const opened = secrets ? secrets.open(row.endpoint) : { endpoint: row.endpoint, secrets: [] };
      const r = await run(role, { plugin: row.plugin, endpoint: opened.endpoint, agent: "agent" in row ? (row.agent as string | null) : null }, opened.secrets);
      last.set(uuid, r);
      return r;
    },
    /** The last test of a saved target or store since this daemon started; undefined when none. */
    last: (uuid: string): TestResult | undefined => last.get(uuid),
  };
}
export type ConnectionRules = ReturnType<typeof connectionRules>;
