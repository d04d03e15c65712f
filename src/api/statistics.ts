import { route, type Router } from "./route.ts";
import { StatisticsJson, StatisticsQuery } from "./schemas.ts";
import { statisticsJson } from "./json.ts";
import { DEFAULT_WINDOW_S, statistics } from "../core/health.ts";

export function statisticsRoutes(router: Router): void {
  route(router, {
    method: "get", operationId: "showStatistics", path: "/v1/statistics", tag: "statistics", permission: "read", query: StatisticsQuery,
    summary: "What the stores hold, per store and target, and the failing jobs",
    description: "stores: archives held (every status but purged) and their bytes, by_status (purged too), and over the last ?window= " +
      "(like 30d; default 30d) added_per_day (bytes stored per day) and growth_per_day (that less the bytes purged per day). " +
      "and used_per_day (bytes held at the end of each UTC day). targets: archives held, bytes and the last one taken. " +
      "failing_jobs: the jobs whose last backup failed, with its error, newest first. runs: the backups that ended in the window, per day too.",
    response: StatisticsJson,
  }, async ({ query }) => statisticsJson(await statistics(router.core.catalog, query.window ?? DEFAULT_WINDOW_S)));
}
