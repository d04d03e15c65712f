// Finding and asking plugins. A plugin is an executable that speaks the plugin
// protocol: either one found in a plugin directory, or a built-in run as
// `shield plugin NAME`. Both are spawned the same way; nothing here knows what
// any particular plugin does. The rest of the daemon gets a plugin bound to an
// endpoint, as a Store or a Target (contract.ts), from `store` and `target`.
import { accessSync, constants, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ResolvedPlugin, Store, Target } from "./contract.ts";
import { PluginFailed, PluginMissing, PluginUnfit, type PluginInfo, type Role } from "./info.ts";
import { ProcessStore, ProcessTarget, SHORT_ACTION_RETRY, timedOut } from "./process.ts";
import { runPlugin } from "./spawn.ts";
import { boundedWait, withDeadline, withRetry } from "./wrappers.ts";

export interface PluginRegistryOptions {
  /** Directories searched, in order, for external plugins (before built-ins, so a site can override one). */
  dirs: string[];
  /** How to run this executable: [process.execPath] when compiled, [bun, main.ts] from source. */
  self: string[];
  /** Names `shield plugin NAME` answers to. */
  builtins: string[];
  /**
   * `shield daemon --allow-path`: the directories endpoints may name for data. Every
   * action with an endpoint gets them as SHIELD_ALLOW_PATH (colon-separated): the
   * built-ins refuse a path outside them (plugins/confine.ts); an external plugin
   * may honour it too.
   */
  allowPaths?: string[];
  /** How long `info`, `validate` and `test` may take (default 10 s). */
  shortActionMs?: number;
}

/** What a plugin may be called: a file name that cannot climb out of its directory. */
export const PLUGIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
// A plugin's `info`, `validate` and `test` answer at once; one that hangs must not hang a request.
const SHORT_ACTION_MS = 10_000;
// How long a caller that can do without a plugin's `info` (the viewer redaction)
// waits for it: then it falls back (a late answer is still cached for next time).
const INFO_WAIT_MS = 2000;

export class PluginRegistry {
  private readonly cache = new Map<string, Promise<ResolvedPlugin>>();

  constructor(private readonly opts: PluginRegistryOptions) {}

  /** The store `ref.plugin` bound to `ref.endpoint`; rejects like resolveAs. */
  async store(ref: { plugin: string; endpoint: string }): Promise<Store> {
    return new ProcessStore(await this.resolveAs(ref.plugin, "store"), ref.endpoint, this.hostOptions());
  }

  /** The target `ref.plugin` bound to `ref.endpoint`; rejects like resolveAs. */
  async target(ref: { plugin: string; endpoint: string }): Promise<Target> {
    return new ProcessTarget(await this.resolveAs(ref.plugin, "target"), ref.endpoint, this.hostOptions());
  }

  /** The plugin bound to an endpoint in `role`. */
  bind(role: Role, ref: { plugin: string; endpoint: string }): Promise<Store | Target> {
    return role === "store" ? this.store(ref) : this.target(ref);
  }

  /**
   * The plugin's `info` if it answers within a short wait, else undefined (also
   * when it is missing or broken): for callers that can do without it. A plugin
   * still answering after the wait costs later callers no wait until it settles.
   */
  readonly infoWithin: (name: string) => Promise<PluginInfo | undefined> =
    boundedWait(INFO_WAIT_MS, (name) => this.resolve(name).then((p) => p.info));

  private hostOptions() {
    return { allowPaths: this.opts.allowPaths, shortActionMs: this.opts.shortActionMs ?? SHORT_ACTION_MS };
  }

  /** Every plugin that answers `info`: external ones, then built-ins not overridden. */
  async list(): Promise<ResolvedPlugin[]> {
    const names = new Set<string>();
    for (const dir of this.opts.dirs) {
      if (!existsSync(dir)) continue;
      for (const entry of readdirSync(dir)) if (PLUGIN_NAME.test(entry) && isExecutable(join(dir, entry))) names.add(entry);
    }
    for (const b of this.opts.builtins) names.add(b);
    const found = await Promise.allSettled([...names].sort().map((n) => this.resolve(n)));
    return found.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  }

