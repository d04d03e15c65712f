// Finding and asking plugins. A plugin is an executable that speaks the plugin
// protocol: either one found in a plugin directory, or a built-in run as
// `shield plugin NAME`. Both are spawned the same way; nothing here knows what
// any particular plugin does.
import { accessSync, constants, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export interface PluginField {
  name: string; type?: string; title?: string; help?: string; required?: boolean; default?: unknown; example?: unknown;
}

export interface PluginInfo {
  name: string;
  author?: string;
  version?: string;
  features: { target: "yes" | "no"; store: "yes" | "no" };
  endpoint_from?: "env" | "flag";
  fields?: PluginField[];
  [key: string]: unknown;
}

export interface ResolvedPlugin {
  /** The name jobs and targets refer to it by. */
  name: string;
  /** Where it comes from, for /v1/plugins: "builtin" or the executable's path. */
  source: string;
  argv: string[];
  info: PluginInfo;
}

export type Role = "target" | "store";

export class PluginMissing extends Error {}
/** The plugin exists but cannot play the role asked of it (its `features` say "no"). */
export class PluginUnfit extends Error {}
export class PluginFailed extends Error {
  constructor(message: string, readonly exitCode: number, readonly output: string) { super(message); }
}

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
}

/** What a plugin may be called: a file name that cannot climb out of its directory. */
export const PLUGIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
// A plugin's `info` answers at once; one that hangs must not hang a request.
const INFO_TIMEOUT_MS = 10_000;

/**
 * The daemon's environment variables a plugin may see. An allowlist: the daemon's
 * own secrets (SHIELD_MASTER_KEY, the catalog's PGPASSWORD, ...) must never leak
 * into a plugin, where they could also silently change what a pg_dump connects to.
 */
const PASSED_ENV = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR|TERM)$/;

export function pluginEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && PASSED_ENV.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** How the running executable starts itself again (for built-in plugins). */
export function selfCommand(): string[] {
  // A compiled binary's entry point lives in Bun's embedded filesystem.
  return Bun.main.startsWith("/$bunfs/") || Bun.main === process.execPath ? [process.execPath] : [process.execPath, Bun.main];
}

export class PluginRegistry {
  private readonly cache = new Map<string, Promise<ResolvedPlugin>>();

  constructor(private readonly opts: PluginRegistryOptions) {}

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

  private async info(name: string, argv: string[]): Promise<PluginInfo> {
    const r = await runPlugin(`plugin ${name}: 'info'`, [...argv, "info"], { timeoutMs: INFO_TIMEOUT_MS });
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
  }

  /** Arguments and environment to run an action with an endpoint, the way this plugin wants the endpoint. */
  invocation(p: ResolvedPlugin, action: string, endpoint: string, key?: string): { argv: string[]; env: Record<string, string> } {
    const viaEnv = p.info.endpoint_from === "env";
    const argv = [...p.argv, action, ...(viaEnv ? [] : ["--endpoint", endpoint]), ...(key === undefined ? [] : ["--key", key])];
    const extra: Record<string, string> = viaEnv ? { SHIELD_ENDPOINT: endpoint } : {};
    if (this.opts.allowPaths?.length) extra.SHIELD_ALLOW_PATH = this.opts.allowPaths.join(":");
    return { argv, env: pluginEnv(extra) };
  }

  /** Runs `validate`: resolves with the plugin's words, throws PluginFailed (with them) when invalid. */
  async validate(p: ResolvedPlugin, endpoint: string): Promise<string> {
    const { argv, env } = this.invocation(p, "validate", endpoint);
    // The label, never argv: argv may hold the endpoint and its secrets.
    const r = await runPlugin(`plugin ${p.name}: 'validate'`, argv, { env, timeoutMs: INFO_TIMEOUT_MS });
    const words = (r.stdout + r.stderr).trim();
    if (r.code !== 0) throw new PluginFailed(`plugin ${p.name} says the endpoint is invalid: ${words || `exit ${r.code}`}`, r.code, words);
    return words;
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

/**
 * Runs a short plugin action to completion, collecting its output. A plugin that
 * cannot start, or outlives the timeout (with whatever it started), is a PluginFailed.
 */
async function runPlugin(label: string, argv: string[], opts: { env?: Record<string, string>; timeoutMs: number }) {
  let proc;
  try {
    proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: opts.env ?? pluginEnv(), detached: true });
  } catch (err) {
    throw new PluginFailed(`cannot run ${label}: ${(err as Error).message}`, 3, "");
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try { process.kill(-proc.pid, "SIGKILL"); } catch { /* gone */ }
  }, opts.timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (timedOut) throw new PluginFailed(`${label} did not answer within ${opts.timeoutMs / 1000} s`, 3, stderr);
    return { stdout, stderr, code: proc.signalCode ? 128 : code };
  } finally {
    clearTimeout(timer);
  }
}
