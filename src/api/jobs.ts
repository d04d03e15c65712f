import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { mapRows } from "./rows.ts";
import {
  Created, DEFAULT_LIMIT, Deleted, HistoryQuery, JobCreate, JobHealthJson, JobQuery, JobShowQuery, JobUpdate, Ok, PAGING_NOTE, RunJson, RunRequest,
  Scheduled, Updated, UuidParam,
} from "./schemas.ts";
import { jobHealthJson, runJson } from "./json.ts";
import { DEFAULT_WINDOW_S, jobsHealth, listJobsHealth } from "../core/health.ts";
import { REDACTION_NOTE } from "./redact.ts";
import { drillJson, drillResultJson } from "./drills.ts";
import { OWNER_NOTE, taskOwnership } from "../core/index.ts";

const HEALTH_NOTE = "last_run is the last backup that ended (done or failed); next_run when the schedule runs it next (null when paused, or without a schedule: run by hand only); " +
  "window holds the figures of the backups that ended in the last ?window= (like 30d, 12h; default 30d): runs, failures, success_rate, " +
  "and of the successful ones median_duration (seconds), median_size and size_trend_per_day (bytes).";

export function jobRoutes(router: Router): void {
  const { jobs } = router.core;
  const tag = "jobs";
  route(router, {
    method: "get", operationId: "listJobs", path: "/v1/jobs", tag, permission: "read", query: JobQuery,
    summary: "List jobs, by name, with their health",
    description: `Filters combine: ?target=, ?store=, ?schedule=, ?retention= (UUIDs) and ?paused=t|f. ${PAGING_NOTE} ${HEALTH_NOTE} ` +
      `target_endpoint and store_endpoint: ${REDACTION_NOTE}`,
    response: v.array(JobHealthJson),
  }, async ({ query }) => {
    const { limit, offset, window = DEFAULT_WINDOW_S, ...filter } = query;
    // Three queries for the whole list or a page, and two for the drills: never one per job.
    // The whole list (no filter, no page: dashboards) reads every job's drills alongside.
    const whole = Object.values(filter).every((x) => x === undefined) && limit === undefined && !offset;
    const { catalog } = router.core;
    const [{ jobs: list, health }, wholeDrills] = await Promise.all([
      listJobsHealth(catalog, filter, { limit, offset }, window), whole ? catalog.drills.forJobs() : undefined,
    ]);
    const { drills, last } = wholeDrills ?? await catalog.drills.forJobs(list.map((j) => j.uuid));
    return mapRows(list, (j) => {
      const l = last.get(j.uuid);
      return { ...jobHealthJson(j, health.get(j.uuid)!), drill: drillJson(drills.get(j.uuid)), last_drill: l ? drillResultJson(l) : null };
    });
  });

  route(router, {
    audit: { type: "job", action: "create", id: ({ result }) => result?.uuid },
    method: "post", operationId: "createJob", path: "/v1/jobs", tag, permission: "operate", body: JobCreate,
    example: { name: "orders-nightly", summary: "The orders database, every night", target: "6b8398be-fdc0-424a-8532-e812e5dfc116", store: "0f5a2c8e-3b1d-4c6e-9a7f-2d4b6e8f1a3c", schedule: "9c1e7d2a-5f4b-4e8a-b3c6-7d9e1f2a4b5c", retention: "3d6f9a1c-2e4b-4d7f-8a9c-1b3e5f7a9c2d", compression: "zstd", paused: false },
    summary: "Create a job", description: "priority is 0 (highest) to 100; 50 when left out. schedule null or left out: the job runs only when asked (POST /v1/job/{uuid}/run).",
    response: Created, errors: [409],
  }, async ({ body }) => ({ ok: "created", uuid: await jobs.create(body) }));

  route(router, {
    method: "get", operationId: "showJob", path: "/v1/job/:uuid", tag, permission: "read", params: UuidParam, query: JobShowQuery,
    summary: "Show a job, with its health", description: `${HEALTH_NOTE} target_endpoint and store_endpoint: ${REDACTION_NOTE}`,
    response: JobHealthJson, errors: [404],
  }, async ({ params, query }) => {
    const job = await jobs.get(params.uuid);
    const health = await jobsHealth(router.core.catalog, [job], query.window ?? DEFAULT_WINDOW_S);
    // The job's restore drill and its last outcome (with its measured RTO): see ./drills.ts.
    const { drill, last } = await router.core.drills.get(params.uuid);
    return { ...jobHealthJson(job, health.get(job.uuid)!), drill: drillJson(drill), last_drill: last ? drillResultJson(last) : null };
  });

  route(router, {
    method: "get", operationId: "listJobRuns", path: "/v1/job/:uuid/history", tag, permission: "read", params: UuidParam, query: HistoryQuery,
    summary: "A job's runs, newest first",
    description: "Its finished backups (done, failed, canceled) with duration, size and error, for charts; " +
      "?limit= (default 100, at most 1000) and ?offset= to page.",
    response: v.array(RunJson), errors: [404],
  }, async ({ params, query }) => {
    await jobs.get(params.uuid);
    const { limit = DEFAULT_LIMIT, offset = 0 } = query;
    return mapRows(await router.core.catalog.health.history(params.uuid, { limit, offset }), runJson);
  });

  route(router, {
    audit: { type: "job", action: "update" },
    method: "put", operationId: "updateJob", path: "/v1/job/:uuid", tag, permission: "operate", params: UuidParam, body: JobUpdate,
    example: { name: "orders-nightly", summary: "The orders database, every night", target: "6b8398be-fdc0-424a-8532-e812e5dfc116", store: "0f5a2c8e-3b1d-4c6e-9a7f-2d4b6e8f1a3c", schedule: "9c1e7d2a-5f4b-4e8a-b3c6-7d9e1f2a4b5c", retention: "3d6f9a1c-2e4b-4d7f-8a9c-1b3e5f7a9c2d", run_window: "01:00-05:00" },
    summary: "Update a job",
    description: "summary is required; paused cannot be set here (use pause/unpause). schedule null: the job is no longer scheduled (runs only when asked); left out, it stays. Moving the job to a retention policy that would purge more than --retention-max-purge-share of its archives at once is refused (409) unless `force` is true.",
    response: Updated, errors: [404, 409],
  }, async ({ params, body }) => {
    await jobs.update(params.uuid, body);
    return { ok: "updated" };
  });

  route(router, {
    audit: { type: "job", action: "delete" },
    method: "delete", operationId: "deleteJob", path: "/v1/job/:uuid", tag, permission: "operate", params: UuidParam,
    summary: "Delete a job", description: "Its archives stay, and expire by their retention as before.",
    response: Deleted, errors: [404],
  }, async ({ params }) => {
    await jobs.delete(params.uuid);
    return { ok: "deleted" };
  });

  for (const [action, paused] of [["pause", true], ["unpause", false]] as const) {
    route(router, {
      audit: { type: "job", action },
      method: "post", operationId: `${action}Job`, path: `/v1/job/:uuid/${action}`, tag, permission: "operate", params: UuidParam,
      summary: `${action === "pause" ? "Pause" : "Unpause"} a job`, response: Ok, errors: [404],
    }, async ({ params }) => {
      await jobs.setPaused(params.uuid, paused);
      return { ok: paused ? "paused" : "unpaused" };
    });
  }

  route(router, {
    audit: { type: "job", action: "run", unchanged: true, detail: ({ result, body }) => ({ task: result?.task_uuid, owner: body.owner }) },
    method: "post", operationId: "runJob", path: "/v1/job/:uuid/run", tag, permission: "operate", params: UuidParam,
    body: RunRequest, bodyOptional: true,
    example: { owner: "alice" },
    summary: "Run a job now",
    description: `Files a pending backup task owned by \`owner\` (default: the requesting user); the body may be omitted. ${OWNER_NOTE} ` +
      "The task's `requested_by` records who asked.",
    response: Scheduled, errors: [404],
  }, async ({ params, body, user }) => {
    const { owner, requestedBy } = taskOwnership(user, body.owner);
    return { ok: "scheduled", task_uuid: await jobs.run(params.uuid, owner, requestedBy) };
  });
}
