// The core: the rules of Shield, over the catalog. The API (and through it the
// web UI and CLI) calls these; they throw ShieldErrors for anything refused.
import type { Catalog } from "../catalog/index.ts";
import { definitionRules } from "./definitions.ts";
import { jobRules } from "./jobs.ts";
import { archiveRules } from "./archives.ts";
import { taskRules } from "./tasks.ts";
import { userRules } from "./users.ts";

export function createCore(catalog: Catalog) {
  return {
    catalog,
    // A store or target still holding archives must stay: its endpoint is how they are read back.
    targets: definitionRules("target", catalog.targets, (uuid) => catalog.archives.countHeld({ target: uuid })),
    stores: definitionRules("store", catalog.stores, (uuid) => catalog.archives.countHeld({ store: uuid })),
    schedules: definitionRules("schedule", catalog.schedules),
    retention: definitionRules("retention policy", catalog.retention),
    jobs: jobRules(catalog),
    archives: archiveRules(catalog),
    tasks: taskRules(catalog),
    users: userRules(catalog),
  };
}

export type Core = ReturnType<typeof createCore>;
export * from "./errors.ts";
export type { Principal } from "./users.ts";
