import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { mapRows } from "./rows.ts";
import { Canceled, DEFAULT_LIMIT, TaskJson, TaskQuery, UuidParam } from "./schemas.ts";
import { taskJson } from "./json.ts";

export function taskRoutes(router: Router): void {
  const { tasks, progressOf } = router.core;
  const tag = "tasks";
  route(router, {
    method: "get", operationId: "listTasks", path: "/v1/tasks", tag, permission: "read", query: TaskQuery,
    summary: "List tasks, newest first",
    description: "?status=, ?job=, ?archive=; ?q= (case-insensitive text in the job's or target's name or the error line); ?limit= (default 100, at most 1000) and ?offset= to page.",
    response: v.array(TaskJson),
  }, async ({ query }) => {
    const { limit = DEFAULT_LIMIT, offset = 0, debug: _, ...filter } = query;
    return mapRows(await router.core.catalog.tasks.list(filter, { limit, offset }), (t) => taskJson(t, progressOf(t.uuid)));
  });

  route(router, {
    method: "get", operationId: "showTask", path: "/v1/task/:uuid", tag, permission: "read", params: UuidParam,
    summary: "Show a task, with its log and, while it runs on this daemon, its progress", response: TaskJson, errors: [404],
  }, async ({ params }) => {
    const t = await tasks.get(params.uuid);
    return taskJson(t, progressOf(t.uuid));
  });

  route(router, {
    audit: { type: "task", action: "cancel" },
    method: "delete", operationId: "cancelTask", path: "/v1/task/:uuid", tag, permission: "operate", params: UuidParam,
    summary: "Cancel a task", description: "Only pending or running tasks can be canceled; others answer 409.",
    response: Canceled, errors: [404, 409],
  }, async ({ params }) => {
    await tasks.cancel(params.uuid);
    return { ok: "canceled" };
  });
}
