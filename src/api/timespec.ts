// GET /v1/timespec: what a schedule expression means before anyone saves it. The
// web UI and CLI show its canonical form and next runs as the user types.
import { route, type Router } from "./route.ts";
import { TimespecPreview, TimespecQuery } from "./schemas.ts";
import { formatDate } from "./json.ts";
import { readTimespec } from "../core/schedules.ts";
import { daemonZone } from "../scheduler/zone.ts";

const DEFAULT_PREVIEW = 5;

export function timespecRoutes(router: Router): void {
  route(router, {
    method: "get", operationId: "previewTimespec", path: "/v1/timespec", tag: "schedules", permission: "read", query: TimespecQuery,
    summary: "Preview a schedule expression: its canonical form and next runs",
    description: "?when= the expression (docs/timespec.md), ?count= how many runs (default 5, at most 50). "
      + "Runs are computed in the expression's `in <zone>`, else the daemon's zone, and given in UTC. "
      + "An expression that does not parse answers 400 with the parser's words in fields.when.",
    response: TimespecPreview,
  }, ({ query }) => {
    const spec = readTimespec(query.when);
    const zone = spec.zone ?? daemonZone();
    const next = spec.nextRuns(new Date(), query.count ?? DEFAULT_PREVIEW, zone).map((d) => formatDate(d)!);
    return { when: query.when, canonical: spec.canonical, zone, next };
  });
}
