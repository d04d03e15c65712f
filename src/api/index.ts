// The Hono /v1 API: routes, and the one place errors become HTTP answers.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { ShieldError, TooManyAttempts, type Core } from "../core/index.ts";
import { describeError, log } from "../log.ts";
import { clientAddress, type Router } from "./route.ts";
import { definitionRoutes } from "./definitions.ts";
import { jobRoutes } from "./jobs.ts";
import { archiveRoutes } from "./archives.ts";
import { gpbackupRoutes } from "./gpbackup.ts";
import { taskRoutes } from "./tasks.ts";
import { authRoutes } from "./auth.ts";
import { metaRoutes } from "./meta.ts";
import { pluginRoutes } from "./plugins.ts";
import { agentRoutes } from "./agents.ts";
import { timespecRoutes } from "./timespec.ts";
import { retentionRoutes } from "./retention.ts";
import { notificationRoutes } from "./notifications.ts";
import { drillRoutes } from "./drills.ts";
import { statisticsRoutes } from "./statistics.ts";
import { auditRoutes } from "./audit-routes.ts";
import { metricsRoute, type MetricsOptions } from "./metrics.ts";
import { connectionRoutes, testResultJson } from "./connections.ts";
import * as S from "./schemas.ts";
import { retentionJson, scheduleJson, storeJson, targetJson } from "./json.ts";
import { REDACTION_NOTE } from "./redact.ts";

export interface ApiOptions {
  /** The daemon's public key in SSH format, for /v1/meta/pubkey. */
  pubkey: string;
  /** Whether the daemon has finished starting, for /v1/health; ready when left out. */
  ready?: () => boolean;
  /** GET /metrics (Prometheus): token-protected unless `public`. */
  metrics?: MetricsOptions;
}

const MAX_BODY = 1024 * 1024;

export function createApi(core: Core, opts: ApiOptions): Hono {
  const app = new Hono();
  const router: Router = { app, core, specs: [] };

  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    // The path only: query strings and bodies may carry what should not be logged.
    log.info("request", { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) });
  });
  app.use("/v1/*", bodyLimit({
    maxSize: MAX_BODY,
    onError: (c) => c.json({ error: `request body is larger than ${MAX_BODY} bytes` }, 413),
  }));

  const lastTest = (uuid: string) => {
    const r = core.connections.last(uuid);
    return r ? testResultJson(r) : null;
  };
  definitionRoutes(router, {
    kind: "schedule", kinds: "schedules", noun: "Schedule", nouns: "Schedules", collection: "/v1/schedules", item: "/v1/schedule", tag: "schedules",
    rules: core.schedules, listQuery: S.UsageQuery, createBody: S.ScheduleCreate, updateBody: S.ScheduleUpdate,
    createExample: { name: "nightly", when: "daily at 4am" },
    updateExample: { name: "nightly", summary: "Quiet hours", when: "daily at 3:30am" },
    json: scheduleJson, jsonSchema: S.ScheduleJson,
    input: (b) => ({ name: b.name, summary: b.summary ?? "", timespec: b.when }),
  });
  retentionRoutes(router);
  definitionRoutes(router, {
    kind: "retention policy", kinds: "retention policies", noun: "RetentionPolicy", nouns: "RetentionPolicies", collection: "/v1/retention", item: "/v1/retention", tag: "retention",
    rules: core.retention, listQuery: S.UsageQuery, createBody: S.RetentionCreate, updateBody: S.RetentionUpdate,
    createExample: { name: "30 days, monthlies for a year", expires: 2592000, keep_monthly: 12 },
    updateExample: { name: "30 days, monthlies for a year", summary: "", expires: 2592000, keep_daily: 7, keep_monthly: 12 },
    json: retentionJson, jsonSchema: S.RetentionJson,
    input: (b) => ({
      name: b.name, summary: b.summary ?? "", expiry: b.expires, ...S.rulesInput(b),
      ...("force" in b && b.force !== undefined ? { force: b.force } : {}),
    }),
  });
  definitionRoutes(router, {
    kind: "target", kinds: "targets", noun: "Target", nouns: "Targets", collection: "/v1/targets", item: "/v1/target", tag: "targets",
    rules: core.targets, listQuery: S.DefinitionQuery, createBody: S.TargetCreate, updateBody: S.TargetUpdate,
    createExample: { name: "orders-db", plugin: "postgres", endpoint: { pg_host: "db1.example.com", pg_user: "backup", pg_password: "s3cret", pg_database: "orders" }, agent: "" },
    updateExample: { name: "orders-db", summary: "Primary", plugin: "postgres", endpoint: { pg_host: "db2.example.com", pg_user: "backup", pg_password: "s3cret", pg_database: "orders" }, agent: "" },
    json: (r) => ({ ...targetJson(r), last_test: lastTest(r.uuid) }), jsonSchema: S.TargetJson, readNote: REDACTION_NOTE,
    input: (b) => ({ name: b.name, summary: b.summary ?? "", plugin: b.plugin, endpoint: b.endpoint, agent: b.agent, bandwidth: b.bandwidth }),
  });
  definitionRoutes(router, {
    kind: "store", kinds: "stores", noun: "Store", nouns: "Stores", collection: "/v1/stores", item: "/v1/store", tag: "stores",
    rules: core.stores, listQuery: S.DefinitionQuery, createBody: S.StoreCreate, updateBody: S.StoreUpdate,
    createExample: { name: "local-disk", plugin: "fs", endpoint: { base_dir: "/srv/backups" } },
    updateExample: { name: "local-disk", summary: "The second disk", plugin: "fs", endpoint: { base_dir: "/srv/backups" }, max_tasks: 2 },
    json: (r) => ({ ...storeJson(r), last_test: lastTest(r.uuid) }), jsonSchema: S.StoreJson, readNote: REDACTION_NOTE,
    input: (b) => ({ name: b.name, summary: b.summary ?? "", plugin: b.plugin, endpoint: b.endpoint, maxTasks: b.max_tasks, bandwidth: b.bandwidth }),
  });
  connectionRoutes(router);
  timespecRoutes(router);
  jobRoutes(router);
  archiveRoutes(router);
  gpbackupRoutes(router);
  taskRoutes(router);
  authRoutes(router);
  agentRoutes(router);
  pluginRoutes(router);
  notificationRoutes(router);
  drillRoutes(router);
  metaRoutes(router, opts.pubkey, opts.ready);
  statisticsRoutes(router);
  auditRoutes(router);
  metricsRoute(app, core, opts.metrics ?? {}, clientAddress);

  app.notFound((c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path} (see /v1/openapi.json)` }, 404));
  app.onError((err, c) => {
    if (err instanceof ShieldError) {
      if (err.status === 401) c.header("WWW-Authenticate", 'Basic realm="shield"');
      if (err instanceof TooManyAttempts) c.header("Retry-After", String(err.retryAfterS));
      return c.json(err.fields ? { error: err.message, fields: err.fields } : { error: err.message }, err.status);
    }
    if (err instanceof HTTPException) return c.json({ error: err.message || "bad request" }, err.status);
    const id = crypto.randomUUID();
    log.error("unexpected error", { id, method: c.req.method, path: c.req.path, ...describeError(err) });
    return c.json({ error: `internal error (id ${id}); the daemon log has the details` }, 500);
  });
  return app;
}