  resolve(name: string): Promise<ResolvedPlugin> {
    let p = this.cache.get(name);
    if (!p) {
      p = this.load(name);
      // A failure is not remembered: the plugin may be installed a moment later.
      p.catch(() => this.cache.delete(name));
      this.cache.set(name, p);
    }
    return p;
  }

  /**
   * The plugin `name`, which must be able to serve as `role`. An external plugin
   * may take a built-in's name (a site's override); when it cannot do what the
   * built-in could (the original Shield's target-only `fs` over the built-in `fs`
   * store), the error names both, or the operator would doubt the built-in.
   */
  async resolveAs(name: string, role: Role): Promise<ResolvedPlugin> {
    const p = await this.resolve(name);
    if (p.info.features?.[role] === "yes") return p;
    if (p.source !== "builtin" && this.opts.builtins.includes(name)) {
      const builtin = await this.builtinInfo(name).catch(() => undefined);
      if (builtin?.features?.[role] === "yes") {
        const can = (["target", "store"] as const).filter((r) => p.info.features?.[r] === "yes");
        throw new PluginUnfit(`plugin ${name} is ${p.source}, which ${can.length ? `can only be a ${can.join(" and a ")}` : "can be neither a target nor a store"}; `
          + `it shadows the built-in ${name} ${role}: remove or rename ${p.source} to use the built-in`);
      }
    }
    throw new PluginUnfit(`plugin ${name} cannot be used as a ${role}`);
  }

  /** The `info` of the built-in `name` itself, even when an external plugin shadows it. */
  private builtinInfo(name: string): Promise<PluginInfo> {
    // A key no plugin name can take (PLUGIN_NAME has no ":").
    const key = `builtin:${name}`;
    let p = this.cache.get(key);
    if (!p) {
      const argv = [...this.opts.self, "plugin", name];
      p = this.info(name, argv).then((info) => ({ name, source: "builtin", argv, info }));
      p.catch(() => this.cache.delete(key));
      this.cache.set(key, p);
    }
    return p.then((r) => r.info);
  }

  private async load(name: string): Promise<ResolvedPlugin> {
    if (!PLUGIN_NAME.test(name)) throw new PluginMissing(`"${name}" is not a plugin name`);
    for (const dir of this.opts.dirs) {
      const path = join(dir, name);
      if (isExecutable(path)) return { name, source: path, argv: [path], info: await this.info(name, [path]) };
    }
    if (this.opts.builtins.includes(name)) {
      const argv = [...this.opts.self, "plugin", name];
      return { name, source: "builtin", argv, info: await this.info(name, argv) };
    }
    const where = this.opts.dirs.length ? ` (searched ${this.opts.dirs.join(", ")} and the built-ins)` : "";
    throw new PluginMissing(`no plugin named "${name}"${where}`);
  }

  /** Asks `info`, under its deadline, retried when the plugin crashed (SHORT_ACTION_RETRY). */
  private info(name: string, argv: string[]): Promise<PluginInfo> {
    const label = `plugin ${name}: 'info'`;
    return withRetry(SHORT_ACTION_RETRY, () => withDeadline(this.opts.shortActionMs ?? SHORT_ACTION_MS, label, async (signal) => {
      const r = await runPlugin(label, [...argv, "info"], { signal });
      if (r.code !== 0) throw new PluginFailed(`plugin ${name}: 'info' failed (exit ${r.code}): ${lastLine(r.stderr)}`, r.code, r.stderr);
      let info: PluginInfo;
      try {
        info = JSON.parse(r.stdout);
      } catch {
        throw new PluginFailed(`plugin ${name}: 'info' did not print JSON`, r.code, r.stdout);
      }
      if (!info || typeof info !== "object" || typeof info.features !== "object") {
        throw new PluginFailed(`plugin ${name}: 'info' lacks "features"`, r.code, r.stdout);
      }
      return info;
    }, { expired: timedOut }));
  }
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function lastLine(s: string): string {
  return s.trim().split("\n").pop() ?? "";
}
