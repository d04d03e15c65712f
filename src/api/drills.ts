// A job's restore drill (issue 16): /v1/job/:uuid/drill and its history.
import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { DEFAULT_LIMIT, Deleted, DrillPlanJson, DrillResultJson, Paging, RunRequest, Scheduled, Updated, Uuid, UuidParam } from "./schemas.ts";
import { taskOwnership } from "../core/index.ts";
import type { DrillResultRow, DrillRow } from "../catalog/index.ts";

export const DrillSet = v.strictObject({ target: Uuid, schedule: Uuid });

export { DrillResultJson };
export const DrillJson = v.object({
  drill: v.nullable(DrillPlanJson),
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
    method: "get", operationId: "showDrill", path: "/v1/job/:uuid/drill", tag, permission: "read", params: UuidParam,
    summary: "Show a job's drill and its last outcome", description: ABOUT, response: DrillJson, errors: [404],
  }, async ({ params }) => {
    const { drill, last } = await rules().get(params.uuid);
    return { drill: drillJson(drill), last: last ? drillResultJson(last) : null };
  });

  route(router, {
    audit: { type: "drill", action: "update" },
    method: "put", operationId: "setDrill", path: "/v1/job/:uuid/drill", tag, permission: "operate", params: UuidParam, body: DrillSet,
    example: { target: "6b8398be-fdc0-424a-8532-e812e5dfc116", schedule: "0f5a2c8e-3b1d-4c6e-9a7f-2d4b6e8f1a3c" },
    summary: "Set (or replace) a job's drill", description: ABOUT, response: Updated, errors: [404, 409],
  }, async ({ params, body }) => {
    await rules().set(params.uuid, body);
    return { ok: "updated" };
  });

  route(router, {
    audit: { type: "drill", action: "delete" },
    method: "delete", operationId: "deleteDrill", path: "/v1/job/:uuid/drill", tag, permission: "operate", params: UuidParam,
    summary: "Remove a job's drill", description: "Its history stays.", response: Deleted, errors: [404],
  }, async ({ params }) => {
    await rules().delete(params.uuid);
    return { ok: "deleted" };
  });

  route(router, {
    audit: { type: "drill", action: "run", unchanged: true, detail: ({ result }) => ({ task: result?.task_uuid }) },
    method: "post", operationId: "runDrill", path: "/v1/job/:uuid/drill/run", tag, permission: "operate", params: UuidParam, body: RunRequest, bodyOptional: true,
    example: { owner: "alice" },
    summary: "Run a job's drill now", description: "Files a task with op drill.", response: Scheduled, errors: [404, 409],
  }, async ({ params, body, user }) => {
    const { owner, requestedBy } = taskOwnership(user, body.owner);
    return { ok: "scheduled", task_uuid: await rules().run(params.uuid, owner, requestedBy) };
  });

  route(router, {
    method: "get", operationId: "listDrills", path: "/v1/job/:uuid/drills", tag, permission: "read", params: UuidParam, query: v.object({ ...Paging }),
    summary: "A job's drill history, newest first", description: "?limit= (default 100) and ?offset=.", response: v.array(DrillResultJson), errors: [404],
  }, async ({ params, query }) => (await rules().history(params.uuid, { limit: query.limit ?? DEFAULT_LIMIT, offset: query.offset ?? 0 })).map(drillResultJson));
}
