// "Test connection" (core/connections.ts): a saved target's or store's, or an
// endpoint being filled in. A failing test is an answer (ok: false, with the
// plugin's lines), not an error: only a missing or unfit plugin is a 400.
import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { Endpoint, PluginName, TestResultJson, UuidParam } from "./schemas.ts";
import { formatTime } from "./json.ts";
import type { TestResult } from "../core/connections.ts";

export { TestResultJson };
const UnsavedTarget = v.strictObject({ plugin: PluginName, endpoint: Endpoint, agent: v.optional(v.nullable(v.string())) });
const UnsavedStore = v.strictObject({ plugin: PluginName, endpoint: Endpoint });

export const testResultJson = (r: TestResult) => ({ ok: r.ok, lines: r.lines, tested_at: formatTime(r.at) });

export function connectionRoutes(router: Router): void {
  const { connections } = router.core;
  const about = "Runs the plugin's `test` action (a live check: can connect; a store can write and delete). A failed test answers 200 with ok: false and the plugin's lines.";
  for (const role of ["target", "store"] as const) {
    const tag = `${role}s`;
    route(router, {
      audit: { none: "a connection test changes nothing (its result is kept in memory only)" },
      method: "post", operationId: `test${role === "target" ? "Target" : "Store"}`, path: `/v1/${role}/:uuid/test`, tag, permission: "operate", params: UuidParam,
      summary: `Test a ${role}'s connection`, description: `${about} The result is kept (in memory) and shown as the ${role}'s last_test.`,
      response: TestResultJson, errors: [404],
    }, async ({ params }) => testResultJson(await connections.saved(role, params.uuid)));
    route(router, {
      audit: { none: "nothing is saved" },
      method: "post", operationId: `testUnsaved${role === "target" ? "Target" : "Store"}`, path: `/v1/${role}s/test`, tag, permission: "operate", body: role === "target" ? UnsavedTarget : UnsavedStore,
    example: role === "target" ? { plugin: "postgres", endpoint: { pg_host: "db1.example.com", pg_user: "backup", pg_password: "s3cret", pg_database: "orders" } } : { plugin: "fs", endpoint: { base_dir: "/srv/backups" } },
      summary: `Test an unsaved ${role}'s connection`, description: `${about} Nothing is saved.`,
      response: TestResultJson,
    }, async ({ body }) => testResultJson(await connections.unsaved(role, body as { plugin: string; endpoint: string; agent?: string | null })));
  }
}
