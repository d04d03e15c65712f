// The catalog: the only module that speaks SQL. Everything else asks it by noun.
import { openCatalog, type CatalogHandle } from "./open.ts";
import { definitionQueries } from "./definitions.ts";
import { jobQueries } from "./jobs.ts";
import { archiveQueries } from "./archives.ts";
import { retentionRuleQueries } from "./retention.ts";
import { taskQueries } from "./tasks.ts";
import { tokenQueries, userQueries } from "./users.ts";
import { agentQueries } from "./agents.ts";
import { copyQueries } from "./copies.ts";
import { endpointQueries, sealingWrites, type EndpointSealer } from "./endpoints.ts";

export interface CatalogOptions {
  /**
   * Seals the secret values of the target and store endpoints written (the
   * daemon always gives one). Without it endpoints are stored as given: tests,
   * and maintenance tools that only read them or re-seal them themselves.
   */
  sealer?: EndpointSealer;
}

export function catalogQueries(h: CatalogHandle, opts: CatalogOptions = {}) {
  return {
    dialect: h.dialect,
    description: h.description,
    targets: sealingWrites(definitionQueries(h, h.t.targets, "targetUuid"), opts.sealer),
    stores: sealingWrites(definitionQueries(h, h.t.stores, "storeUuid"), opts.sealer),
    schedules: definitionQueries(h, h.t.schedules, "scheduleUuid"),
    retention: definitionQueries(h, h.t.retention, "retentionUuid"),
    jobs: jobQueries(h),
    archives: archiveQueries(h),
    retentionRules: retentionRuleQueries(h),
    tasks: taskQueries(h),
    users: userQueries(h),
    tokens: tokenQueries(h),
    endpoints: endpointQueries(h, opts.sealer),
    agents: agentQueries(h),
    copies: copyQueries(h),
    close: () => h.close(),
  };
}

export type Catalog = ReturnType<typeof catalogQueries>;

export async function connectCatalog(url: string, opts: CatalogOptions = {}): Promise<Catalog> {
  return catalogQueries(await openCatalog(url), opts);
}

export { isPostgresUrl, redactUrl, nowSeconds } from "./open.ts";
export * from "./rows.ts";
export type { JobView, JobFilter, JobInput, JobScheduling } from "./jobs.ts";
export type { ArchiveView, ArchiveFilter } from "./archives.ts";
export type { EndpointSealer, EndpointKind, StoredEndpoint } from "./endpoints.ts";
export type { TaskFilter, NewTask, Runner, ForeignTask } from "./tasks.ts";
export { JOBLESS_PRIORITY } from "./tasks.ts";
export type { AgentRow } from "./agents.ts";
export type { CopyView, CopyStatus } from "./copies.ts";
