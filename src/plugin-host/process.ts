// Store and Target (contract.ts) for plugins run as processes: an external
// executable, or this binary's `shield plugin NAME`. Both speak the plugin
// protocol the same way; a built-in's Commands also carry a reference to it, so
// that a guard can run it in its own process (in-process.ts).
import type { Bound, Command, ResolvedPlugin, Store, Target } from "./contract.ts";
import { localBlobStores, toolBackups } from "../../plugins/one.ts";
import { PluginFailed } from "./info.ts";
import { pluginEnv, runPlugin } from "./spawn.ts";
import { withDeadline, withRetry, type RetryPolicy } from "./wrappers.ts";

/** How the host runs a plugin's actions (given by the registry). */
export interface HostOptions {
  /** SHIELD_ALLOW_PATH for every action with an endpoint (see registry.ts). */
  allowPaths?: string[];
  /** How long a short action (info, validate, test) may take. */
  shortActionMs: number;
}

/**
 * Short actions change nothing, so they are retried when the plugin crashed (a
 * signal we did not send, the OOM killer): a plugin's answer (an exit code of
 * its own) or a deadline passed is final; waiting again would only double the wait.
 */
export const SHORT_ACTION_RETRY: RetryPolicy = {
  attempts: 3, baseDelayMs: 200, maxDelayMs: 2000,
  transient: (err) => err instanceof PluginFailed && !err.timedOut && err.exitCode > 128,
};

/**
 * A purge is idempotent, so it is retried for any passing failure: a crash, or
 * the store failing (exit 3: a tool it runs failed; exit 4: the store's own
 * failure, a service answering 503, say). Not for its refusals of the request
 * itself (usage, unsupported action, endpoint or key invalid: exits 1, 2, 10-13).
 */
export const PURGE_RETRY: RetryPolicy = {
  attempts: 3, baseDelayMs: 500, maxDelayMs: 5000,
  transient: (err) => {
    const code = (err as { exitCode?: unknown })?.exitCode;
    return typeof code === "number" && (code === 3 || code === 4 || code > 128);
  },
};

/** A short action past its deadline: a PluginFailed (exit 3, as a plugin that cannot run), marked so that it is not retried. */
export const timedOut = (message: string) => new PluginFailed(message, 3, "", true);

class ProcessPlugin implements Bound {
  constructor(readonly plugin: ResolvedPlugin, protected readonly endpoint: string, protected readonly opts: HostOptions) {}

  /** The Command of `action`, with the endpoint given the way this plugin wants it. */
  protected command(action: string, key?: string): Command {
    const p = this.plugin;
    const viaEnv = p.info.endpoint_from === "env";
    const args = [action, ...(viaEnv ? [] : ["--endpoint", this.endpoint]), ...(key === undefined ? [] : ["--key", key])];
    const env: Record<string, string> = viaEnv ? { SHIELD_ENDPOINT: this.endpoint } : {};
    if (this.opts.allowPaths?.length) env.SHIELD_ALLOW_PATH = this.opts.allowPaths.join(":");
    return {
      argv: [...p.argv, ...args], env: pluginEnv(env),
      builtin: p.source === "builtin" ? { name: p.name, args } : undefined,
    };
  }

  /** Runs a short action under its deadline, retried per SHORT_ACTION_RETRY; resolves with its words. */
  protected short(action: "validate" | "test", failed: (words: string, code: number) => string, signal?: AbortSignal): Promise<string> {
    const label = `plugin ${this.plugin.name}: '${action}'`;
    const { argv, env } = this.command(action);
    return withRetry(SHORT_ACTION_RETRY, () => withDeadline(this.opts.shortActionMs, label, async (sig) => {
      const r = await runPlugin(label, argv, { env, signal: sig });
      const words = (r.stdout + r.stderr).trim();
      if (r.code !== 0) throw new PluginFailed(failed(words, r.code), r.code, words);
      return words;
    }, { signal, expired: timedOut }), signal);
  }

  validate(signal?: AbortSignal): Promise<string> {
    return this.short("validate", (words, code) => `plugin ${this.plugin.name} says the endpoint is invalid: ${words || `exit ${code}`}`, signal);
  }

  test(signal?: AbortSignal): Promise<string> {
    return this.short("test", (words, code) => `plugin ${this.plugin.name}: 'test' failed: ${words || `exit ${code}`}`, signal);
  }
}

export class ProcessStore extends ProcessPlugin implements Store {
  get partialBlobs(): boolean { return this.plugin.info.partial_blobs === "yes"; }
  get inProcess(): boolean { return this.plugin.source === "builtin"; }
  get localBlobs(): boolean { return this.inProcess && localBlobStores.includes(this.plugin.name); }
  store(): Command { return this.command("store"); }
  retrieve(key: string): Command { return this.command("retrieve", key); }
  purge(key?: string): Command { return this.command("purge", key); }
}

/** How long a drill's `verify` (counting every row) or `clean` may take. */
export const DRILL_ACTION_MS = 3600_000;

export class ProcessTarget extends ProcessPlugin implements Target {
  get inProcess(): boolean { return this.plugin.source === "builtin"; }
  get backupByTool(): boolean { return this.inProcess && toolBackups.includes(this.plugin.name); }
  backup(): Command { return this.command("backup"); }
  restore(): Command { return this.command("restore"); }

  /** Runs a drill action once under its deadline: exit 2 is "unsupported", any other failure a PluginFailed. */
  private async drillAction(action: "verify" | "clean", signal?: AbortSignal): Promise<string | "unsupported"> {
    const label = `plugin ${this.plugin.name}: '${action}'`;
    const { argv, env } = this.command(action);
    return withDeadline(DRILL_ACTION_MS, label, async (sig) => {
      const r = await runPlugin(label, argv, { env, signal: sig });
      if (r.code === 2) return "unsupported";
      const words = r.stderr.trim();
      if (r.code !== 0) throw new PluginFailed(`plugin ${this.plugin.name}: '${action}' failed: ${words || `exit ${r.code}`}`, r.code, words);
      return r.stdout;
    }, { signal, expired: timedOut });
  }

  async verify(signal?: AbortSignal): Promise<{ summary: string; figures: Record<string, unknown> } | "unsupported"> {
    const out = await this.drillAction("verify", signal);
    if (out === "unsupported") return out;
    try {
      const parsed = JSON.parse(out) as { summary?: unknown; figures?: unknown };
      const figures = parsed.figures && typeof parsed.figures === "object" ? parsed.figures as Record<string, unknown> : {};
      return { summary: typeof parsed.summary === "string" ? parsed.summary : "", figures };
    } catch {
      throw new PluginFailed(`plugin ${this.plugin.name}: 'verify' printed no JSON result`, 4, out.slice(0, 200));
    }
  }

  async clean(signal?: AbortSignal): Promise<string | "unsupported"> {
    const out = await this.drillAction("clean", signal);
    return out === "unsupported" ? out : out.trim();
  }
}
