// A job's restore drill (issue 16): /v1/job/:uuid/drill and its history.
import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { DEFAULT_LIMIT, Deleted, Paging, RunRequest, Scheduled, Updated, Uuid, UuidParam } from "./schemas.ts";
import { taskOwnership } from "../core/index.ts";
import type { DrillResultRow, DrillRow } from "../catalog/index.ts";

export const DrillSet = v.strictObject({ target: Uuid, schedule: Uuid });

export const DrillResultJson = v.object({
  task_uuid: Uuid, archive_uuid: v.nullable(v.string()), ok: v.boolean(), rto_ms: v.nullable(v.number()),
  figures: v.unknown(), verify: v.string(), error: v.nullable(v.string()), finished_at: v.number(),
});
export const DrillJson = v.object({
  drill: v.nullable(v.object({ target_uuid: Uuid, schedule_uuid: Uuid, next_due_at: v.nullable(v.number()) })),
  last: v.nullable(DrillResultJson),
});

export function drillResultJson(r: DrillResultRow) {
  return {
    task_uuid: r.taskUuid, archive_uuid: r.archiveUuid, ok: r.ok, rto_ms: r.rtoMs, figures: r.figures === null ? null : JSON.parse(r.figures),
    verify: r.verify, error: r.error, finished_at: Math.floor(r.finishedMs / 1000),
  };
}

export function drillJson(d: DrillRow | undefined) {
  return d ? { target_uuid: d.scratchTargetUuid, schedule_uuid: d.scheduleUuid, next_due_at: d.nextDueAt } : null;
}

const ABOUT = "A drill restores the job's newest valid archive into a scratch target on its own schedule, runs the target plugin's " +
  "`verify` (tables and row counts, file count and size), records the outcome, the measured restore time (rto_ms) and the figures, " +
  "then empties the scratch target. The scratch target must use the job's target plugin and be no job's target.";

export function drillRoutes(router: Router): void {
  const rules = () => router.core.drills;
  const tag = "drills";
  route(router, {
    method: "get", path: "/v1/job/:uuid/drill", tag, permission: "read", params: UuidParam,
    summary: "Show a job's drill and its last outcome", description: ABOUT, response: DrillJson, errors: [404],
  }, async ({ params }) => {
    const { drill, last } = await rules().get(params.uuid);
    return { drill: drillJson(drill), last: last ? drillResultJson(last) : null };
  });

  route(router, {
    audit: { type: "drill", action: "update" },
    method: "put", path: "/v1/job/:uuid/drill", tag, permission: "operate", params: UuidParam, body: DrillSet,
    summary: "Set (or replace) a job's drill", description: ABOUT, response: Updated, errors: [404, 409],
  }, async ({ params, body }) => {
    await rules().set(params.uuid, body);
    return { ok: "updated" };
  });

  route(router, {
    audit: { type: "drill", action: "delete" },
    method: "delete", path: "/v1/job/:uuid/drill", tag, permission: "operate", params: UuidParam,
    summary: "Remove a job's drill", description: "Its history stays.", response: Deleted, errors: [404],
  }, async ({ params }) => {
    await rules().delete(params.uuid);
    return { ok: "deleted" };
  });

  route(router, {
    audit: { type: "drill", action: "run", detail: ({ result }) => ({ task: result?.task_uuid }) },
    method: "post", path: "/v1/job/:uuid/drill/run", tag, permission: "operate", params: UuidParam, body: RunRequest, bodyOptional: true,
    summary: "Run a job's drill now", description: "Files a task with op drill.", response: Scheduled, errors: [404, 409],
  }, async ({ params, body, user }) => {
    const { owner, requestedBy } = taskOwnership(user, body.owner);
    return { ok: "scheduled", task_uuid: await rules().run(params.uuid, owner, requestedBy) };
  });

  route(router, {
    method: "get", path: "/v1/job/:uuid/drills", tag, permission: "read", params: UuidParam, query: v.object({ ...Paging }),
    summary: "A job's drill history, newest first", description: "?limit= (default 100) and ?offset=.", response: v.array(DrillResultJson), errors: [404],
  }, async ({ params, query }) => (await rules().history(params.uuid, { limit: query.limit ?? DEFAULT_LIMIT, offset: query.offset ?? 0 })).map(drillResultJson));
}
