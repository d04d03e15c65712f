import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { mapRows } from "./rows.ts";
import { Created, Deleted, JobCreate, JobJson, JobQuery, JobUpdate, Ok, PAGING_NOTE, RunRequest, Scheduled, Updated, UuidParam } from "./schemas.ts";
import { jobJson } from "./json.ts";
import { REDACTION_NOTE } from "./redact.ts";
import { drillJson, drillResultJson } from "./drills.ts";
import { OWNER_NOTE, taskOwnership } from "../core/index.ts";

export function jobRoutes(router: Router): void {
  const { jobs } = router.core;
  const tag = "jobs";
  route(router, {
    method: "get", path: "/v1/jobs", tag, permission: "read", query: JobQuery,
    summary: "List jobs, by name", description: `Filters combine: ?target=, ?store=, ?schedule=, ?retention= (UUIDs) and ?paused=t|f. ${PAGING_NOTE} target_endpoint and store_endpoint: ${REDACTION_NOTE}`,
    response: v.array(JobJson),
  }, async ({ query }) => {
    const { limit, offset, ...filter } = query;
    const rows = await router.core.catalog.jobs.list(filter, { limit, offset });
    // Each job's restore drill and its last outcome, as GET /v1/job/:uuid shows them (two queries for the page).
    const { drills, last } = await router.core.catalog.drills.forJobs(rows.map((j) => j.uuid));
    return mapRows(rows, (j) => {
      const l = last.get(j.uuid);
      return { ...jobJson(j), drill: drillJson(drills.get(j.uuid)), last_drill: l ? drillResultJson(l) : null };
    });
  });

  route(router, {
    method: "post", path: "/v1/jobs", tag, permission: "operate", body: JobCreate,
    summary: "Create a job", description: "priority is 0 (highest) to 100; 50 when left out.",
    response: Created, errors: [409],
  }, async ({ body }) => ({ ok: "created", uuid: await jobs.create(body) }));

  route(router, {
    method: "get", path: "/v1/job/:uuid", tag, permission: "read", params: UuidParam,
    summary: "Show a job", description: `target_endpoint and store_endpoint: ${REDACTION_NOTE}`, response: JobJson, errors: [404],
  }, async ({ params }) => {
    const job = jobJson(await jobs.get(params.uuid));
    // The job's restore drill and its last outcome (with its measured RTO): see ./drills.ts.
    const { drill, last } = await router.core.drills.get(params.uuid);
    return { ...job, drill: drillJson(drill), last_drill: last ? drillResultJson(last) : null };
  });

  route(router, {
    method: "put", path: "/v1/job/:uuid", tag, permission: "operate", params: UuidParam, body: JobUpdate,
    summary: "Update a job",
    description: "summary is required; paused cannot be set here (use pause/unpause). Moving the job to a retention policy that would purge more than --retention-max-purge-share of its archives at once is refused (409) unless `force` is true.",
    response: Updated, errors: [404, 409],
  }, async ({ params, body }) => {
    await jobs.update(params.uuid, body);
    return { ok: "updated" };
  });

  route(router, {
    method: "delete", path: "/v1/job/:uuid", tag, permission: "operate", params: UuidParam,
    summary: "Delete a job", description: "Its archives stay, and expire by their retention as before.",
    response: Deleted, errors: [404],
  }, async ({ params }) => {
    await jobs.delete(params.uuid);
    return { ok: "deleted" };
  });

  for (const [action, paused] of [["pause", true], ["unpause", false]] as const) {
    route(router, {
      method: "post", path: `/v1/job/:uuid/${action}`, tag, permission: "operate", params: UuidParam,
      summary: `${action === "pause" ? "Pause" : "Unpause"} a job`, response: Ok, errors: [404],
    }, async ({ params }) => {
      await jobs.setPaused(params.uuid, paused);
      return { ok: paused ? "paused" : "unpaused" };
    });
  }

  route(router, {
    method: "post", path: "/v1/job/:uuid/run", tag, permission: "operate", params: UuidParam,
    body: RunRequest, bodyOptional: true,
    summary: "Run a job now",
    description: `Files a pending backup task owned by \`owner\` (default: the requesting user); the body may be omitted. ${OWNER_NOTE} ` +
      "The task's `requested_by` records who asked.",
    response: Scheduled, errors: [404],
  }, async ({ params, body, user }) => {
    const { owner, requestedBy } = taskOwnership(user, body.owner);
    return { ok: "scheduled", task_uuid: await jobs.run(params.uuid, owner, requestedBy) };
  });
}
