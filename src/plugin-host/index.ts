// The plugin host: the one part of the daemon that finds plugins, asks them, and
// runs them. Everything else holds a Store or a Target (contract.ts) and never
// re-describes a plugin by name, action and endpoint. Only the core, the
// supervisor, the pipeline and the daemon import this (test/plugin-host/layering.test.ts).
//
//   info.ts        what a plugin's `info` says, as received; the errors of asking
//   contract.ts    Store and Target: the contract every plugin keeps, as the daemon relies on it
//   registry.ts    finding plugins (directories, then built-ins), `info`, resolveAs, store()/target()
//   process.ts     Store and Target for plugins run as processes (external or `shield plugin NAME`)
//   in-process.ts  a built-in store run inside its guard, by reference
//   spawn.ts       a plugin's environment, how this binary runs itself, a short action run to completion
//   wrappers.ts    deadline, retry with backoff, bounded wait: around calls, not at them
export type { Bound, Command, ResolvedPlugin, Store, Target } from "./contract.ts";
export { PluginFailed, PluginMissing, PluginUnfit, type PluginField, type PluginInfo, type Role } from "./info.ts";
export { PLUGIN_NAME, PluginRegistry, type PluginRegistryOptions } from "./registry.ts";
export { PURGE_RETRY } from "./process.ts";
export { pluginEnv, selfCommand } from "./spawn.ts";
export { withRetry } from "./wrappers.ts";
