// GET /v1/audit: the audit trail, for admins (see ./audit.ts for what is recorded).
import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { auditListHandler } from "./audit.ts";
import { AuditJson, AuditQuery } from "./schemas.ts";

export function auditRoutes(router: Router): void {
  route(router, {
    method: "get", path: "/v1/audit", tag: "audit", permission: "admin", query: AuditQuery,
    summary: "The audit trail, newest first",
    description: "One entry per change made through the API, the web UI or the CLI (create, update, delete, run, restore, cancel...), " +
      "per sign-in (a token made with a password: the web UI and `shield login` do that) and per failed sign-in. " +
      "Filters: ?user= (name or uuid), ?type=, ?object= (uuid; an auth provider's or agent's name), ?action=, " +
      "?since= and ?until= (UTC `YYYY-MM-DD HH:MM:SS`, ISO 8601 with a zone, or a day `YYYY-MM-DD`: the whole day; both included). " +
      "?limit= (default 100, at most 1000) and ?offset= to page. Entries older than --audit-retention are removed.",
    response: v.array(AuditJson),
  }, auditListHandler(router.core));
}
