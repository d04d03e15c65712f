// The catalog: the only module that speaks SQL. Everything else asks it by noun.
import { openCatalog, type CatalogHandle } from "./open.ts";
import { definitionQueries } from "./definitions.ts";
import { jobQueries } from "./jobs.ts";
import { archiveQueries } from "./archives.ts";
import { retentionRuleQueries } from "./retention.ts";
import { archiveObjectQueries } from "./archive-objects.ts";
import { taskQueries } from "./tasks.ts";
import { tokenQueries, userQueries } from "./users.ts";
import { authProviderQueries } from "./auth-providers.ts";
import { agentQueries } from "./agents.ts";
import { notificationQueries } from "./notifications.ts";
import { drillQueries } from "./drills.ts";
import { copyQueries } from "./copies.ts";
import { endpointQueries, sealingWrites, type EndpointSealer } from "./endpoints.ts";
import { healthQueries } from "./health.ts";
import { auditQueries } from "./audit.ts";

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
    archiveObjects: archiveObjectQueries(h),
    tasks: taskQueries(h),
    health: healthQueries(h),
    users: userQueries(h),
    tokens: tokenQueries(h),
    authProviders: authProviderQueries(h),
    endpoints: endpointQueries(h, opts.sealer),
    agents: agentQueries(h),
    notifications: notificationQueries(h),
    drills: drillQueries(h),
    copies: copyQueries(h),
    audit: auditQueries(h),
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
export type { ArchiveView, ArchiveFilter, ArchiveSort } from "./archives.ts";
export type { Run, ArchiveTotal, WindowStats, StoreDay, RunDay } from "./health.ts";
export type { ArchiveObject } from "./archive-objects.ts";
export { EXTERNAL_PRODUCER_PLUGIN } from "./archive-objects.ts";
export type { EndpointSealer, EndpointKind, StoredEndpoint } from "./endpoints.ts";
export type { SessionView } from "./users.ts";
export type { TaskFilter, NewTask, Runner, ForeignTask } from "./tasks.ts";
export type { ChannelRow, DeliveryRow, NewDelivery, DeliveryFilter } from "./notifications.ts";
export type { DrillRow, DrillResultRow } from "./drills.ts";
export { JOBLESS_PRIORITY } from "./tasks.ts";
export type { AgentRow } from "./agents.ts";
export type { CopyView, CopyStatus } from "./copies.ts";
export type { AuditRow, AuditFilter } from "./audit.ts";
