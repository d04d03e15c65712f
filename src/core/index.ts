// The core: the rules of Shield, over the catalog. The API (and through it the
// web UI and CLI) calls these; they throw ShieldErrors for anything refused.
import type { Catalog } from "../catalog/index.ts";
import type { PluginRegistry } from "../pipeline/plugins.ts";
import { definitionRules } from "./definitions.ts";
import { jobRules } from "./jobs.ts";
import { archiveRules } from "./archives.ts";
import { taskFiler, taskRules } from "./tasks.ts";
import { userRules } from "./users.ts";
import { endpointCheck } from "./plugins.ts";
import { timespecCheck } from "./schedules.ts";

export interface CoreOptions {
  /**
   * Plugins check target and store endpoints before they are saved, and are
   * listed by /v1/plugins. Without them (API contract tests) endpoints are
   * taken as they are and no plugin is listed.
   */
  plugins?: PluginRegistry;
  /** Called after a task is filed: the supervisor picks it up at once. */
  onTaskFiled?: () => void;
}

export function createCore(catalog: Catalog, opts: CoreOptions = {}) {
  const fileTask = taskFiler(catalog, opts.onTaskFiled);
  const { plugins } = opts;
  return {
    catalog,
    plugins,
    // A store or target still holding archives must stay: its endpoint is how they are read back.
    targets: definitionRules("target", catalog.targets, (uuid) => catalog.archives.countHeld({ target: uuid }),
      plugins && endpointCheck(plugins, "target")),
    stores: definitionRules("store", catalog.stores, (uuid) => catalog.archives.countHeld({ store: uuid }),
      plugins && endpointCheck(plugins, "store")),
    schedules: definitionRules("schedule", catalog.schedules, undefined, timespecCheck),
    retention: definitionRules("retention policy", catalog.retention),
    jobs: jobRules(catalog, fileTask),
    archives: archiveRules(catalog, fileTask),
    tasks: taskRules(catalog),
    users: userRules(catalog),
  };
}

export type Core = ReturnType<typeof createCore>;
export * from "./errors.ts";
export type { Principal } from "./users.ts";
