import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { mapRows } from "./rows.ts";
import { Canceled, DEFAULT_LIMIT, MAX_TASK_WAIT, TaskJson, TaskQuery, TaskWaitQuery, UuidParam } from "./schemas.ts";
import { taskJson } from "./json.ts";

export function taskRoutes(router: Router): void {
  const { tasks, progressOf, taskEnded } = router.core;
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
    method: "get", operationId: "showTask", path: "/v1/task/:uuid", tag, permission: "read", params: UuidParam, query: TaskWaitQuery,
    summary: "Show a task, with its log and, while it runs on this daemon, its progress",
    description: `?wait=SECONDS (at most ${MAX_TASK_WAIT}): while the task is pending or running, answer only once it ended or that many seconds passed, ` +
      "whichever comes first: a client waiting for a task asks once every few seconds and still hears of its end at once.",
    response: TaskJson, errors: [404],
  }, async ({ params, query, c }) => {
    const until = performance.now() + (query.wait ?? 0) * 1000;
    for (;;) {
      const left = until - performance.now();
      // Armed before the row is read, so that an end in between is not missed. In turns of
      // at most a second: a task another daemon runs is only seen ending in its row.
      const ended = left > 0 ? taskEnded(params.uuid, Math.min(left, 1000)) : undefined;
      const t = await tasks.get(params.uuid);
      if (!ended || (t.status !== "pending" && t.status !== "running") || c.req.raw.signal.aborted) return taskJson(t, progressOf(t.uuid));
      await ended;
    }
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
