// The catalog: the only module that speaks SQL. Everything else asks it by noun.
import { openCatalog, type CatalogHandle } from "./open.ts";
import { definitionQueries } from "./definitions.ts";
import { jobQueries } from "./jobs.ts";
import { archiveQueries } from "./archives.ts";
import { retentionRuleQueries } from "./retention.ts";
import { taskQueries } from "./tasks.ts";
import { tokenQueries, userQueries } from "./users.ts";

export function catalogQueries(h: CatalogHandle) {
  return {
    dialect: h.dialect,
    description: h.description,
    targets: definitionQueries(h, h.t.targets, "targetUuid"),
    stores: definitionQueries(h, h.t.stores, "storeUuid"),
    schedules: definitionQueries(h, h.t.schedules, "scheduleUuid"),
    retention: definitionQueries(h, h.t.retention, "retentionUuid"),
    jobs: jobQueries(h),
    archives: archiveQueries(h),
    retentionRules: retentionRuleQueries(h),
    tasks: taskQueries(h),
    users: userQueries(h),
    tokens: tokenQueries(h),
    close: () => h.close(),
  };
}

export type Catalog = ReturnType<typeof catalogQueries>;

export async function connectCatalog(url: string): Promise<Catalog> {
  return catalogQueries(await openCatalog(url));
}

export { isPostgresUrl, redactUrl, nowSeconds } from "./open.ts";
export * from "./rows.ts";
export type { JobView, JobFilter, JobInput, JobScheduling } from "./jobs.ts";
export type { ArchiveView, ArchiveFilter } from "./archives.ts";
export type { TaskFilter, NewTask, Runner, ForeignTask } from "./tasks.ts";
export { JOBLESS_PRIORITY } from "./tasks.ts";
